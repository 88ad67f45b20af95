// Redis outages: fail fast with RegistryUnavailable, one 'down' per outage, 'up' on return, resync.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { openRedisRegistry, RegistryUnavailable } from '../../pbx/registry/index.js';
import type { CallEntry } from '../../pbx/registry/index.js';
import { call, START } from './behaviour.js';
import { freePort, startRedis } from './redis-server.js';
import type { TestRedis } from './redis-server.js';

let server: TestRedis;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

/** Awaits `op` and returns how long it took to reject, with the error. */
async function rejection(op: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    await op;
  } catch (err) {
    return { err, ms: performance.now() - t0 };
  }
  throw new Error('expected a rejection');
}

describe('redis: outage', () => {
  it('fails fast while Redis is down, says down once and up once, and resync restores exactly the live calls', async () => {
    const events: boolean[] = [];
    let errors = 0;
    const clock = fakeClock(START);
    const reg = openRedisRegistry({
      url: server.url,
      keyPrefix: 'outage:',
      clock,
      sweepIntervalMs: 0,
      maxReconnectDelayMs: 100,
      onStateChange: (up) => events.push(up),
      onError: () => errors++,
    });
    expect(await reg.link.ready(5000)).toBe(true);
    const live: CallEntry[] = [call(1), call(2), call(3)];
    for (const c of live) await reg.calls.register(c);
    await reg.locations.register('sip:alice@example.com', [{ uri: 'sip:a@h1', expires: 600 }], 'r1', 1);

    await server.kill();
    await expect.poll(() => events).toEqual([true, false]);
    const ops = [
      reg.calls.register(call(4)),
      reg.calls.lookup(call(1).legs.a),
      reg.calls.remove(call(2)),
      reg.calls.activeCalls('pbx-0'),
      reg.locations.lookup('sip:alice@example.com'),
      reg.locations.count(),
    ];
    for (const op of ops) {
      const { err, ms } = await rejection(op);
      expect(err).toBeInstanceOf(RegistryUnavailable);
      expect(err).toMatchObject({ code: 'PBX_ERR_REGISTRY_UNAVAILABLE' });
      expect(ms).toBeLessThan(1000);
    }
    expect(errors).toBe(ops.length);
    expect(reg.link.errorCount).toBe(ops.length);
    expect(events).toEqual([true, false]); // one 'down' for the whole outage

    // Meanwhile the pbx served from local state: call 2 ended, call 4 started.
    const nowLive = [call(1), call(3), call(4)];
    await server.restart();
    await expect.poll(() => events, { timeout: 5000 }).toEqual([true, false, true]);
    await reg.calls.resync('pbx-0', nowLive);
    await reg.locations.resync([
      {
        aor: 'sip:alice@example.com',
        bindings: [
          { uri: 'sip:a@h1', expiresAt: START + 600_000, callId: 'r1', cseq: 1, registeredAt: START },
        ],
      },
    ]);
    expect(await reg.calls.listCalls('pbx-0')).toEqual(nowLive);
    expect(await reg.calls.lookup(call(2).legs.a)).toBeUndefined();
    expect(await reg.calls.lookup(call(4).legs.b)).toEqual(call(4));
    expect(await reg.locations.count()).toBe(1);
    expect(events).toEqual([true, false, true]);
    await reg.close();
  });

  it('fails an in-flight command when the server dies under it', async () => {
    const reg = openRedisRegistry({ url: server.url, keyPrefix: 'inflight:', sweepIntervalMs: 0 });
    expect(await reg.link.ready(5000)).toBe(true);
    const admin = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => undefined);
    // CLIENT PAUSE holds every client's commands: the next one is in flight (sent, unanswered) when Redis dies.
    await admin.call('CLIENT', 'PAUSE', '10000', 'ALL');
    const outcome = rejection(reg.calls.activeCalls('pbx-0'));
    const t0 = performance.now();
    await server.kill();
    const { err } = await outcome;
    expect(err).toBeInstanceOf(RegistryUnavailable);
    expect(performance.now() - t0).toBeLessThan(1000);
    admin.disconnect();
    await reg.close();
    await server.restart();
  });
});

describe('redis: unreachable at startup', () => {
  it('constructs without waiting, rejects operations at once and never reports up', async () => {
    const port = await freePort(); // nothing listens there
    const states: boolean[] = [];
    const t0 = performance.now();
    const reg = openRedisRegistry({
      url: `redis://127.0.0.1:${port}`,
      connectTimeoutMs: 200,
      sweepIntervalMs: 0,
      onStateChange: (up) => states.push(up),
    });
    expect(performance.now() - t0).toBeLessThan(100);
    const { err, ms } = await rejection(reg.calls.register(call(1)));
    expect(err).toBeInstanceOf(RegistryUnavailable);
    expect(ms).toBeLessThan(1000);
    expect(await reg.link.ready(300)).toBe(false);
    expect(reg.link.up).toBe(false);
    expect(states).toEqual([false]);
    await reg.close();
  });

  it('does not hang on an address that never answers', async () => {
    const reg = openRedisRegistry({
      url: 'redis://192.0.2.1:6380', // TEST-NET-1: packets go nowhere
      password: 'secret',
      tls: false,
      connectTimeoutMs: 300,
      sweepIntervalMs: 0,
    });
    const { err, ms } = await rejection(reg.locations.lookup('sip:a@example.com'));
    expect(err).toBeInstanceOf(RegistryUnavailable);
    expect(ms).toBeLessThan(1000);
    await reg.close();
  });

  it('accepts TLS options (the handshake fails against a plain server)', async () => {
    const states: boolean[] = [];
    const reg = openRedisRegistry({
      url: server.url,
      tls: { rejectUnauthorized: false },
      connectTimeoutMs: 300,
      sweepIntervalMs: 0,
      onStateChange: (up) => states.push(up),
    });
    expect(await reg.link.ready(300)).toBe(false);
    await expect(reg.calls.listPods()).rejects.toBeInstanceOf(RegistryUnavailable);
    await reg.close();
  });
});
