import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../core/clock.js';

/** How the event loop did since the previous reading. */
export interface LoopReading {
  /** How late the probe's timer ran, in ms, averaged over time (a 2 s stall in a 2 s window reads ~2000). */
  readonly delayMs: number;
  /** Fraction of the time the loop was busy rather than waiting for I/O, 0..1 (event-loop utilization). */
  readonly utilization: number;
}

/** A source of event-loop readings; each `read()` covers the time since the previous one. */
export interface LoopProbe {
  /** The reading since the last call; undefined when the probe's timer has not run since (or it is closed). */
  read(): LoopReading | undefined;
  /** Stops the probe's timer (idempotent). */
  close(): void;
}

/** Options of createEventLoopProbe. */
export interface EventLoopProbeOptions {
  /** Timers and time; the system clock's timers are unref'd, so the probe never keeps the process alive. */
  readonly clock: Clock;
  /** Period of the lag timer, in ms; default 10. */
  readonly intervalMs?: number;
}

/**
 * The production probe: a timer-lag sampler (a timer every intervalMs notes how late it ran) plus
 * `performance.eventLoopUtilization()` (time spent outside the I/O poll). Each lag is weighted by the time it
 * covers, so the reading is "how late was the loop, on average, over the window" and a stall counts for as long as
 * it lasted. (`monitorEventLoopDelay` is not used: its reset() forgets the interval in progress, which is the one a
 * reading taken inside a long callback would need.) Created and closed by the wiring (app.ts), never at module load.
 */
export function createEventLoopProbe(options: EventLoopProbeOptions): LoopProbe {
  const { clock } = options;
  const intervalMs = options.intervalMs ?? 10;
  let previousUtilization: EventLoopUtilization = performance.eventLoopUtilization();
  let lagTime = 0; // sum of lag x covered time, ms^2
  let coveredTime = 0; // ms
  let lastTick = clock.now();
  let timer: TimerHandle | undefined;

  const tick = (): void => {
    const now = clock.now();
    const covered = now - lastTick;
    const lag = Math.max(0, covered - intervalMs);
    lagTime += lag * covered;
    coveredTime += covered;
    lastTick = now;
    timer = clock.setTimer(intervalMs, tick);
  };
  timer = clock.setTimer(intervalMs, tick);

  return {
    read() {
      if (timer === undefined || coveredTime === 0) return undefined;
      const current = performance.eventLoopUtilization();
      const { utilization } = performance.eventLoopUtilization(current, previousUtilization);
      previousUtilization = current;
      const delayMs = lagTime / coveredTime;
      lagTime = 0;
      coveredTime = 0;
      return { delayMs, utilization };
    },
    close() {
      if (timer === undefined) return;
      clock.clearTimer(timer);
      timer = undefined;
    },
  };
}
