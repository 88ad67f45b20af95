// The in-process Kubernetes API server: public entry.
export { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export type { ApiStore, ApiStoreEvent, ResourceSpec, SelectorOptions } from './store-api.js';
export type { KubeObject, ObjectMeta, OwnerReference, ResourceRef } from './types.js';
export type { DeleteOptions, PropagationPolicy } from './deletion.js';
export { ApiError, type StatusBody, type StatusCause } from './errors.js';
