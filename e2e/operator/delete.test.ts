// Issue 8 "Done when" #6: deleting a SipPbx drains per spec.drain.onDelete (Drain: a held call completes
// before the pods go; Immediate: the pods go at once), removes every child and cleans the instance's
// Redis keys (`sippbx:<ns>:<name>:`), leaving other keys alone.
import { expect, it } from 'vitest';
import { freeLocalPort } from '../harness/sipp.js';
import {
  activeCalls,
  callEnded,
  describeSipp,
  type Env,
  kubectlApply,
  nth,
  pbxPods,
  redisKeys,
  redisSet,
  SIPPBX,
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
useOperatorEnv(
  {
    mode: 'chart',
    replicas: 1,
    setup: async ({ redis }) => {
      await redisSet(redis.url, 'unrelated:key', 'x');
      await redisSet(redis.url, 'sippbx:default:other:calls:x', 'y');
    },
  },
  (started) => (env = started),
);

const CHILDREN: [string, (n: string) => string][] = [
  ['apps/v1/statefulsets', (n) => n],
  ['v1/services', (n) => n],
  ['v1/services', (n) => `${n}-headless`],
  ['v1/services', (n) => `${n}-metrics`],
  ['v1/configmaps', (n) => `${n}-config`],
  ['v1/configmaps', (n) => `${n}-port-plan`],
  ['v1/secrets', (n) => `${n}-admin-token`],
  ['policy/v1/poddisruptionbudgets', (n) => n],
];

function childrenLeft(name: string): string[] {
  return CHILDREN.filter(([r, f]) => env.cluster.api.store.find(r, 'default', f(name)) !== undefined).map(
    ([r, f]) => `${r}/${f(name)}`,
  );
}

async function deployWithHeldCall(
  name: string,
  portStart: number,
  onDelete: 'Drain' | 'Immediate',
  holdMs: number,
) {
  const uasPort = await freeLocalPort();
  await kubectlApply(
    env,
    sipPbxManifest({
      name,
      replicas: 1,
      portStart,
      maxCallsPerPod: 10,
      uasPort,
      redisUrl: env.redis.url,
      onDelete,
    }),
  );
  await withDiagnostics(env, waitForReady(env, name, 1));
  expect(childrenLeft(name)).toHaveLength(CHILDREN.length);
  const pod = nth(pbxPods(env, name), 0);
  const target = await env.cluster.serviceAddress('default', name, 5060, 'UDP');
  const uas = await startUas(1, 30, uasPort);
  const uac = await startUac({ target, ip: '127.0.0.61', calls: 1, holdMs, timeoutS: 30 });
  await until(
    env.cluster,
    'the call up',
    async () => ((await activeCalls(env, pod, name)) === 1 ? true : undefined),
    {
      timeoutMs: 10_000,
      pollMs: 100,
    },
  );
  const keys = await redisKeys(env.redis.url, `sippbx:default:${name}:*`);
  expect(keys.length).toBeGreaterThan(0); // the registry holds the call and the pod
  return { uas, uac };
}

async function gone(name: string): Promise<void> {
  await withDiagnostics(
    env,
    until(
      env.cluster,
      `SipPbx ${name}, its pods and children gone`,
      () =>
        env.cluster.api.store.find(SIPPBX, 'default', name) === undefined &&
        pbxPods(env, name, 'default', true).length === 0 &&
        childrenLeft(name).length === 0
          ? true
          : undefined,
      {
        timeoutMs: 30_000,
        resources: [SIPPBX, 'v1/pods', 'apps/v1/statefulsets', 'v1/services', 'v1/configmaps'],
      },
    ),
  );
}

it('onDelete Drain: the held call completes before the pods go; children and Redis keys are removed', async () => {
  const { uas, uac } = await deployWithHeldCall('keep', 50000, 'Drain', 6000);
  const deletions = watchPodDeletions(env);
  await env.kubectl('delete', 'sippbx', 'keep', '--wait=false');
  const [uacResult, uasResult] = await Promise.all([uac.done, uas.done]);
  expect(uacResult.exitCode, describeSipp('UAC', uacResult)).toBe(0);
  expect(uasResult.exitCode, describeSipp('UAS', uasResult)).toBe(0);
  await gone('keep');
  deletions.stop();
  const ended = callEnded(env, 'keep-0');
  expect(ended).toHaveLength(1);
  expect(ended[0]?.endedBy).toBe('caller');
  expect(deletions.seen.get('keep-0') ?? 0).toBeGreaterThanOrEqual(Date.parse(ended[0]?.endTime ?? ''));
  expect(await redisKeys(env.redis.url, 'sippbx:default:keep:*')).toEqual([]);
  expect(await redisKeys(env.redis.url)).toEqual(['sippbx:default:other:calls:x', 'unrelated:key']);
}, 60_000);

it('onDelete Immediate: the pods go at once (the held call is ended), children and Redis keys are removed', async () => {
  const { uas, uac } = await deployWithHeldCall('now', 50200, 'Immediate', 20_000);
  const deletions = watchPodDeletions(env);
  const deletedAt = Date.now();
  await env.kubectl('delete', 'sippbx', 'now', '--wait=false');
  await gone('now');
  deletions.stop();
  // Removed well before the 20 s hold would have ended.
  expect((deletions.seen.get('now-0') ?? Infinity) - deletedAt).toBeLessThan(10_000);
  uac.child.kill('SIGKILL');
  uas.child.kill('SIGKILL');
  await Promise.all([uac.done, uas.done]);
  expect(await redisKeys(env.redis.url, 'sippbx:default:now:*')).toEqual([]);
  expect(await redisKeys(env.redis.url)).toEqual(['sippbx:default:other:calls:x', 'unrelated:key']);
}, 60_000);
