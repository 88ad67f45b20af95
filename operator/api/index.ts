// operator/api: the SipPbx custom resource types (zod), shared by the CRD test, the reconciler and tests.
export * from './constants.js';
export * from './spec.js';
export * from './status.js';
export * from './sippbx.js';
export * from './conditions.js';
export { RULE_MESSAGES, HTTP_PORT, METRICS_PORT, checkSpec, checkSpecChange } from './rules.js';
export type { SpecIssue, RuleInput } from './rules.js';
export { PORTS_PER_CALL, routeSchema, webhookSchema, limitsSchema, logLevelSchema } from './config-pieces.js';
export {
  quantitySchema,
  resourcesSchema,
  tolerationSchema,
  affinitySchema,
  stringMapSchema,
  PULL_POLICIES,
} from './pod-template.js';
