import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createRegistry, openRedisRegistry, RegistryUnavailable } from '../../pbx/registry/index.js';
import type { RedisRegistry } from '../../pbx/registry/index.js';
import { call, registryBehaviour, START } from './behaviour.js';
import { startRedis } from './redis-server.js';
import type { TestRedis } from './redis-server.js';

let server: TestRedis;
let inspect: Redis;
let n = 0;
const prefix = (): string => `t${++n}:`;

beforeAll(async () => {
  server = await startRedis();
  inspect = new Redis(server.url);
});
afterAll(async () => {
  inspect.disconnect();
  await server.stop();
});

async function open(options: Omit<Parameters<typeof openRedisRegistry>[0], 'url'>): Promise<RedisRegistry> {
  const reg = openRedisRegistry({ url: server.url, ...options });
  expect(await reg.link.ready(5000)).toBe(true);
  return reg;
}

registryBehaviour('redis', (options) => open({ ...options, keyPrefix: prefix() }));

describe('redis: key layout', () => {
  it('keeps every key under the prefix, with TTLs', async () => {
    const keyPrefix = prefix();
    const clock = fakeClock(START);
    const reg = await open({ keyPrefix, clock, ttlSeconds: 600, podTtlSeconds: 30, sweepIntervalMs: 0 });
    const c = call(1);
    await reg.calls.register(c);
    await reg.calls.setPodState('pbx-0', { state: 'running', sipAddress: '10.0.0.1:5060', updatedAt: START });
    await reg.locations.register('sip:alice@example.com', [{ uri: 'sip:a@h1', expires: 120 }], 'r1', 1);
    const keys = (await inspect.keys(`${keyPrefix}*`)).sort();
    expect(keys).toEqual(
      [
        `call:${c.legs.a}`,
        `call:${c.legs.b}`,
        'aor:sip:alice@example.com',
        'bindings',
        'pod:pbx-0:calls',
        'pod:pbx-0:expiry',
        'pod:pbx-0:state',
        'pods',
      ]
        .map((k) => keyPrefix + k)
        .sort(),
    );
    const ttl = async (k: string): Promise<number> => inspect.pttl(keyPrefix + k);
    for (const k of [`call:${c.legs.a}`, `call:${c.legs.b}`, 'pod:pbx-0:calls', 'pod:pbx-0:expiry']) {
      expect(await ttl(k)).toBeGreaterThan(590_000);
      expect(await ttl(k)).toBeLessThanOrEqual(600_000);
    }
    expect(await ttl('pod:pbx-0:state')).toBeGreaterThan(25_000);
    expect(await ttl('aor:sip:alice@example.com')).toBeGreaterThan(110_000);
    expect(await ttl('aor:sip:alice@example.com')).toBeLessThanOrEqual(120_000);
    expect(JSON.parse((await inspect.get(`${keyPrefix}call:${c.legs.a}`)) ?? '')).toEqual(c);
    expect(await inspect.hget(`${keyPrefix}pod:pbx-0:calls`, c.callId)).toBe(JSON.stringify(c));
    expect(await inspect.zscore(`${keyPrefix}pod:pbx-0:expiry`, c.callId)).toBe(String(START + 600_000));
    expect(await inspect.zscore(`${keyPrefix}bindings`, 'sip:alice@example.com sip:a@h1')).toBe(
      String(START + 120_000),
    );

    // refresh restores the real TTLs (a pod that keeps refreshing never loses its calls)
    await inspect.pexpire(`${keyPrefix}call:${c.legs.a}`, 1000);
    await inspect.pexpire(`${keyPrefix}pod:pbx-0:calls`, 1000);
    clock.advance(60_000);
    expect(await reg.calls.refresh([c])).toBe(1);
    expect(await ttl(`call:${c.legs.a}`)).toBeGreaterThan(590_000);
    expect(await ttl('pod:pbx-0:calls')).toBeGreaterThan(590_000);
    expect(await inspect.zscore(`${keyPrefix}pod:pbx-0:expiry`, c.callId)).toBe(String(START + 660_000));

    await reg.calls.remove(c);
    await reg.locations.removeAll('sip:alice@example.com', 'r1', 2);
    const left = (await inspect.keys(`${keyPrefix}*`)).sort();
    // Only the heartbeat and the pods index remain (Redis drops emptied hashes and sorted sets).
    expect(left).toEqual([`${keyPrefix}pod:pbx-0:state`, `${keyPrefix}pods`]);
    await reg.close();
  });

  it('uses the default prefix sippbx: and a few commands per call', async () => {
    const reg = await open({ sweepIntervalMs: 0 });
    const c = call(7, 'pbx-count');
    await reg.calls.register(call(8, 'pbx-count')); // loads the scripts: steady state is EVALSHA
    await reg.calls.refresh([call(8, 'pbx-count')]);
    await reg.calls.remove(call(8, 'pbx-count'));
    await inspect.config('RESETSTAT');
    await reg.calls.register(c);
    const afterRegister = await commandStats();
    await inspect.config('RESETSTAT');
    await reg.calls.refresh([c]);
    const afterRefresh = await commandStats();
    await inspect.config('RESETSTAT');
    await reg.calls.remove(c);
    const afterRemove = await commandStats();
    // Round trips: one EVALSHA each; commands run inside the script listed for docs/redis.md.
    expect(afterRegister).toEqual({ evalsha: 1, hget: 1, set: 2, hset: 1, zadd: 1, pexpire: 2, sadd: 1 });
    expect(afterRefresh).toEqual({ evalsha: 1, zrangebyscore: 1, zscore: 1, zadd: 1, pexpire: 4, sadd: 1 });
    expect(afterRemove).toEqual({ evalsha: 1, hget: 1, del: 1, hdel: 1, zrem: 1 });
    expect(await inspect.exists('sippbx:pods')).toBe(1);
    await inspect.srem('sippbx:pods', 'pbx-count');
    await reg.close();
  });
});

