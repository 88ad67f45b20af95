import type { Clock } from '../core/clock.js';
import { ProtectConfigError } from './errors.js';

/** Why the overload guard refused a new call. */
export type OverloadReason = 'max-calls' | 'memory';

/** The guard's answer for one new call. */
export type Admission =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: OverloadReason; readonly retryAfterSeconds: number };

/** Options of createOverloadGuard. */
export interface OverloadGuardOptions {
  /** New calls are refused while this many are active (`media.maxCalls`). */
  readonly maxCalls: number;
  /** New calls are refused while memory use is above this many MiB (`limits.maxMemoryMb`); null: no memory guard. */
  readonly maxMemoryMb: number | null;
  /** Memory in use, in bytes; default the process RSS (what the kernel OOM killer and the cgroup limit see). */
  readonly memoryUsage?: () => number;
  /** Time source for the sampling interval. */
  readonly clock: Clock;
  /** Memory is read at most once per this many milliseconds; default 1000. */
  readonly sampleIntervalMs?: number;
  /** After a memory refusal, calls are admitted again only below this fraction of the limit; default 0.95. */
  readonly resumeRatio?: number;
  /** Retry-After of a `max-calls` refusal; default 5 s (slots free up as calls end). */
  readonly maxCallsRetryAfterSeconds?: number;
  /** Retry-After of a `memory` refusal; default 10 s (memory comes back more slowly than call slots). */
  readonly memoryRetryAfterSeconds?: number;
}

/** Refuses new calls at the call limit or under memory pressure; existing calls are never affected (NFR8). */
export interface OverloadGuard {
  /** Decides on one new call, given the number of calls active now. Cheap: memory is sampled on an interval. */
  admit(activeCalls: number): Admission;
}

const MIB = 1024 * 1024;

/** Throws ProtectConfigError unless `value` is finite and in [min, max]. */
function requireRange(name: string, value: number, min: number, max = Number.MAX_VALUE): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ProtectConfigError(`overload guard: ${name} must be in [${min}, ${max}] (got ${value})`);
  }
}

/** Throws ProtectConfigError unless `value` is finite and above 0 (and at most `max`). */
function requirePositive(name: string, value: number, max = Number.MAX_VALUE): void {
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw new ProtectConfigError(`overload guard: ${name} must be in (0, ${max}] (got ${value})`);
  }
}

/** Tracks memory pressure with hysteresis: on above the limit, off again only below resumeRatio of it. */
function memoryPressure(options: OverloadGuardOptions, limitMb: number): () => boolean {
  const { clock } = options;
  const readMemory = options.memoryUsage ?? (() => process.memoryUsage.rss());
  const intervalMs = options.sampleIntervalMs ?? 1000;
  const resumeRatio = options.resumeRatio ?? 0.95;
  requireRange('sampleIntervalMs', intervalMs, 0);
  requirePositive('resumeRatio', resumeRatio, 1);
  const limitBytes = limitMb * MIB;
  let sampledAt = Number.NEGATIVE_INFINITY;
  let pressure = false;
  return () => {
    const now = clock.now();
    if (now - sampledAt < intervalMs) return pressure;
    sampledAt = now;
    const used = readMemory();
    pressure = pressure ? used >= limitBytes * resumeRatio : used > limitBytes;
    return pressure;
  };
}

/**
 * Creates the overload guard. The call limit is checked first (free), then memory; the memory reading is cached
 * for sampleIntervalMs so a burst of INVITEs costs one syscall per interval. Answers are preallocated.
 */
export function createOverloadGuard(options: OverloadGuardOptions): OverloadGuard {
  const { maxCalls, maxMemoryMb } = options;
  requireRange('maxCalls', maxCalls, 1);
  if (maxMemoryMb !== null) requirePositive('maxMemoryMb', maxMemoryMb);
  const callsRetry = options.maxCallsRetryAfterSeconds ?? 5;
  const memoryRetry = options.memoryRetryAfterSeconds ?? 10;
  requireRange('maxCallsRetryAfterSeconds', callsRetry, 0);
  requireRange('memoryRetryAfterSeconds', memoryRetry, 0);
  const accepted: Admission = Object.freeze({ ok: true });
  const atMaxCalls: Admission = Object.freeze({
    ok: false,
    reason: 'max-calls',
    retryAfterSeconds: callsRetry,
  });
  const underPressure: Admission = Object.freeze({
    ok: false,
    reason: 'memory',
    retryAfterSeconds: memoryRetry,
  });
  const pressure = maxMemoryMb === null ? () => false : memoryPressure(options, maxMemoryMb);
  return {
    admit(activeCalls) {
      if (activeCalls >= maxCalls) return atMaxCalls;
      return pressure() ? underPressure : accepted;
    },
  };
}
