import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createRegistry, memoryCallRegistry, memoryLocationStore } from '../../pbx/registry/index.js';
import { call, registryBehaviour, START } from './behaviour.js';

registryBehaviour('memory', (options) => {
  const calls = memoryCallRegistry(options);
  const locations = memoryLocationStore(options);
  return Promise.resolve({
    calls,
    locations,
    async close() {
      await calls.close();
      await locations.close();
    },
  });
});

describe('memory: no leaks', () => {
  it('empties every map on remove and on expiry', async () => {
    const clock = fakeClock(START);
    const calls = memoryCallRegistry({ clock, ttlSeconds: 60, podTtlSeconds: 10, sweepIntervalMs: 5000 });
    await calls.register(call(1));
    await calls.register(call(2, 'pbx-1'));
    await calls.setPodState('pbx-0', { state: 'running', sipAddress: 'x:5060', updatedAt: START });
    expect(calls.sizes()).toEqual({ calls: 2, sipCallIds: 4, pods: 2, podStates: 1 });
    await calls.remove(call(1));
    expect(calls.sizes()).toEqual({ calls: 1, sipCallIds: 2, pods: 1, podStates: 1 });
    clock.advance(60_000); // the sweep timer drops the lapsed call and heartbeat
    expect(calls.sizes()).toEqual({ calls: 0, sipCallIds: 0, pods: 0, podStates: 0 });
    await calls.register(call(3));
    clock.advance(60_000);
    expect(await calls.lookup(call(3).legs.a)).toBeUndefined(); // lazy expiry on read
    expect(calls.sizes().calls).toBe(0);
    expect(calls.sweep()).toBe(0);
    await calls.close();
    expect(clock.pending()).toBe(0);
  });

  it('drops expired bindings on the sweep timer and exposes a snapshot for resync', async () => {
    const clock = fakeClock(START);
    const loc = memoryLocationStore({ clock, sweepIntervalMs: 10_000 });
    await loc.register('sip:a@example.com', [{ uri: 'sip:a@h1', expires: 15 }], 'r1', 1);
    await loc.register('sip:a@example.com', [{ uri: 'sip:a@h2', expires: 60 }], 'r2', 1);
    await loc.register('sip:b@example.com', [{ uri: 'sip:b@h1', expires: 15 }], 'r3', 1);
    expect(loc.sizes()).toEqual({ aors: 2, bindings: 3 });
    clock.advance(20_000);
    expect(loc.sizes()).toEqual({ aors: 1, bindings: 1 });
    expect(loc.snapshot()).toEqual([
      {
        aor: 'sip:a@example.com',
        bindings: [
          { uri: 'sip:a@h2', expiresAt: START + 60_000, callId: 'r2', cseq: 1, registeredAt: START },
        ],
      },
    ]);
    await loc.close();
    await loc.close();
    expect(clock.pending()).toBe(0);
  });

  it('createRegistry builds the memory backend by default config', async () => {
    const reg = createRegistry(
      { backend: 'memory', redis: { url: 'redis://127.0.0.1:1' } },
      { clock: fakeClock(START), sweepIntervalMs: 0 },
    );
    expect(reg.link).toBeUndefined();
    await reg.calls.register(call(1));
    expect(await reg.calls.activeCalls('pbx-0')).toBe(1);
    expect(await reg.locations.count()).toBe(0);
    await reg.close();
  });

  it('uses the wall clock by default', async () => {
    const calls = memoryCallRegistry();
    await calls.setPodState('p', { state: 'running', sipAddress: 'x:1', updatedAt: Date.now() });
    expect(await calls.listPods()).toHaveLength(1);
    await calls.close();
  });
});
