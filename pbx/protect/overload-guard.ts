import type { Clock } from '../core/clock.js';
import { ProtectConfigError } from './errors.js';
import type { LoadShedder, LoadSignal, LoadSnapshot } from './load-shedder.js';

/** Every reason the overload guard refuses a new call (the `reason` values of `sippbx_overload_rejected_total`). */
export const OVERLOAD_REASONS = [
  'max-calls',
  'memory',
  'calls-in-setup',
  'event-loop-delay',
  'event-loop-utilization',
] as const;

/** Why the overload guard refused a new call. */
export type OverloadReason = (typeof OVERLOAD_REASONS)[number];

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
  /** Sheds a fraction of new calls on event-loop delay and utilization (`limits.overload`); absent: no shedding. */
  readonly shedder?: LoadShedder;
  /** Caps calls admitted but not yet answered or failed (`limits.overload.maxCallsInSetup`); absent: no cap. */
  readonly callsInSetup?: CallsInSetupLimit;
  /** Retry-After of a load (event loop) or calls-in-setup refusal; default 2 s (`limits.overload.retryAfterSeconds`). */
  readonly overloadRetryAfterSeconds?: number;
}

/** The calls-in-setup cap: the limit and where to count. */
export interface CallsInSetupLimit {
  readonly max: number;
  /** Calls admitted and not yet answered or ended (O(calls): read at most once per sampleIntervalMs). */
  readonly count: () => number;
  /** The count is re-read at most once per this many ms; admissions in between are added to it; default 100. */
  readonly sampleIntervalMs?: number;
}

/** What the guard would do with a new call now, for readiness and metrics. */
export interface OverloadStatus {
  /** Null while every new call would be admitted; else why (some or all) are refused. */
  readonly reason: OverloadReason | null;
  /** Fraction of new calls the load shedder admits (1 without one). */
  readonly acceptRatio: number;
  /** The shedder's smoothed event-loop delay, ms (0 without one). */
  readonly eventLoopDelayMs: number;
  /** The shedder's smoothed event-loop utilization, 0..1 (0 without one). */
  readonly eventLoopUtilization: number;
}

/**
 * Refuses new calls at the call limit, under memory pressure, with too many calls in setup, or while the event loop
 * is overloaded; existing calls are never affected (NFR8).
 */
export interface OverloadGuard {
  /** Decides on one new call, given the number of calls active now. Cheap: every signal is sampled on an interval. */
  admit(activeCalls: number): Admission;
  /** The guard's state now (for `/health/ready` and the overload gauges); samples if due. */
  status(activeCalls: number): OverloadStatus;
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

/** The reason of the first check that refuses, in admit() order; null when none does. */
function firstReason(
  atMaxCalls: boolean,
  memory: boolean,
  setupFull: boolean,
  load: LoadSnapshot | undefined,
): OverloadReason | null {
  if (atMaxCalls) return 'max-calls';
  if (memory) return 'memory';
  if (setupFull) return 'calls-in-setup';
  return load?.state === 'shedding' ? load.signal : null;
}

/** Tracks calls in setup: a count re-read on an interval, plus the calls admitted since (an upper bound). */
function setupCounter(limit: CallsInSetupLimit, clock: Clock): { full(): boolean; admitted(): void } {
  const intervalMs = limit.sampleIntervalMs ?? 100;
  requireRange('maxCallsInSetup', limit.max, 1);
  requireRange('callsInSetup.sampleIntervalMs', intervalMs, 0);
  let sampledAt = Number.NEGATIVE_INFINITY;
  let counted = 0;
  let since = 0;
  return {
    full() {
      const now = clock.now();
      if (now - sampledAt >= intervalMs) {
        sampledAt = now;
        counted = limit.count();
        since = 0;
      }
      return counted + since >= limit.max;
    },
    admitted() {
      since += 1;
    },
  };
}

/**
 * Creates the overload guard. Checks run cheapest first: the call limit (free), memory (cached for
 * sampleIntervalMs, so a burst of INVITEs costs one syscall per interval), calls in setup, then the load shedder.
 * Answers are preallocated; admit() allocates nothing.
 */
export function createOverloadGuard(options: OverloadGuardOptions): OverloadGuard {
  const { maxCalls, maxMemoryMb, clock, shedder } = options;
  requireRange('maxCalls', maxCalls, 1);
  if (maxMemoryMb !== null) requirePositive('maxMemoryMb', maxMemoryMb);
  const callsRetry = options.maxCallsRetryAfterSeconds ?? 5;
  const memoryRetry = options.memoryRetryAfterSeconds ?? 10;
  const overloadRetry = options.overloadRetryAfterSeconds ?? 2;
  requireRange('maxCallsRetryAfterSeconds', callsRetry, 0);
  requireRange('memoryRetryAfterSeconds', memoryRetry, 0);
  requireRange('overloadRetryAfterSeconds', overloadRetry, 0);
  const accepted: Admission = Object.freeze({ ok: true });
  const refusal = (reason: OverloadReason, retryAfterSeconds: number): Admission =>
    Object.freeze({ ok: false, reason, retryAfterSeconds });
  const atMaxCalls = refusal('max-calls', callsRetry);
  const underPressure = refusal('memory', memoryRetry);
  const setupFull = refusal('calls-in-setup', overloadRetry);
  const shed: Readonly<Record<LoadSignal, Admission>> = {
    'event-loop-delay': refusal('event-loop-delay', overloadRetry),
    'event-loop-utilization': refusal('event-loop-utilization', overloadRetry),
  };
  const pressure = maxMemoryMb === null ? () => false : memoryPressure(options, maxMemoryMb);
  const setup = options.callsInSetup === undefined ? undefined : setupCounter(options.callsInSetup, clock);
  return {
    admit(activeCalls) {
      if (activeCalls >= maxCalls) return atMaxCalls;
      if (pressure()) return underPressure;
      if (setup?.full() === true) return setupFull;
      if (shedder !== undefined && !shedder.admit()) return shed[shedder.signal()];
      setup?.admitted();
      return accepted;
    },
    status(activeCalls) {
      const load = shedder?.snapshot();
      return {
        reason: firstReason(activeCalls >= maxCalls, pressure(), setup?.full() === true, load),
        acceptRatio: load?.acceptRatio ?? 1,
        eventLoopDelayMs: load?.eventLoopDelayMs ?? 0,
        eventLoopUtilization: load?.eventLoopUtilization ?? 0,
      };
    },
  };
}
