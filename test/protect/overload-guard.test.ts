import { describe, expect, it, vi } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createOverloadGuard, ProtectConfigError } from '../../pbx/protect/index.js';
import type { LoadShedder, LoadSignal } from '../../pbx/protect/index.js';

const MIB = 1024 * 1024;

describe('createOverloadGuard: max calls', () => {
  it.each([
    { active: 0, ok: true },
    { active: 999, ok: true },
    { active: 1000, ok: false },
    { active: 5000, ok: false },
  ])('maxCalls 1000, $active active -> ok $ok', ({ active, ok }) => {
    const guard = createOverloadGuard({ maxCalls: 1000, maxMemoryMb: null, clock: fakeClock() });
    expect(guard.admit(active)).toEqual(
      ok ? { ok: true } : { ok: false, reason: 'max-calls', retryAfterSeconds: 5 },
    );
  });

  it('does not read memory when maxMemoryMb is null', () => {
    const memoryUsage = vi.fn(() => 10 * 1024 * MIB);
    const guard = createOverloadGuard({ maxCalls: 10, maxMemoryMb: null, memoryUsage, clock: fakeClock() });
    expect(guard.admit(0)).toEqual({ ok: true });
    expect(memoryUsage).not.toHaveBeenCalled();
  });

  it('checks the call limit before memory', () => {
    const memoryUsage = vi.fn(() => 500 * MIB);
    const guard = createOverloadGuard({ maxCalls: 10, maxMemoryMb: 100, memoryUsage, clock: fakeClock() });
    expect(guard.admit(10)).toMatchObject({ ok: false, reason: 'max-calls' });
    expect(memoryUsage).not.toHaveBeenCalled();
    expect(guard.admit(9)).toMatchObject({ ok: false, reason: 'memory' });
  });
});

describe('createOverloadGuard: memory', () => {
  it('refuses above the limit and admits again only below 95% of it (hysteresis)', () => {
    const clock = fakeClock();
    let usedMb = 0;
    const guard = createOverloadGuard({
      maxCalls: 100,
      maxMemoryMb: 100,
      memoryUsage: () => usedMb * MIB,
      clock,
    });
    const steps: [number, boolean][] = [
      [50, true],
      [100, true], // at the limit, not above it
      [100.5, false],
      [99, false],
      [96, false],
      [95, false], // not below 95%
      [94.9, true],
      [99, true],
      [101, false],
      [10, true],
    ];
    for (const [mb, ok] of steps) {
      usedMb = mb;
      clock.advance(1000);
      expect({ mb, ok: guard.admit(0).ok }).toEqual({ mb, ok });
    }
  });

  it('reads memory at most once per sample interval', () => {
    const clock = fakeClock();
    const memoryUsage = vi.fn(() => 50 * MIB);
    const guard = createOverloadGuard({
      maxCalls: 100,
      maxMemoryMb: 100,
      memoryUsage,
      clock,
      sampleIntervalMs: 1000,
    });
    for (let i = 0; i < 1000; i++) guard.admit(0);
    expect(memoryUsage).toHaveBeenCalledTimes(1);
    clock.advance(999);
    guard.admit(0);
    expect(memoryUsage).toHaveBeenCalledTimes(1);
    clock.advance(1);
    guard.admit(0);
    expect(memoryUsage).toHaveBeenCalledTimes(2);
  });

  it('keeps the last verdict between samples', () => {
    const clock = fakeClock();
    let usedMb = 200;
    const guard = createOverloadGuard({
      maxCalls: 100,
      maxMemoryMb: 100,
      memoryUsage: () => usedMb * MIB,
      clock,
    });
    expect(guard.admit(0)).toEqual({ ok: false, reason: 'memory', retryAfterSeconds: 10 });
    usedMb = 10;
    clock.advance(500);
    expect(guard.admit(0).ok).toBe(false);
    clock.advance(500);
    expect(guard.admit(0).ok).toBe(true);
  });

  it('uses the process RSS by default', () => {
    const rss = process.memoryUsage.rss();
    const roomy = createOverloadGuard({
      maxCalls: 1,
      maxMemoryMb: Math.ceil((rss * 4) / MIB),
      clock: fakeClock(),
    });
    const tight = createOverloadGuard({ maxCalls: 1, maxMemoryMb: 1, clock: fakeClock() });
    expect(roomy.admit(0)).toEqual({ ok: true });
    expect(tight.admit(0)).toMatchObject({ ok: false, reason: 'memory' });
  });

  it('takes custom Retry-After values', () => {
    const guard = createOverloadGuard({
      maxCalls: 1,
      maxMemoryMb: 1,
      memoryUsage: () => 2 * MIB,
      clock: fakeClock(),
      maxCallsRetryAfterSeconds: 30,
      memoryRetryAfterSeconds: 60,
    });
    expect(guard.admit(1)).toEqual({ ok: false, reason: 'max-calls', retryAfterSeconds: 30 });
    expect(guard.admit(0)).toEqual({ ok: false, reason: 'memory', retryAfterSeconds: 60 });
  });
});

