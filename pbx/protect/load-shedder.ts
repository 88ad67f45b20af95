import type { Clock } from '../core/clock.js';
import { ProtectConfigError } from './errors.js';
import type { LoopProbe, LoopReading } from './event-loop-probe.js';

/** Which load signal is the nearer to (or further over) its limit. */
export type LoadSignal = 'event-loop-delay' | 'event-loop-utilization';

/** `admitting`: every new call is admitted; `shedding`: only the accept ratio of them. */
export type ShedderState = 'admitting' | 'shedding';

/** Options of createLoadShedder. */
export interface LoadShedderOptions {
  readonly clock: Clock;
  readonly probe: LoopProbe;
  /** High-water mark of the smoothed event-loop delay, in ms (`limits.overload.maxEventLoopDelayMs`). */
  readonly maxEventLoopDelayMs: number;
  /** High-water mark of the smoothed event-loop utilization, 0..1 (`limits.overload.maxEventLoopUtilization`). */
  readonly maxEventLoopUtilization: number;
  /** The probe is read at most once per this many ms (lazily, by admit/snapshot: no timer); default 100. */
  readonly sampleIntervalMs?: number;
  /** Time constant of the exponential smoothing of both signals, in ms; default 500. */
  readonly smoothingMs?: number;
  /** Low-water mark as a fraction of each high-water mark: the accept ratio grows back only below it; default 0.8. */
  readonly resumeRatio?: number;
  /** The accept ratio never falls below this, so some new calls always get through; default 0.01. */
  readonly minAcceptRatio?: number;
  /** Largest multiplier applied to the accept ratio per sample over the high-water mark; default 0.9. */
  readonly decreaseFactor?: number;
  /** Below the low-water mark the accept ratio grows by 1 per this many ms (0 -> 1 in that time); default 1000. */
  readonly recoveryMs?: number;
}

/** The shedder's view of the load, for metrics and readiness. */
export interface LoadSnapshot {
  readonly state: ShedderState;
  /** Fraction of new calls admitted, (0, 1]. */
  readonly acceptRatio: number;
  /** Smoothed event-loop delay, ms. */
  readonly eventLoopDelayMs: number;
  /** Smoothed event-loop utilization, 0..1. */
  readonly eventLoopUtilization: number;
  /** The signal with the higher pressure at the last sample: the reason of a refusal. */
  readonly signal: LoadSignal;
}

/**
 * Loss-based overload control for new calls (the "loss" scheme of RFC 7339, applied locally): the pbx measures
 * its own event loop and admits a fraction of new INVITEs that shrinks while it is over its high-water mark.
 */
export interface LoadShedder {
  /** Decides one new call. O(1), allocation-free; reads the probe at most once per sample interval. */
  admit(): boolean;
  /** The current state (samples first if due). */
  snapshot(): LoadSnapshot;
  /** The signal of the last sample, without sampling: the reason to give a refusal admit() just made. */
  signal(): LoadSignal;
}

/** Tolerance of the float comparisons of the ratio and the admission credit. */
const EPSILON = 1e-9;

/** Throws ProtectConfigError unless `value` is finite and in (min, max] (or [min, max] when `closedMin`). */
function requireIn(name: string, value: number, min: number, max: number, closedMin = false): void {
  const aboveMin = closedMin ? value >= min : value > min;
  if (!Number.isFinite(value) || !aboveMin || value > max) {
    const range = `${closedMin ? '[' : '('}${min}, ${max}]`;
    throw new ProtectConfigError(`load shedder: ${name} must be in ${range} (got ${value})`);
  }
}

/** Validated options with defaults filled in. */
interface Params {
  readonly maxDelayMs: number;
  readonly maxUtilization: number;
  readonly intervalMs: number;
  readonly smoothingMs: number;
  readonly resumeRatio: number;
  readonly minAccept: number;
  readonly decrease: number;
  readonly recoveryMs: number;
}

