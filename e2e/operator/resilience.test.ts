// Issue 8 "Done when" #5: two operator replicas (the chart's Deployment, run as pods by the kubelet): only
// the Lease holder acts; the leader killed in the middle of a scale-down drain is replaced by the other
// replica, which resumes the drain from the pod annotations (no second drain request), and the
// StatefulSet is lowered once the held calls end.
import { expect, it } from 'vitest';
import { freeLocalPort } from '../harness/sipp.js';
import {
  activeCalls,
  describeSipp,
  type Env,
  getSipPbx,
  isPodReady,
  kubectlApply,
  leaseHolder,
  nth,
  OPERATOR_NS,
  operatorPods,
  pbxPods,
  sipPbxManifest,
  startUac,
  startUas,
  until,
  useOperatorEnv,
  waitForOperator,
  waitForReady,
  withDiagnostics,
} from './harness.js';

let env: Env;
// The test itself waits for the two operator replicas (and names the leader).
useOperatorEnv({ mode: 'chart', replicas: 2, waitForOperators: 0 }, (started) => (env = started));

/** Log lines of an operator pod that only a reconciling (leading) operator writes. */
function actions(pod: string): string[] {
  return env.cluster
    .logs(pod, OPERATOR_NS)
    .split('\n')
    .filter((l) => /"msg":"(applied|pod drained|workers started)"/.test(l));
}

const DRAIN_STARTED = 'sippbx.dev/drain-started';

it('only the leader acts; a killed leader mid-drain is replaced and the drain resumes', async () => {
  const leader = await withDiagnostics(env, waitForOperator(env, 2));
  const names = operatorPods(env).map((p) => p.metadata.name ?? '');
  expect(names).toHaveLength(2);
  expect(names).toContain(leader);
  const standby = names.find((n) => n !== leader) ?? '';

  const uasPort = await freeLocalPort();
  await kubectlApply(
    env,
    sipPbxManifest({
      name: 'res',
      replicas: 2,
      portStart: 48000,
      maxCallsPerPod: 20,
      uasPort,
      redisUrl: env.redis.url,
    }),
  );
  await withDiagnostics(env, waitForReady(env, 'res', 2));
  // Only the leader reconciled: the standby wrote no action, the leader did.
  expect(actions(leader).length).toBeGreaterThan(0);
  expect(actions(standby)).toEqual([]);

  // Calls on both pods (4 client addresses, ClientIP affinity), held for 12 s.
  const pods = pbxPods(env, 'res');
  const target = await env.cluster.serviceAddress('default', 'res', 5060, 'UDP');
  const uas = await startUas(8, 45, uasPort);
  const clients = ['127.0.0.51', '127.0.0.52', '127.0.0.53', '127.0.0.54'];
  const uacs = await Promise.all(
    clients.map((ip) => startUac({ target, ip, calls: 2, holdMs: 12_000, rate: 20, timeoutS: 40 })),
  );
  await until(
    env.cluster,
    '8 active calls over the 2 pods',
    async () => {
      const n = await Promise.all(pods.map((p) => activeCalls(env, p, 'res')));
      return n.every((x) => x === 4) ? n : undefined;
    },
    { timeoutMs: 10_000, pollMs: 100 },
  );

  await env.kubectl('scale', 'sippbx/res', '--replicas=1');
  const startedAt = await withDiagnostics(
    env,
    until(env.cluster, 'res-1 draining', () => {
      const pod = pbxPods(env, 'res').find((p) => p.metadata.name === 'res-1');
      const s = getSipPbx(env, 'res')?.status?.pods?.find((p) => p.name === 'res-1');
      const ann = pod?.metadata.annotations?.[DRAIN_STARTED];
      return ann !== undefined && s?.state === 'draining' ? ann : undefined;
    }),
  );

  // Kill the leader mid-drain (kubectl delete pod: SIGTERM, as a node drain or a crash-looping node
  // would); the standby takes the Lease and the Deployment starts a replacement.
  await env.kubectl('delete', 'pod', '-n', OPERATOR_NS, leader, '--wait=false');
  const newLeader = await withDiagnostics(
    env,
    until(
      env.cluster,
      'a new Lease holder',
      () => {
        const h = leaseHolder(env);
        return h !== undefined && h !== leader ? h : undefined;
      },
      { resources: ['coordination.k8s.io/v1/leases'], timeoutMs: 30_000 },
    ),
  );
  // The standby or the Deployment's replacement pod, whichever campaigned first.
  expect(operatorPods(env).map((p) => p.metadata.name)).toContain(newLeader);
  // The drain is still running: pod 1 still holds its calls; the StatefulSet is still at 2.
  expect(await activeCalls(env, nth(pods, 1), 'res')).toBe(4);
  const sts = () =>
    env.cluster.api.store.get('apps/v1/statefulsets', 'default', 'res') as { spec?: { replicas?: number } };
  expect(sts().spec?.replicas).toBe(2);

  // The held calls end; the new leader completes the drain and lowers the StatefulSet.
  const results = await Promise.all(uacs.map((u) => u.done));
  const uasResult = await uas.done;
  results.forEach((r, i) => expect.soft(r.exitCode, describeSipp(`UAC ${clients[i] ?? ''}`, r)).toBe(0));
  expect.soft(uasResult.exitCode, describeSipp('UAS', uasResult)).toBe(0);
  await withDiagnostics(
    env,
    until(env.cluster, 'the StatefulSet lowered to 1 and res-1 gone', () => {
      const left = pbxPods(env, 'res', 'default', true).map((p) => p.metadata.name);
      return sts().spec?.replicas === 1 && left.length === 1 ? true : undefined;
    }),
  );
  // Resumed, not restarted: the drain kept its start time and the operator asked the pbx to drain once
  // (its requests carry deadlineSeconds; the pod's preStop hook posts `{}` when the pod is deleted).
  const drainPosts = env.cluster
    .logs('res-1')
    .split('\n')
    .filter((l) => l.includes('drain requested through the API') && l.includes('"deadlineSeconds"'));
  expect(drainPosts, env.cluster.logs('res-1')).toHaveLength(1);
  expect(actions(newLeader).some((l) => l.includes('"pod":"res-1"') && l.includes('pod drained'))).toBe(true);
  expect(actions(leader).some((l) => l.includes('pod drained'))).toBe(false);
  // Whoever did not lead never acted.
  for (const other of operatorPods(env).map((p) => p.metadata.name ?? ''))
    if (other !== newLeader) expect(actions(other), other).toEqual([]);
  const events = env.cluster.api.store
    .list('v1/events', 'default')
    .filter((e) => (e as { reason?: string }).reason === 'DrainStarted');
  expect(events.length).toBe(1);
  expect(startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  // Two operator pods again (the Deployment replaced the deleted one), one of them leading.
  await until(env.cluster, 'two Ready operator pods', () =>
    operatorPods(env).filter(isPodReady).length === 2 ? true : undefined,
  );
  expect(leaseHolder(env)).toBe(newLeader);
}, 85_000);
