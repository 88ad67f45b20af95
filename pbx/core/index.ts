export { PbxError } from './errors.js';
export { systemClock, fakeClock } from './clock.js';
export type { Clock, FakeClock, TimerHandle } from './clock.js';
export { randomIds, sequentialIds } from './ids.js';
export type { IdSource } from './ids.js';