function params(o: LoadShedderOptions): Params {
  const p: Params = {
    maxDelayMs: o.maxEventLoopDelayMs,
    maxUtilization: o.maxEventLoopUtilization,
    intervalMs: o.sampleIntervalMs ?? 100,
    smoothingMs: o.smoothingMs ?? 500,
    resumeRatio: o.resumeRatio ?? 0.8,
    minAccept: o.minAcceptRatio ?? 0.01,
    decrease: o.decreaseFactor ?? 0.9,
    recoveryMs: o.recoveryMs ?? 1000,
  };
  requireIn('maxEventLoopDelayMs', p.maxDelayMs, 0, Number.MAX_VALUE);
  requireIn('maxEventLoopUtilization', p.maxUtilization, 0, 1);
  requireIn('sampleIntervalMs', p.intervalMs, 0, Number.MAX_VALUE, true);
  requireIn('smoothingMs', p.smoothingMs, 0, Number.MAX_VALUE);
  requireIn('resumeRatio', p.resumeRatio, 0, 1);
  requireIn('minAcceptRatio', p.minAccept, 0, 1);
  requireIn('decreaseFactor', p.decrease, 0, 1);
  requireIn('recoveryMs', p.recoveryMs, 0, Number.MAX_VALUE);
  return p;
}

/**
 * Creates a load shedder. The first reading only starts the clock (it covers start-up). Then per sample (at most
 * every sampleIntervalMs, elapsed time dt):
 * 1. both readings are smoothed, EWMA with weight 1 - e^(-dt/smoothingMs), starting from 0 (so one busy
 *    window at start-up does not shed);
 * 2. pressure = the larger of delay / maxEventLoopDelayMs and utilization / maxEventLoopUtilization (0 when
 *    maxEventLoopUtilization is 1: that signal is off);
 * 3. over 1 (high-water): acceptRatio *= min(decreaseFactor, 1 / pressure), floored at minAcceptRatio —
 *    multiplicative decrease, faster the further over;
 *    under resumeRatio (low-water): acceptRatio += dt / recoveryMs, up to 1 — additive increase;
 *    in between: unchanged (hysteresis: a load that hovers at the mark does not flap the ratio).
 * Admission is deterministic: a credit grows by acceptRatio per new call and a call is admitted when the credit
 * reaches 1, so a ratio of 0.25 admits exactly every fourth call (no Math.random, no bursts).
 */
export function createLoadShedder(options: LoadShedderOptions): LoadShedder {
  const p = params(options);
  const { clock, probe } = options;
  let sampledAt = clock.now();
  let delayMs = 0;
  let utilization = 0;
  let acceptRatio = 1;
  let signal: LoadSignal = 'event-loop-utilization';
  let credit = 0;
  let warm = false;

  const update = (reading: LoopReading, dt: number): void => {
    const weight = 1 - Math.exp(-dt / p.smoothingMs);
    delayMs += weight * (reading.delayMs - delayMs);
    utilization += weight * (reading.utilization - utilization);
    const delayPressure = delayMs / p.maxDelayMs;
    // A mark of 1 turns the signal off: a fully busy loop is then no pressure (not 1, which would hold a
    // shed ratio in the hysteresis band for as long as the loop stays busy).
    const utilizationPressure = p.maxUtilization >= 1 ? 0 : utilization / p.maxUtilization;
    signal = delayPressure >= utilizationPressure ? 'event-loop-delay' : 'event-loop-utilization';
    const pressure = Math.max(delayPressure, utilizationPressure);
    if (pressure > 1) {
      acceptRatio = Math.max(p.minAccept, acceptRatio * Math.min(p.decrease, 1 / pressure));
    } else if (pressure < p.resumeRatio) {
      acceptRatio = Math.min(1, acceptRatio + dt / p.recoveryMs);
    }
    // Snap float residue (0.5 + 5 x 0.1 is 0.9999999999999999) so the ratio does return to exactly 1.
    if (acceptRatio > 1 - EPSILON) {
      acceptRatio = 1;
      credit = 0;
    }
  };

  const sample = (): void => {
    const now = clock.now();
    const dt = now - sampledAt;
    if (dt < p.intervalMs) return;
    // No reading: the probe's timer has not fired since the last one (a stalled turn). Try again next call.
    const reading = probe.read();
    if (reading === undefined) return;
    sampledAt = now;
    // The first reading covers the time since creation (start-up: binding, JIT), which is not call load.
    if (warm) update(reading, dt);
    warm = true;
  };

  return {
    admit() {
      sample();
      if (acceptRatio >= 1) return true;
      credit += acceptRatio;
      if (credit < 1 - EPSILON) return false;
      credit -= 1;
      return true;
    },
    snapshot() {
      sample();
      return {
        state: acceptRatio < 1 ? 'shedding' : 'admitting',
        acceptRatio,
        eventLoopDelayMs: delayMs,
        eventLoopUtilization: utilization,
        signal,
      };
    },
    signal: () => signal,
  };
}
