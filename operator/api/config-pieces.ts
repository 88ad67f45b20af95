// Pieces of the pbx config schema that a SipPbx may override (the operator imports contract types only).
import { pbxConfigSchema } from '../../pbx/config/schema.js';

const shape = pbxConfigSchema.shape;

/** One static route of the pbx (`routing.routes[]`): `{ match, target }`. */
export const routeSchema = shape.routing.unwrap().shape.routes.unwrap().element;

/** One webhook of the pbx (`events.webhooks[]`), with the pbx's own defaults. */
export const webhookSchema = shape.events.unwrap().shape.webhooks.unwrap().element;

/** The pbx `limits` section, every key defaulted as in the pbx. */
export const limitsSchema = shape.limits.unwrap();

/** The pbx log levels (`logging.level`). */
export const logLevelSchema = shape.logging.unwrap().shape.level.unwrap();

/** Ports per call block: the only size the pbx media pool supports. */
export { PORTS_PER_CALL } from '../../pbx/config/schema.js';
