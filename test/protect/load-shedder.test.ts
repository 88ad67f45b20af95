import { describe, expect, it } from 'vitest';
import { fakeClock, systemClock } from '../../pbx/core/clock.js';
import { createEventLoopProbe, createLoadShedder, ProtectConfigError } from '../../pbx/protect/index.js';
import type { LoadShedderOptions, LoopProbe, LoopReading } from '../../pbx/protect/index.js';

/** A probe that returns what the test set, and counts reads. */
function scriptedProbe(): LoopProbe & { next: LoopReading | undefined; reads: number } {
  const probe = {
    next: { delayMs: 0, utilization: 0 } as LoopReading | undefined,
    reads: 0,
    read() {
      probe.reads++;
      return probe.next;
    },
    close() {},
  };
  return probe;
}

const MAX_DELAY = 100;
const MAX_UTIL = 0.9;

/** A shedder on a fake clock; smoothing off unless asked (the EWMA weight is then 1). */
function setup(overrides: Partial<LoadShedderOptions> = {}) {
  const clock = fakeClock();
  const probe = scriptedProbe();
  const shedder = createLoadShedder({
    clock,
    probe,
    maxEventLoopDelayMs: MAX_DELAY,
    maxEventLoopUtilization: MAX_UTIL,
    smoothingMs: 1e-9,
    ...overrides,
  });
  // The first reading (start-up) is discarded: take it now.
  clock.advance(100);
  shedder.snapshot();
  probe.reads = 0;
  /** One sample interval (100 ms) with this reading, then the snapshot. */
  const step = (reading: LoopReading) => {
    probe.next = reading;
    clock.advance(100);
    return shedder.snapshot();
  };
  return { clock, probe, shedder, step };
}

describe('createLoadShedder: one sample against the high-water marks', () => {
  it.each([
    {
      name: 'idle',
      delayMs: 0,
      utilization: 0.05,
      ratio: 1,
      state: 'admitting',
      signal: 'event-loop-utilization',
    },
    {
      name: 'moderate',
      delayMs: 20,
      utilization: 0.6,
      ratio: 1,
      state: 'admitting',
      signal: 'event-loop-utilization',
    },
    {
      name: 'at both marks',
      delayMs: 100,
      utilization: 0.9,
      ratio: 1,
      state: 'admitting',
      signal: 'event-loop-delay',
    },
    // Over: ratio *= min(0.9, 1 / pressure).
    {
      name: 'utilization 0.99',
      delayMs: 10,
      utilization: 0.99,
      ratio: 0.9,
      state: 'shedding',
      signal: 'event-loop-utilization',
    },
    {
      name: 'delay 150 ms',
      delayMs: 150,
      utilization: 0.5,
      ratio: 1 / 1.5,
      state: 'shedding',
      signal: 'event-loop-delay',
    },
    {
      name: 'delay 1 s',
      delayMs: 1000,
      utilization: 0.1,
      ratio: 0.1,
      state: 'shedding',
      signal: 'event-loop-delay',
    },
    {
      name: 'delay 100 s (floor)',
      delayMs: 100_000,
      utilization: 0,
      ratio: 0.01,
      state: 'shedding',
      signal: 'event-loop-delay',
    },
  ] as const)('$name -> accept ratio $ratio, $state', ({ delayMs, utilization, ratio, state, signal }) => {
    const { step } = setup();
    const snap = step({ delayMs, utilization });
    expect(snap.acceptRatio).toBeCloseTo(ratio, 9);
    expect(snap.state).toBe(state);
    expect(snap.signal).toBe(signal);
    expect(snap.eventLoopDelayMs).toBeCloseTo(delayMs, 6);
    expect(snap.eventLoopUtilization).toBeCloseTo(utilization, 6);
  });
});

