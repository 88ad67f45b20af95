/** Opaque handle of a timer set through a Clock. */
export type TimerHandle = { readonly id: number };

/** Time source injected into every module with timers, so tests can run them in virtual time. */
export interface Clock {
  /** Milliseconds since an arbitrary, monotonic origin. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Cancels a timer; a handle already fired or cleared is ignored. */
  clearTimer(handle: TimerHandle): void;
}

/** The real clock: `performance.now()` and Node timers (unref'd, so they never keep the process alive). */
export function systemClock(): Clock {
  let next = 1;
  const timers = new Map<number, NodeJS.Timeout>();
  return {
    now: () => performance.now(),
    setTimer(ms, fn) {
      const id = next++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, ms);
      t.unref();
      timers.set(id, t);
      return { id };
    },
    clearTimer(handle) {
      const t = timers.get(handle.id);
      if (t !== undefined) {
        clearTimeout(t);
        timers.delete(handle.id);
      }
    },
  };
}

/** A Clock that only moves when a test calls `advance`; timers fire in due order, ties in set order. */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void;
  /** Number of timers set and not yet fired or cleared. */
  pending(): number;
}

/** Creates a FakeClock starting at `start` milliseconds. */
export function fakeClock(start = 0): FakeClock {
  let now = start;
  let next = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const due = (): [number, { at: number; fn: () => void }] | undefined => {
    let best: [number, { at: number; fn: () => void }] | undefined;
    for (const entry of timers) {
      if (entry[1].at <= now && (best === undefined || entry[1].at < best[1].at)) best = entry;
    }
    return best;
  };
  return {
    now: () => now,
    setTimer(ms, fn) {
      const id = next++;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return { id };
    },
    clearTimer(handle) {
      timers.delete(handle.id);
    },
    advance(ms) {
      const target = now + ms;
      for (;;) {
        let earliest: number | undefined;
        for (const t of timers.values()) if (earliest === undefined || t.at < earliest) earliest = t.at;
        if (earliest === undefined || earliest > target) break;
        now = Math.max(now, earliest);
        let entry = due();
        while (entry !== undefined) {
          timers.delete(entry[0]);
          entry[1].fn();
          entry = due();
        }
      }
      now = target;
    },
    pending: () => timers.size,
  };
}
