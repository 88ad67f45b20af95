// Issue 8 "Done when" #3: 60 long calls over 3 pods, `kubectl scale sippbx/NAME --replicas=1`: the status
// shows pods 1 and 2 draining with their calls; new calls go only to pod 0; all 60 calls complete when the
// callers hang up; pods 1 and 2 are removed only after their last call; no call is ended by the system;
// one CDR (call.ended) per call.
import { expect, it } from 'vitest';
import { getCondition } from '../../operator/api/index.js';
import { freeLocalPort } from '../harness/sipp.js';
import {
  activeCalls,
  callEnded,
  callsTotal,
  describeSipp,
  dumpLogs,
  type Env,
  getSipPbx,
  kubectlApply,
  nth,
  pbxPods,
  sipPbxManifest,
  startUac,
  startUas,
  until,
  useOperatorEnv,
  waitForReady,
  watchPodDeletions,
  withDiagnostics,
} from './harness.js';

let env: Env;
useOperatorEnv({ mode: 'chart', replicas: 1 }, (started) => (env = started));

const HOLD_MS = 20_000;

it('drains pods 1 and 2 of their 40 calls before the StatefulSet goes to 1 replica', async () => {
  const uasPort = await freeLocalPort();
  await kubectlApply(
    env,
    sipPbxManifest({
      name: 'scale',
      replicas: 3,
      portStart: 44000,
      maxCallsPerPod: 40,
      uasPort,
      redisUrl: env.redis.url,
      logLevel: process.env['E2E_PBX_LOG'] ?? 'info',
    }),
  );
  await withDiagnostics(env, waitForReady(env, 'scale', 3));
  const pods = pbxPods(env, 'scale');
  const target = await env.cluster.serviceAddress('default', 'scale', 5060, 'UDP');

  // 60 held calls: 6 client addresses x 10 calls; ClientIP affinity gives each pod two clients.
  const NEW_CALLS = 6;
  const uas = await startUas(60 + NEW_CALLS, 60, uasPort);
  const clients = [21, 22, 23, 24, 25, 26].map((n) => `127.0.0.${n}`);
  const uacs = await Promise.all(
    clients.map((ip) => startUac({ target, ip, calls: 10, holdMs: HOLD_MS, rate: 50, timeoutS: 50 })),
  );
  const perPod = await until(
    env.cluster,
    '60 active calls over the 3 pods',
    async () => {
      const n = await Promise.all(pods.map((p) => activeCalls(env, p, 'scale')));
      return n.reduce((a, b) => a + b, 0) === 60 ? n : undefined;
    },
    { timeoutMs: 10_000, pollMs: 100 },
  );
  expect(perPod).toEqual([20, 20, 20]);

  const deletions = watchPodDeletions(env);
  const scaledAt = Date.now();
  expect(await env.kubectl('scale', 'sippbx/scale', '--replicas=1')).toContain('scaled');

  // Status: pods 1 and 2 draining with their calls, Draining=True, the StatefulSet still at 3.
  const status = await withDiagnostics(
    env,
    until(env.cluster, 'status with scale-1 and scale-2 draining', () => {
      const s = getSipPbx(env, 'scale')?.status;
      const draining = (s?.pods ?? []).filter((p) => p.state === 'draining');
      return draining.length === 2 && draining.every((p) => (p.activeCalls ?? 0) > 0) ? s : undefined;
    }),
  );
  expect(status.drainingReplicas).toBe(2);
  expect((status.pods ?? []).map((p) => [p.name, p.state, p.activeCalls])).toEqual([
    ['scale-0', 'running', 20],
    ['scale-1', 'draining', 20],
    ['scale-2', 'draining', 20],
  ]);
  expect(getCondition(status.conditions, 'Draining')?.status).toBe('True');
  expect(getCondition(status.conditions, 'Draining')?.message).toMatch(/scale-1.*scale-2|scale-2.*scale-1/);
  const sts = env.cluster.api.store.get('apps/v1/statefulsets', 'default', 'scale') as {
    spec?: { replicas?: number };
  };
  expect(sts.spec?.replicas).toBe(3);
  const table = await env.kubectl('get', 'pbx', 'scale');
  expect(table).toMatch(/scale\s+1\s+\d\s+2\s+60\s/);

  // New calls, once the Service has dropped the draining pods, go to pod 0 only.
  const pod0 = pods[0]?.status?.podIP ?? '';
  await env.cluster.proxy.waitForBackends(
    'default',
    'scale',
    5060,
    (b) => b.length === 1 && b[0] === `${pod0}:5060`,
    10_000,
  );
  const before = await Promise.all(pods.map((p) => callsTotal(p)));
  const fresh = await startUac({
    target,
    ip: '127.0.0.31',
    calls: NEW_CALLS,
    holdMs: 200,
    rate: 20,
    timeoutS: 20,
  });
  const freshResult = await fresh.done;
  expect(freshResult.exitCode, describeSipp('new calls', freshResult)).toBe(0);
  const after = await Promise.all(pods.slice(1).map((p) => callsTotal(p)));
  expect(after).toEqual(before.slice(1)); // pods 1 and 2: nothing new
  expect(await callsTotal(nth(pods, 0))).toBe((before[0] ?? 0) + NEW_CALLS);
  expect(deletions.seen.size).toBe(0); // still holding their calls

  // The callers hang up: everything completes normally.
  const results = await Promise.all(uacs.map((u) => u.done));
  const uasResult = await uas.done;
  await dumpLogs(env, Object.fromEntries(results.map((r, i) => [`uac-${clients[i] ?? i}.log`, r.messages])));
  results.forEach((r, i) => expect.soft(r.exitCode, describeSipp(`UAC ${clients[i] ?? ''}`, r)).toBe(0));
  expect.soft(uasResult.exitCode, describeSipp('UAS', uasResult)).toBe(0);
  const lastHangup = Math.max(...results.map((r) => r.endedAt));
  expect(lastHangup - scaledAt).toBeGreaterThan(HOLD_MS / 2);

  // Pods 1 and 2 go, and the StatefulSet is lowered to 1, only after their last call ended.
  await withDiagnostics(
    env,
    until(env.cluster, 'the StatefulSet at 1 replica and pods 1, 2 gone', () => {
      const s = env.cluster.api.store.get('apps/v1/statefulsets', 'default', 'scale') as {
        spec?: { replicas?: number };
      };
      const left = pbxPods(env, 'scale', 'default', true).map((p) => p.metadata.name);
      return s.spec?.replicas === 1 && left.length === 1 && left[0] === 'scale-0' ? true : undefined;
    }),
  );
  const ended = ['scale-0', 'scale-1', 'scale-2'].flatMap((p) => callEnded(env, p));
  for (const pod of ['scale-1', 'scale-2']) {
    const lastEnd = Math.max(...ended.filter((e) => e.pod === pod).map((e) => Date.parse(e.endTime)));
    const removedAt = deletions.seen.get(pod);
    expect(removedAt, `${pod} deleted`).toBeDefined();
    expect(removedAt ?? 0, `${pod} removed after its last call ended`).toBeGreaterThanOrEqual(lastEnd);
  }
  deletions.stop();
  // One CDR per call, none ended by the system (drain timeout, shutdown).
  expect(ended).toHaveLength(60 + NEW_CALLS);
  expect(new Set(ended.map((e) => e.callId)).size).toBe(60 + NEW_CALLS);
  expect(ended.filter((e) => e.endedBy === 'system')).toEqual([]);
  expect(ended.filter((e) => e.pod === 'scale-1' || e.pod === 'scale-2')).toHaveLength(40);
  const final = await until(env.cluster, 'status settled at 1 replica', () => {
    const s = getSipPbx(env, 'scale')?.status;
    return s?.replicas === 1 &&
      s.drainingReplicas === 0 &&
      getCondition(s.conditions, 'Ready')?.status === 'True'
      ? s
      : undefined;
  });
  expect(getCondition(final.conditions, 'Draining')?.status).toBe('False');
}, 85_000);
