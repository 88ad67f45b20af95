/** Options and defaults common to both backends. */
import type { Clock } from '../core/clock.js';
import { wallClock } from './clock.js';

/** Seconds a call entry lives without `refresh` (how long a crashed pod's calls linger). */
export const DEFAULT_CALL_TTL_SECONDS = 3600;
/** Seconds a pod heartbeat lives without being written again. */
export const DEFAULT_POD_TTL_SECONDS = 30;
/** Milliseconds between sweeps of expired entries. */
export const DEFAULT_SWEEP_INTERVAL_MS = 30_000;

/** Timing options shared by the memory and Redis implementations. */
export interface StoreOptions {
  /** Time source; `now()` must be epoch milliseconds when pods share Redis. Default: `wallClock()`. */
  readonly clock?: Clock;
  /** Call entry TTL in seconds (default 3600). */
  readonly ttlSeconds?: number;
  /** Pod heartbeat TTL in seconds (default 30). */
  readonly podTtlSeconds?: number;
  /** Interval of the expiry sweep in milliseconds (default 30 000); 0 disables the timer. */
  readonly sweepIntervalMs?: number;
}

/** StoreOptions with every default applied. */
export interface ResolvedStoreOptions {
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly podTtlMs: number;
  readonly sweepIntervalMs: number;
}

/** Applies the defaults. */
export function resolveStoreOptions(options: StoreOptions = {}): ResolvedStoreOptions {
  return {
    clock: options.clock ?? wallClock(),
    ttlMs: (options.ttlSeconds ?? DEFAULT_CALL_TTL_SECONDS) * 1000,
    podTtlMs: (options.podTtlSeconds ?? DEFAULT_POD_TTL_SECONDS) * 1000,
    sweepIntervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS,
  };
}

/** Runs `sweep` every `intervalMs` on `clock` until the returned stop function is called. */
export function startSweeper(clock: Clock, intervalMs: number, sweep: () => Promise<unknown>): () => void {
  if (intervalMs <= 0) return () => undefined;
  let handle = clock.setTimer(intervalMs, tick);
  let stopped = false;
  function tick(): void {
    // A failed sweep (Redis down) is counted by the store's error hook; the next tick tries again.
    sweep().catch(() => undefined);
    if (!stopped) handle = clock.setTimer(intervalMs, tick);
  }
  return () => {
    stopped = true;
    clock.clearTimer(handle);
  };
}
