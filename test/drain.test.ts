import { describe, expect, it } from 'vitest';
import { fakeClock } from '../pbx/core/clock.js';
import { createDrainController } from '../pbx/drain.js';

function setup(calls: number) {
  const clock = fakeClock(0);
  let active = calls;
  const ended: string[] = [];
  const drain = createDrainController({
    clock,
    wallClock: () => 1_000_000 + clock.now(),
    activeCalls: () => active,
    endAll: (reason) => {
      ended.push(reason);
      active = 0;
      return Promise.resolve();
    },
    defaultTimeoutSeconds: 3600,
  });
  return { clock, drain, ended, setActive: (n: number) => (active = n) };
}

describe('drain', () => {
  it('goes running -> draining -> drained when the last call ends', async () => {
    const { drain, setActive, ended } = setup(2);
    expect(drain.state()).toBe('running');
    const status = drain.drain(60);
    expect(status).toEqual({
      state: 'draining',
      activeCalls: 2,
      deadline: new Date(1_060_000).toISOString(),
    });
    setActive(1);
    drain.callEnded();
    expect(drain.state()).toBe('draining');
    setActive(0);
    drain.callEnded();
    await drain.drained();
    expect(drain.state()).toBe('drained');
    expect(ended).toEqual([]);
  });

  it('is drained at once with no calls', async () => {
    const { drain } = setup(0);
    drain.drain();
    await drain.drained();
    expect(drain.status().deadline).toBe(new Date(1_000_000 + 3_600_000).toISOString());
  });

  it('ends the remaining calls with drain-timeout at the deadline', async () => {
    const { drain, clock, ended } = setup(3);
    drain.drain(3);
    clock.advance(2999);
    expect(ended).toEqual([]);
    clock.advance(1);
    await drain.drained();
    expect(ended).toEqual(['drain-timeout']);
    expect(clock.pending()).toBe(0);
  });

  it('keeps the earlier deadline when asked again, and moves it earlier', () => {
    const { drain } = setup(1);
    drain.drain(100);
    expect(drain.drain(500).deadline).toBe(new Date(1_100_000).toISOString());
    expect(drain.drain(10).deadline).toBe(new Date(1_010_000).toISOString());
    drain.close();
  });
});

describe('drain cancel', () => {
  it('returns to running while draining, and refuses once drained', async () => {
    const { drain, clock, setActive } = setup(1);
    drain.drain(60);
    expect(drain.cancel()).toEqual({ state: 'running', activeCalls: 1, deadline: null });
    expect(clock.pending()).toBe(0);
    drain.drain(60);
    setActive(0);
    drain.callEnded();
    await drain.drained();
    expect(drain.cancel()).toBeUndefined();
  });
});
