/** The in-memory backend: a CallRegistry and a LocationStore for one process. */
export { memoryCallRegistry } from './memory-calls.js';
export type { MemoryCallRegistry, MemoryCallRegistrySizes } from './memory-calls.js';
export { memoryLocationStore } from './memory-locations.js';
export type { MemoryLocationSizes, MemoryLocationStore } from './memory-locations.js';
