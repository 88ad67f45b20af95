/**
 * The operator's real clock. The Clock interface is the pbx's (a type: no pbx code runs in the operator);
 * tests pass the pbx's fakeClock, which satisfies the same interface.
 */
import type { Clock, TimerHandle } from '../../../pbx/core/clock.js';

/** Wall time from `performance.now()`, timers from Node (unref'd: they never keep the operator alive). */
export function operatorClock(): Clock {
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 1;
  return {
    now: () => performance.now(),
    setTimer(ms: number, fn: () => void): TimerHandle {
      const id = next++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, ms);
      t.unref();
      timers.set(id, t);
      return { id };
    },
    clearTimer(handle: TimerHandle): void {
      clearTimeout(timers.get(handle.id));
      timers.delete(handle.id);
    },
  };
}
