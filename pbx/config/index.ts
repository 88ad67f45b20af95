// pbx/config: the configuration schema, YAML + environment loading, defaults and redaction.
export { loadConfig, parseConfig } from './load.js';
export type { LoadConfigOptions } from './load.js';
export {
  defaultConfig,
  pbxConfigSchema,
  PORTS_PER_CALL,
  CALL_EVENT_TYPES,
  DEFAULT_SCANNER_USER_AGENTS,
} from './schema.js';
export type { PbxConfig } from './schema.js';
export { envVarName, envKeys, CONFIG_FILE_ENV } from './env.js';
export { PORT_PLAN_ENV, readPortPlan } from './port-plan.js';
export type { EnvKey, EnvKind } from './env.js';
export { ConfigError, formatIssue } from './errors.js';
export type { ConfigIssue } from './errors.js';
export { redactConfig, REDACTED } from './redact.js';