/** Calls per command since the last CONFIG RESETSTAT, without the inspecting client's own commands. */
async function commandStats(): Promise<Record<string, number>> {
  const info = await inspect.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    const name = m[1] ?? '';
    if (!name.startsWith('config') && name !== 'info') out[name] = Number(m[2]);
  }
  return out;
}

describe('redis: operations', () => {
  it('runs the binding sweep on the clock and survives a sweep that fails', async () => {
    const clock = fakeClock(START);
    const errors: RegistryUnavailable[] = [];
    const reg = await open({
      keyPrefix: prefix(),
      clock,
      sweepIntervalMs: 10_000,
      onError: (e) => errors.push(e),
    });
    await reg.locations.register('sip:a@example.com', [{ uri: 'sip:a@h1', expires: 5 }], 'r1', 1);
    const key = `${reg.link.prefix}bindings`;
    expect(await inspect.zcard(key)).toBe(1);
    clock.advance(10_000);
    await expect.poll(() => inspect.zcard(key)).toBe(0);
    expect(await inspect.exists(`${reg.link.prefix}aor:sip:a@example.com`)).toBe(0);
    await reg.close();
    clock.advance(10_000); // the sweeper is stopped
    expect(clock.pending()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('maps a Redis error reply to RegistryUnavailable without declaring an outage', async () => {
    const states: boolean[] = [];
    const reg = await open({
      keyPrefix: prefix(),
      onStateChange: (up) => states.push(up),
      sweepIntervalMs: 0,
    });
    await inspect.set(`${reg.link.prefix}bindings`, 'not a sorted set');
    const attempt = reg.locations.count();
    await expect(attempt).rejects.toBeInstanceOf(RegistryUnavailable);
    await expect(attempt).rejects.toMatchObject({ code: 'PBX_ERR_REGISTRY_UNAVAILABLE' });
    expect(reg.link.up).toBe(true);
    expect(reg.link.errorCount).toBe(1);
    expect(states).toEqual([true]); // 'up' once at connect, no 'down' for an error reply
    await reg.close();
    await expect(reg.calls.lookup('x')).rejects.toBeInstanceOf(RegistryUnavailable);
  });

  it('createRegistry builds the Redis backend from the config section', async () => {
    const keyPrefix = prefix();
    const reg = createRegistry(
      { backend: 'redis', redis: { url: server.url, keyPrefix } },
      { clock: fakeClock(START), sweepIntervalMs: 0 },
    );
    expect(await reg.link?.ready(5000)).toBe(true);
    expect(await reg.link?.ready(5000)).toBe(true);
    await reg.calls.register(call(1));
    expect(await inspect.exists(`${keyPrefix}call:${call(1).legs.a}`)).toBe(1);
    await reg.close();
  });
});