describe('createLoadShedder: ramp and hysteresis', () => {
  it('sheds a growing fraction while over the high-water mark, down to the floor', () => {
    const { step } = setup();
    const ratios = Array.from({ length: 12 }, () => step({ delayMs: 150, utilization: 0 }).acceptRatio);
    ratios.forEach((r, i) => expect(r).toBeCloseTo(Math.max(0.01, (1 / 1.5) ** (i + 1)), 9));
    expect(ratios.at(-1)).toBe(0.01);
  });

  it('holds the ratio between the low- and high-water marks, and grows it back by 0.1 per 100 ms below', () => {
    const { step } = setup();
    expect(step({ delayMs: 200, utilization: 0 }).acceptRatio).toBeCloseTo(0.5, 9);
    // In the band [0.8, 1] x the marks: no change, however long it lasts (no flapping at the mark).
    for (let i = 0; i < 20; i++) {
      expect(step({ delayMs: 85, utilization: 0.75 }).acceptRatio).toBeCloseTo(0.5, 9);
    }
    // Below the low-water mark of both signals: additive increase, dt / recoveryMs per sample.
    const up = [1, 2, 3, 4, 5].map(() => step({ delayMs: 10, utilization: 0.5 }));
    expect(up.map((s) => s.acceptRatio)).toEqual(
      [0.6, 0.7, 0.8, 0.9, 1].map((r) => expect.closeTo(r, 9) as unknown as number),
    );
    expect(up.map((s) => s.state)).toEqual(['shedding', 'shedding', 'shedding', 'shedding', 'admitting']);
  });

  it('recovers in one step after a long quiet gap (the increase scales with elapsed time)', () => {
    const { clock, probe, shedder } = setup();
    probe.next = { delayMs: 1000, utilization: 0 };
    clock.advance(100);
    expect(shedder.snapshot().acceptRatio).toBeCloseTo(0.1, 9);
    probe.next = { delayMs: 0, utilization: 0 };
    clock.advance(5000);
    expect(shedder.snapshot()).toMatchObject({ acceptRatio: 1, state: 'admitting' });
  });

  it('one utilization signal under its low-water mark is not enough while the other is in the band', () => {
    const { step } = setup();
    step({ delayMs: 150, utilization: 0 });
    const held = step({ delayMs: 90, utilization: 0.1 });
    expect(held.acceptRatio).toBeCloseTo(1 / 1.5, 9);
  });
});

describe('createLoadShedder: utilization mark 1', () => {
  it('turns the utilization signal off: a busy loop neither sheds nor holds a shed ratio', () => {
    const { step } = setup({ maxEventLoopUtilization: 1 });
    expect(step({ delayMs: 0, utilization: 1 }).acceptRatio).toBe(1);
    expect(step({ delayMs: 200, utilization: 1 }).acceptRatio).toBeLessThan(1); // a stall still sheds
    const shed = step({ delayMs: 200, utilization: 1 }).acceptRatio;
    // The stall is over, the loop still busy: the ratio grows back (it would hold at pressure 1).
    expect(step({ delayMs: 0, utilization: 0.99 }).acceptRatio).toBeGreaterThan(shed);
  });
});

describe('createLoadShedder: admission', () => {
  it.each([
    { ratio: 1, admitted: 100 },
    { ratio: 0.5, admitted: 50 },
    { ratio: 0.25, admitted: 25 },
    { ratio: 0.1, admitted: 10 },
  ])('admits exactly $admitted of 100 new calls at ratio $ratio, evenly spread', ({ ratio, admitted }) => {
    const { step, shedder } = setup();
    // Reach the ratio in one sample: pressure = 1 / ratio (ratio 1: no pressure).
    step({ delayMs: ratio === 1 ? 0 : MAX_DELAY / ratio, utilization: 0 });
    expect(shedder.snapshot().acceptRatio).toBeCloseTo(ratio, 9);
    const decisions = Array.from({ length: 100 }, () => shedder.admit());
    expect(decisions.filter(Boolean)).toHaveLength(admitted);
    const gaps = decisions.flatMap((d, i) => (d ? [i] : [])).map((i, k, all) => i - (all[k - 1] ?? -1));
    expect(new Set(gaps.slice(1)).size).toBeLessThanOrEqual(2); // a fixed stride (Bresenham), no bursts
  });

  it('admits everything before its first sample and never reads the probe more than once per interval', () => {
    const { clock, probe, shedder } = setup();
    for (let i = 0; i < 1000; i++) expect(shedder.admit()).toBe(true);
    expect(probe.reads).toBe(0);
    clock.advance(99);
    shedder.admit();
    expect(probe.reads).toBe(0);
    clock.advance(1);
    for (let i = 0; i < 1000; i++) shedder.admit();
    expect(probe.reads).toBe(1);
  });

  it('keeps the last values when the probe has nothing yet, and asks again on the next call', () => {
    const { clock, probe, shedder } = setup();
    probe.next = undefined;
    clock.advance(100);
    expect(shedder.snapshot()).toMatchObject({ acceptRatio: 1, eventLoopDelayMs: 0 });
    shedder.admit();
    expect(probe.reads).toBe(2);
    probe.next = { delayMs: 200, utilization: 0 };
    expect(shedder.snapshot().acceptRatio).toBeCloseTo(0.5, 9);
  });
});

