/** The log subscriber: one structured line per call event, carrying the call id. */
import type { Logger } from '../core/logger.js';
import type { EventSubscriber } from './bus.js';

/** A subscriber that logs each event at info level with `msg` = the event type. */
export function eventLogger(logger: Logger): EventSubscriber {
  return (event) => logger.info({ callId: event.callId, event }, event.type);
}
