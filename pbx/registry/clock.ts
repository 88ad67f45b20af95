/** The registry's default clock: wall time, because expiry instants are shared between pods through Redis. */
import { systemClock } from '../core/clock.js';
import type { Clock } from '../core/clock.js';

/** A Clock whose `now()` is `Date.now()` (epoch ms) and whose timers are the system's unref'd timers. */
export function wallClock(): Clock {
  const timers = systemClock();
  return {
    now: () => Date.now(),
    setTimer: (ms, fn) => timers.setTimer(ms, fn),
    clearTimer: (handle) => timers.clearTimer(handle),
  };
}
