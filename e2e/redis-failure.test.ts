// Redis failure with live traffic (issue 6, ARCHITECTURE.md "Shared state"): a real redis-server is killed under
// 50 active calls of a real pbx process. The calls go on and end normally, new calls keep succeeding from local
// state, failures are counted and logged once, and after Redis restarts the registry holds exactly the live calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCall, runCall } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { LogLine, PbxProcess } from './harness/pbx.js';
import { freeLocalPort } from './harness/sipp.js';
import { openRedisRegistry } from '../pbx/registry/index.js';
import { startRedis } from '../test/registry/redis-server.js';
import type { TestRedis } from '../test/registry/redis-server.js';

const POD = 'pbx-failure';
const TOKEN = 'redis-failure-read-token';
const TIMERS = { t1Ms: 50, t2Ms: 400, t4Ms: 200, dMs: 100 };

let redis: TestRedis;
let pbx: PbxProcess;
const ports = { load: 0, quick: 0, long: 0 };

const msg =
  (text: string) =>
  (l: LogLine): boolean =>
    l['msg'] === text;

/** Polls a condition the pbx reaches by itself, bounded. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The pbx's own list of live calls (management API). */
async function liveCallIds(): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${pbx.httpPort}/api/v1/calls`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const body = (await res.json()) as { calls: { id: string }[] };
  return body.calls.map((c) => c.id).sort();
}

/** What the restarted Redis says this pod owns, read by an independent client. */
async function registeredCallIds(): Promise<string[]> {
  const reg = openRedisRegistry({ url: redis.url, keyPrefix: 'failure:', sweepIntervalMs: 0 });
  try {
    expect(await reg.link.ready(5000)).toBe(true);
    return (await reg.calls.listCalls(POD)).map((e) => e.callId).sort();
  } finally {
    await reg.close();
  }
}

const active = (): Promise<number> => pbx.metricValue('sippbx_calls_active');

beforeAll(async () => {
  redis = await startRedis();
  ports.load = await freeLocalPort();
  ports.quick = await freeLocalPort();
  ports.long = await freeLocalPort();
  const route = (user: string, port: number) => ({ match: `^${user}$`, target: `sip:127.0.0.1:${port}` });
  pbx = await startPbx(
    {
      sip: { timers: TIMERS },
      limits: { invitesPerSecondPerIp: 1000 },
      registry: { backend: 'redis', redis: { url: redis.url, keyPrefix: 'failure:' } },
      routing: {
        routes: [route('load', ports.load), route('quick', ports.quick), route('long', ports.long)],
      },
      http: { auth: { tokens: [{ token: TOKEN, role: 'read' }] } },
    },
    { env: { POD_NAME: POD } },
  );
  await pbx.waitForLog(msg('registry up'), 5000);
});

afterAll(async () => {
  await stopAllPbx();
  await redis?.stop();
});

describe('Redis killed under 50 active calls', () => {
  it('calls go on, new calls succeed, one warning, errors counted, registry re-synced on restart', async () => {
    // 50 calls held 10 s each.
    const load = runCall({
      uac: 'uac-load',
      uas: 'uas-load',
      pbx,
      service: 'load',
      uasPort: ports.load,
      calls: 50,
      rate: 50,
      limit: 100,
      pauseMs: 10_000,
      timeoutS: 30,
      traceMessages: false,
    });
    await eventually(async () => (await active()) === 50, 10_000, '50 active calls');
    await eventually(async () => (await registeredCallIds()).length === 50, 5000, '50 calls in Redis');
    expect(await pbx.metricValue('sippbx_registry_errors_total')).toBe(0);

    const beforeKill = pbx.logs().length;
    await redis.kill();
    await pbx.waitForLog(msg('registry down: serving from local state'), 5000, beforeKill);

    // New calls during the outage: set up, answered and ended from local state.
    const quick = await runCall({
      uac: 'basic',
      uas: 'basic',
      pbx,
      service: 'quick',
      uasPort: ports.quick,
      calls: 5,
      rate: 20,
      pauseMs: 200,
    });
    expect(quick.ok, describeCall(quick)).toBe(true);
    expect(await pbx.metricValue('sippbx_registry_errors_total')).toBeGreaterThan(0);
    expect(await active()).toBe(50);

    const beforeRestart = pbx.logs().length;
    await redis.restart();
    await pbx.waitForLog(msg('registry resynced'), 5000, beforeRestart);

    // A few long calls after the restart, so there are live calls registered both ways.
    const long = runCall({
      uac: 'uac-load',
      uas: 'uas-load',
      pbx,
      service: 'long',
      uasPort: ports.long,
      calls: 3,
      rate: 20,
      pauseMs: 3000,
      timeoutS: 20,
      traceMessages: false,
    });
    await eventually(async () => (await active()) === 53, 5000, '53 active calls');
    const live = await liveCallIds();
    expect(live).toHaveLength(53);
    // Registration of the newest calls is asynchronous: poll until Redis agrees.
    await eventually(
      async () => JSON.stringify(await registeredCallIds()) === JSON.stringify(live),
      3000,
      'Redis to hold exactly the live calls',
    );

    const [loaded, longer] = await Promise.all([load, long]);
    expect(loaded.ok, describeCall(loaded)).toBe(true);
    expect(loaded.uac.stats?.successful).toBe(50);
    expect(longer.ok, describeCall(longer)).toBe(true);
    await eventually(async () => (await active()) === 0, 5000, 'every call to end');
    expect(await registeredCallIds()).toEqual([]);
    expect(await pbx.metricValue('sippbx_media_ports_in_use')).toBe(0);
    expect(await pbx.metricValue('sippbx_calls_total', { result: 'answered' })).toBe(58);
    // One warning for the whole outage, one "up" for the start and one for the return.
    const lines = pbx.logs();
    expect(lines.filter(msg('registry down: serving from local state'))).toHaveLength(1);
    expect(lines.filter(msg('registry up'))).toHaveLength(2);
  });

  it('a pbx whose Redis is down at startup starts, warns once and serves calls', async () => {
    const closed = await freeLocalPort();
    const alone = await startPbx(
      {
        sip: { timers: TIMERS },
        registry: { backend: 'redis', redis: { url: `redis://127.0.0.1:${closed}` } },
        routing: { routes: [{ match: '^quick$', target: `sip:127.0.0.1:${ports.quick}` }] },
      },
      { env: { POD_NAME: 'pbx-no-redis' } },
    );
    await alone.waitForLog(msg('registry down: serving from local state'), 5000);
    const call = await runCall({
      uac: 'basic',
      uas: 'basic',
      pbx: alone,
      service: 'quick',
      uasPort: ports.quick,
    });
    expect(call.ok, describeCall(call)).toBe(true);
    expect(alone.logs().filter(msg('registry down: serving from local state'))).toHaveLength(1);
    expect(alone.logs().filter(msg('registry up'))).toHaveLength(0);
  });
});
