/** Media port pool: aligned per-call port blocks with quarantine for ports taken by other processes. */
export { createPortPool } from './pool.js';
export { PortPoolExhausted, ForeignPortBlock, PortPoolConfigError } from './errors.js';
export type { ExhaustionLimit } from './errors.js';
export type { PortBlock, PortPool, PortPoolOptions, CanBind } from './types.js';
