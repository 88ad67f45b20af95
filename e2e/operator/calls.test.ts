// Issue 8 "Done when" #2: calls through the SIP Service of a 3-replica SipPbx spread over the pods and all
// succeed. SIPp callers on several client addresses (the Service has ClientIP affinity) call the Service
// address; the pbx routes (spec.config.routes) to a SIPp callee on 127.0.0.1.
import { expect, it } from 'vitest';
import { freeLocalPort } from '../harness/sipp.js';
import {
  callEnded,
  callsTotal,
  describeSipp,
  type Env,
  kubectlApply,
  pbxPods,
  sipPbxManifest,
  startUac,
  startUas,
  useOperatorEnv,
  waitForReady,
  withDiagnostics,
} from './harness.js';

let env: Env;
useOperatorEnv({ mode: 'chart', replicas: 1 }, (started) => (env = started));

it('30 calls through the SIP Service from 5 client addresses spread over 3 pods and all succeed', async () => {
  const uasPort = await freeLocalPort();
  await kubectlApply(
    env,
    sipPbxManifest({
      name: 'calls',
      replicas: 3,
      portStart: 42000,
      maxCallsPerPod: 20,
      uasPort,
      redisUrl: env.redis.url,
    }),
  );
  await withDiagnostics(env, waitForReady(env, 'calls', 3));
  const target = await env.cluster.serviceAddress('default', 'calls', 5060, 'UDP');
  const uas = await startUas(30, 40, uasPort);
  const clients = ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14', '127.0.0.15'];
  const uacs = await Promise.all(
    clients.map((ip) => startUac({ target, ip, calls: 6, holdMs: 300, rate: 10, timeoutS: 30 })),
  );
  const results = await Promise.all(uacs.map((u) => u.done));
  const uasResult = await uas.done;
  results.forEach((r, i) => expect(r.exitCode, describeSipp(`UAC ${clients[i] ?? ''}`, r)).toBe(0));
  expect(uasResult.exitCode, describeSipp('UAS', uasResult)).toBe(0);
  expect(results.reduce((n, r) => n + (r.stats?.successful ?? 0), 0)).toBe(30);

  // Spread: every pod took calls (sippbx_calls_total), and together exactly the 30.
  const pods = pbxPods(env, 'calls');
  const perPod = await Promise.all(pods.map((p) => callsTotal(p)));
  for (const [i, n] of perPod.entries())
    expect(n, `calls on ${pods[i]?.metadata.name ?? ''}`).toBeGreaterThan(0);
  expect(perPod.reduce((a, b) => a + b, 0)).toBe(30);
  // One call.ended per call, each ended by a party, none by the system.
  const ended = pods.flatMap((p) => callEnded(env, p.metadata.name ?? ''));
  expect(ended).toHaveLength(30);
  expect(new Set(ended.map((e) => e.callId)).size).toBe(30);
  expect(ended.filter((e) => e.endedBy === 'system')).toEqual([]);
}, 80_000);