describe('createOverloadGuard: options', () => {
  const clock = fakeClock();
  it.each([
    { maxCalls: 0, maxMemoryMb: null },
    { maxCalls: Number.NaN, maxMemoryMb: null },
    { maxCalls: 10, maxMemoryMb: 0 },
    { maxCalls: 10, maxMemoryMb: -5 },
    { maxCalls: 10, maxMemoryMb: 100, sampleIntervalMs: -1 },
    { maxCalls: 10, maxMemoryMb: 100, resumeRatio: 0 },
    { maxCalls: 10, maxMemoryMb: 100, resumeRatio: 1.5 },
    { maxCalls: 10, maxMemoryMb: null, maxCallsRetryAfterSeconds: -1 },
    { maxCalls: 10, maxMemoryMb: null, memoryRetryAfterSeconds: Number.POSITIVE_INFINITY },
  ])('rejects %o', (options) => {
    expect(() => createOverloadGuard({ ...options, clock })).toThrow(ProtectConfigError);
  });
});

/** A shedder stub whose decisions and signal the test sets. */
function stubShedder(admitting: boolean, signal: LoadSignal = 'event-loop-delay'): LoadShedder {
  return {
    admit: () => admitting,
    signal: () => signal,
    snapshot: () => ({
      state: admitting ? 'admitting' : 'shedding',
      acceptRatio: admitting ? 1 : 0.25,
      eventLoopDelayMs: 150,
      eventLoopUtilization: 0.5,
      signal,
    }),
  };
}

describe('createOverloadGuard: load shedding', () => {
  it.each([
    { signal: 'event-loop-delay', retry: 2 },
    { signal: 'event-loop-utilization', retry: 1 },
  ] as const)('a shed call is refused for $signal with Retry-After $retry', ({ signal, retry }) => {
    const guard = createOverloadGuard({
      maxCalls: 10,
      maxMemoryMb: null,
      clock: fakeClock(),
      shedder: stubShedder(false, signal),
      ...(retry === 2 ? {} : { overloadRetryAfterSeconds: retry }),
    });
    expect(guard.admit(0)).toEqual({ ok: false, reason: signal, retryAfterSeconds: retry });
    expect(guard.status(0)).toEqual({
      reason: signal,
      acceptRatio: 0.25,
      eventLoopDelayMs: 150,
      eventLoopUtilization: 0.5,
    });
  });

  it('the call limit is checked before the shedder, whose credit is not spent on it', () => {
    const admit = vi.fn(() => true);
    const shedder = { ...stubShedder(true), admit };
    const guard = createOverloadGuard({ maxCalls: 1, maxMemoryMb: null, clock: fakeClock(), shedder });
    expect(guard.admit(1)).toMatchObject({ reason: 'max-calls' });
    expect(admit).not.toHaveBeenCalled();
    expect(guard.admit(0)).toEqual({ ok: true });
    expect(guard.status(1).reason).toBe('max-calls');
  });

  it('reports no overload without a shedder', () => {
    const guard = createOverloadGuard({ maxCalls: 10, maxMemoryMb: null, clock: fakeClock() });
    expect(guard.status(0)).toEqual({
      reason: null,
      acceptRatio: 1,
      eventLoopDelayMs: 0,
      eventLoopUtilization: 0,
    });
  });
});

describe('createOverloadGuard: calls in setup', () => {
  it('counts at most once per interval and adds the calls admitted since, so a burst cannot overshoot', () => {
    const clock = fakeClock();
    let inSetup = 0;
    const count = vi.fn(() => inSetup);
    const guard = createOverloadGuard({
      maxCalls: 1000,
      maxMemoryMb: null,
      clock,
      callsInSetup: { max: 3, count },
    });
    // A burst in one interval: 3 admitted (0 counted + 3 since), the 4th refused.
    const burst = [0, 1, 2, 3].map(() => guard.admit(0));
    expect(burst.map((a) => a.ok)).toEqual([true, true, true, false]);
    expect(burst[3]).toEqual({ ok: false, reason: 'calls-in-setup', retryAfterSeconds: 2 });
    expect(count).toHaveBeenCalledTimes(1);
    expect(guard.status(0).reason).toBe('calls-in-setup');
    // Two of them were answered by the next count: room for two more.
    inSetup = 1;
    clock.advance(100);
    expect([0, 1, 2].map(() => guard.admit(0).ok)).toEqual([true, true, false]);
    expect(count).toHaveBeenCalledTimes(2);
  });

  it('a call refused by the shedder does not count as in setup', () => {
    const guard = createOverloadGuard({
      maxCalls: 1000,
      maxMemoryMb: null,
      clock: fakeClock(),
      shedder: stubShedder(false),
      callsInSetup: { max: 1, count: () => 0 },
    });
    expect(guard.admit(0)).toMatchObject({ reason: 'event-loop-delay' });
    expect(guard.admit(0)).toMatchObject({ reason: 'event-loop-delay' });
  });

  it('rejects a cap below 1', () => {
    expect(() =>
      createOverloadGuard({
        maxCalls: 10,
        maxMemoryMb: null,
        clock: fakeClock(),
        callsInSetup: { max: 0, count: () => 0 },
      }),
    ).toThrow(ProtectConfigError);
  });
});