describe('createLoadShedder: start-up', () => {
  it('discards the first reading, which covers start-up rather than calls', () => {
    const clock = fakeClock();
    const probe = scriptedProbe();
    const shedder = createLoadShedder({
      clock,
      probe,
      maxEventLoopDelayMs: 100,
      maxEventLoopUtilization: 0.9,
    });
    probe.next = { delayMs: 5000, utilization: 1 };
    clock.advance(2000);
    expect(shedder.snapshot()).toMatchObject({
      acceptRatio: 1,
      eventLoopDelayMs: 0,
      eventLoopUtilization: 0,
    });
    expect(probe.reads).toBe(1);
    clock.advance(100);
    expect(shedder.snapshot().eventLoopDelayMs).toBeGreaterThan(0);
  });
});

describe('createLoadShedder: smoothing', () => {
  it('reads no lag from a probe on a fake clock, whose timers run on time', () => {
    const clock = fakeClock();
    const probe = createEventLoopProbe({ clock });
    expect(probe.read()).toBeUndefined();
    clock.advance(100);
    expect(probe.read()?.delayMs).toBe(0);
    probe.close();
    expect(clock.pending()).toBe(0);
  });

  it('needs a sustained overload: one busy window at start-up does not shed', () => {
    const { step } = setup({ smoothingMs: 500 });
    const first = step({ delayMs: 0, utilization: 1 });
    expect(first.eventLoopUtilization).toBeCloseTo(1 - Math.exp(-100 / 500), 9);
    expect(first.state).toBe('admitting');
    // Saturated: the smoothed utilization passes 0.9 once 1 - e^(-n/5) > 0.9, at n = 12 samples (1.2 s).
    const states = Array.from({ length: 11 }, () => step({ delayMs: 0, utilization: 1 }).state);
    expect(states.at(-2)).toBe('admitting');
    expect(states.at(-1)).toBe('shedding');
  });
});

describe('createLoadShedder: options', () => {
  it.each([
    ['maxEventLoopDelayMs', { maxEventLoopDelayMs: 0 }],
    ['maxEventLoopUtilization', { maxEventLoopUtilization: 1.5 }],
    ['maxEventLoopUtilization', { maxEventLoopUtilization: 0 }],
    ['resumeRatio', { resumeRatio: 0 }],
    ['minAcceptRatio', { minAcceptRatio: 0 }],
    ['decreaseFactor', { decreaseFactor: 1.2 }],
    ['smoothingMs', { smoothingMs: Number.NaN }],
    ['recoveryMs', { recoveryMs: -1 }],
  ] as const)('rejects a bad %s', (name, bad) => {
    expect(() => setup(bad)).toThrow(ProtectConfigError);
    expect(() => setup(bad)).toThrow(name);
  });
});

describe('createEventLoopProbe', () => {
  it('sees a blocked event loop as delay and utilization', async () => {
    const probe = createEventLoopProbe({ clock: systemClock() });
    try {
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(probe.read()).toBeDefined();
      const until = performance.now() + 80;
      while (performance.now() < until) {
        // busy: the loop cannot run its timers
      }
      await new Promise((resolve) => setTimeout(resolve, 15));
      const reading = probe.read();
      // ~70 ms late over a window of ~95 ms: the time-weighted lag is well above 40 ms.
      expect(reading?.delayMs).toBeGreaterThan(40);
      expect(reading?.utilization).toBeGreaterThan(0.5);
    } finally {
      probe.close();
      probe.close();
    }
    expect(probe.read()).toBeUndefined();
  });
});
