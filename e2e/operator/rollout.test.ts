// Issue 8 "Done when" #4: a rollout (new image tag) with 30 active calls replaces every pod, highest
// ordinal first, each only after its calls finished (drain), with zero dropped calls; the final status
// has updatedReplicas == replicas.
import { expect, it } from 'vitest';
import { getCondition } from '../../operator/api/index.js';
import type { KubeObject } from '../../test/kube/index.js';
import { freeLocalPort } from '../harness/sipp.js';
import {
  activeCalls,
  callEnded,
  describeSipp,
  dumpLogs,
  type Env,
  getSipPbx,
  kubectlApply,
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

const HOLD_MS = 15_000;

it('replaces every pod highest ordinal first, each after its calls ended, dropping none', async () => {
  const uasPort = await freeLocalPort();
  const manifest = (image: string) =>
    sipPbxManifest({
      name: 'roll',
      replicas: 3,
      portStart: 46000,
      maxCallsPerPod: 20,
      uasPort,
      redisUrl: env.redis.url,
      image,
    });
  await kubectlApply(env, manifest('ghcr.io/sippbx/sippbx:0.1.0'));
  await withDiagnostics(env, waitForReady(env, 'roll', 3));
  const oldPods = pbxPods(env, 'roll');
  const oldUids = oldPods.map((p) => p.metadata.uid);
  const target = await env.cluster.serviceAddress('default', 'roll', 5060, 'UDP');

  const uas = await startUas(30, 60, uasPort);
  const clients = [41, 42, 43, 44, 45, 46].map((n) => `127.0.0.${n}`);
  const uacs = await Promise.all(
    clients.map((ip) => startUac({ target, ip, calls: 5, holdMs: HOLD_MS, rate: 50, timeoutS: 50 })),
  );
  await until(
    env.cluster,
    '30 active calls over the 3 pods',
    async () => {
      const n = await Promise.all(oldPods.map((p) => activeCalls(env, p, 'roll')));
      return n.every((x) => x === 10) ? n : undefined;
    },
    { timeoutMs: 10_000, pollMs: 100 },
  );

  const deletions = watchPodDeletions(env);
  const generation = getSipPbx(env, 'roll')?.metadata.generation ?? 0;
  await kubectlApply(env, manifest('ghcr.io/sippbx/sippbx:0.1.1'));
  // The rollout starts with pod 2 draining; the others keep serving.
  const first = await withDiagnostics(
    env,
    until(env.cluster, 'roll-2 draining for the rollout', () => {
      const s = getSipPbx(env, 'roll')?.status;
      const draining = (s?.pods ?? []).filter((p) => p.state === 'draining').map((p) => p.name);
      return s?.observedGeneration === generation + 1 && draining.length > 0 ? draining : undefined;
    }),
  );
  expect(first).toEqual(['roll-2']);
  expect(getCondition(getSipPbx(env, 'roll')?.status?.conditions, 'Progressing')?.reason).toBe('RollingOut');

  const results = await Promise.all(uacs.map((u) => u.done));
  const uasResult = await uas.done;
  await dumpLogs(env, Object.fromEntries(results.map((r, i) => [`uac-${clients[i] ?? i}.log`, r.messages])));
  results.forEach((r, i) => expect.soft(r.exitCode, describeSipp(`UAC ${clients[i] ?? ''}`, r)).toBe(0));
  expect.soft(uasResult.exitCode, describeSipp('UAS', uasResult)).toBe(0);

  const final = await withDiagnostics(
    env,
    until(
      env.cluster,
      'every pod replaced and Ready at the update revision',
      () => {
        const obj = getSipPbx(env, 'roll');
        const s = obj?.status;
        const pods = pbxPods(env, 'roll', 'default', true);
        const fresh = pods.filter(
          (p) => !oldUids.includes(p.metadata.uid) && p.metadata.deletionTimestamp === undefined,
        );
        return s !== undefined &&
          fresh.length === 3 &&
          pods.length === 3 &&
          s.updatedReplicas === 3 &&
          s.readyReplicas === 3 &&
          getCondition(s.conditions, 'Ready')?.status === 'True' &&
          getCondition(s.conditions, 'Progressing')?.status === 'False'
          ? s
          : undefined;
      },
      { timeoutMs: 40_000 },
    ),
  );
  deletions.stop();
  await dumpLogs(env);
  expect(final.replicas).toBe(3);
  for (const p of pbxPods(env, 'roll') as (KubeObject & { spec?: { containers?: { image?: string }[] } })[]) {
    expect(p.metadata.labels?.['controller-revision-hash']).toBe(final.updateRevision);
    expect(p.spec?.containers?.[0]?.image).toBe('ghcr.io/sippbx/sippbx:0.1.1');
  }
  // Highest ordinal first, and each old pod only after its last call ended.
  const order = [...deletions.seen.entries()].sort((a, b) => a[1] - b[1]).map(([n]) => n);
  expect(order).toEqual(['roll-2', 'roll-1', 'roll-0']);
  const ended = ['roll-0', 'roll-1', 'roll-2'].flatMap((p) => callEnded(env, p));
  for (const pod of ['roll-0', 'roll-1', 'roll-2']) {
    const mine = ended.filter((e) => e.pod === pod);
    expect(mine, pod).toHaveLength(10);
    const lastEnd = Math.max(...mine.map((e) => Date.parse(e.endTime)));
    expect(deletions.seen.get(pod) ?? 0, `${pod} replaced after its last call`).toBeGreaterThanOrEqual(
      lastEnd,
    );
  }
  expect(new Set(ended.map((e) => e.callId)).size).toBe(30);
  expect(ended.filter((e) => e.endedBy === 'system')).toEqual([]);
}, 85_000);
