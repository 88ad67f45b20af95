// StatefulSet controller + kubelet against the in-process API server: ordering, scale-down, updates.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1ControllerRevision, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from './cluster.js';
import type { Cluster } from './cluster.js';
import { ECHO_IMAGES, echoStatefulSet, podReady, watch, watchPods } from './controllers/testing.js';
import type { Watcher } from './controllers/testing.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const NS = 'default';

let cluster: Cluster;
let pods: Watcher<V1Pod>;
let apps: AppsV1Api;
let core: CoreV1Api;
let markers: string;

beforeAll(async () => {
  markers = fs.mkdtempSync(path.join(os.tmpdir(), 'sts-markers-'));
  cluster = await startCluster({ images: ECHO_IMAGES });
  apps = cluster.kc.makeApiClient(AppsV1Api);
  core = cluster.kc.makeApiClient(CoreV1Api);
  pods = await watchPods(cluster.kc);
});

afterAll(async () => {
  await pods?.stop();
  await cluster?.stop();
  fs.rmSync(markers, { recursive: true, force: true });
});

const of = (set: string) => (list: readonly V1Pod[]) =>
  list
    .filter((p) => p.metadata?.labels?.app === set)
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
const revision = (p: V1Pod | undefined) => p?.metadata?.labels?.['controller-revision-hash'];
const allReady = (set: string, n: number) => (l: readonly V1Pod[]) => {
  const mine = of(set)(l);
  return mine.length === n && mine.every((p) => podReady(p) && !p.metadata?.deletionTimestamp);
};

async function scale(name: string, replicas: number): Promise<void> {
  await apps.patchNamespacedStatefulSetScale(
    { namespace: NS, name, body: { spec: { replicas } } },
    mergePatch,
  );
}

/** Changes the template (env VERSION); a read-modify-write retried on 409 like any client. */
async function setVersion(name: string, version: string): Promise<void> {
  for (;;) {
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name });
    const container = sts.spec?.template.spec?.containers[0];
    if (container === undefined) throw new Error('no container');
    container.env = (container.env ?? []).map((e) =>
      e.name === 'VERSION' ? { name: 'VERSION', value: version } : e,
    );
    try {
      await apps.replaceNamespacedStatefulSet({ namespace: NS, name, body: sts });
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}

describe('StatefulSet OrderedReady', () => {
  it('comes up in order on distinct 127.0.1.N addresses; scale 3 -> 1 deletes 2 then 1 with preStop and SIGTERM', async () => {
    const preStop = path.join(markers, 'prestop');
    await apps.createNamespacedStatefulSet({
      namespace: NS,
      body: echoStatefulSet('web', 3, { markerDir: markers, preStopFile: preStop }),
    });
    const web = of('web')(await pods.until(allReady('web', 3), '3 ready pods of web'));
    // Ordering: pod i was created only after pod i-1 had been seen Ready.
    const seenReady = new Set<string>();
    for (const ev of pods.events) {
      const name = ev.obj.metadata?.name ?? '';
      if (!name.startsWith('web-')) continue;
      if (ev.verb === 'add' && name !== 'web-0')
        expect(seenReady.has(`web-${Number(name.slice(4)) - 1}`)).toBe(true);
      if (podReady(ev.obj)) seenReady.add(name);
    }
    expect(web.map((p) => p.metadata?.name)).toEqual(['web-0', 'web-1', 'web-2']);
    const ips = web.map((p) => p.status?.podIP ?? '');
    expect(new Set(ips).size).toBe(3);
    for (const ip of ips) expect(ip).toMatch(/^127\.0\.1\.\d+$/);
    for (const [i, p] of web.entries()) {
      expect(p.metadata?.labels?.['statefulset.kubernetes.io/pod-name']).toBe(`web-${i}`);
      expect(p.metadata?.labels?.['apps.kubernetes.io/pod-index']).toBe(String(i));
      expect(revision(p)).toBe(revision(web[0]));
      expect(p.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: 'StatefulSet',
        name: 'web',
        controller: true,
      });
      expect(p.spec?.hostname).toBe(`web-${i}`);
    }
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'web' });
    expect(sts.status).toMatchObject({
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      observedGeneration: 1,
    });
    expect(sts.status?.currentRevision).toBe(revision(web[0]));
    expect(revision(web[0])).toMatch(/^web-[a-z0-9]+$/);

    pods.events.length = 0;
    await scale('web', 1);
    await pods.until((l) => of('web')(l).length === 1, 'web scaled to 1');
    const deletions = pods.events.filter((e) => e.verb === 'delete').map((e) => e.obj.metadata?.name);
    expect(deletions).toEqual(['web-2', 'web-1']);
    const terminating1 = pods.events.findIndex(
      (e) => e.obj.metadata?.name === 'web-1' && e.obj.metadata.deletionTimestamp,
    );
    const gone2 = pods.events.findIndex((e) => e.verb === 'delete' && e.obj.metadata?.name === 'web-2');
    expect(terminating1).toBeGreaterThan(gone2);
    for (const n of ['web-1', 'web-2']) {
      expect(fs.existsSync(path.join(markers, `${n}.sigterm`))).toBe(true);
      expect(fs.existsSync(`${preStop}.${n}`)).toBe(true);
      expect(cluster.logs(n)).toContain(`SIGTERM ${n}`);
    }
    expect(fs.existsSync(path.join(markers, 'web-0.sigterm'))).toBe(false);
  });
});

describe('StatefulSet after dropped watches', () => {
  it('controllers and kubelet reconnect and keep reconciling (scale 1 -> 2)', async () => {
    cluster.api.dropWatches();
    await scale('web', 2);
    await pods.until(allReady('web', 2), 'web back at 2');
  });
});

describe('StatefulSet updates', () => {
  it('RollingUpdate replaces pods highest ordinal first, one at a time after Ready; revisions recorded', async () => {
    await apps.createNamespacedStatefulSet({
      namespace: NS,
      body: echoStatefulSet('roll', 3, { policy: 'Parallel' }),
    });
    const before = of('roll')(await pods.until(allReady('roll', 3), 'roll up'));
    const oldRev = revision(before[0]);
    pods.events.length = 0;
    await setVersion('roll', 'v2');
    const after = of('roll')(
      await pods.until(
        (l) => allReady('roll', 3)(l) && of('roll')(l).every((p) => revision(p) !== oldRev),
        'roll updated',
      ),
    );
    const newRev = revision(after[0]);
    expect(newRev).not.toBe(oldRev);
    const deletions = pods.events.filter((e) => e.verb === 'delete').map((e) => e.obj.metadata?.name);
    expect(deletions).toEqual(['roll-2', 'roll-1', 'roll-0']);
    // One at a time: roll-1 was deleted only after the new roll-2 had been Ready.
    const newTwoReady = pods.events.findIndex(
      (e) => e.obj.metadata?.name === 'roll-2' && revision(e.obj) === newRev && podReady(e.obj),
    );
    const oneTerminating = pods.events.findIndex(
      (e) => e.obj.metadata?.name === 'roll-1' && e.obj.metadata.deletionTimestamp,
    );
    expect(newTwoReady).toBeGreaterThanOrEqual(0);
    expect(oneTerminating).toBeGreaterThan(newTwoReady);
    const revs = await watch<V1ControllerRevision>(
      cluster.kc,
      '/apis/apps/v1/controllerrevisions',
      () => apps.listControllerRevisionForAllNamespaces(),
      NS,
    );
    const mine = await revs.until(
      (l) => l.filter((r) => r.metadata?.name?.startsWith('roll-')).length === 2,
      'two revisions',
    );
    await revs.stop();
    const byName = new Map(mine.map((r) => [r.metadata?.name, r.revision]));
    expect(byName.get(oldRev)).toBe(1);
    expect(byName.get(newRev)).toBe(2);
    const sts = await apps.readNamespacedStatefulSet({ namespace: NS, name: 'roll' });
    expect(sts.status).toMatchObject({ currentRevision: newRev, updateRevision: newRev, updatedReplicas: 3 });
  });

  it('RollingUpdate with a partition only replaces ordinals >= partition', async () => {
    await apps.patchNamespacedStatefulSet(
      {
        namespace: NS,
        name: 'roll',
        body: { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } } },
      },
      mergePatch,
    );
    const v2 = revision(of('roll')(pods.list())[0]);
    await setVersion('roll', 'v3');
    const l = of('roll')(
      await pods.until((x) => allReady('roll', 3)(x) && revision(of('roll')(x)[2]) !== v2, 'roll-2 on v3'),
    );
    expect(revision(l[0])).toBe(v2);
    expect(revision(l[1])).toBe(v2);
    // History: with revisionHistoryLimit 0 only the revisions pods still use (v2, v3) are kept.
    await apps.patchNamespacedStatefulSet(
      { namespace: NS, name: 'roll', body: { spec: { revisionHistoryLimit: 0 } } },
      mergePatch,
    );
    const revs = await watch<V1ControllerRevision>(
      cluster.kc,
      '/apis/apps/v1/controllerrevisions',
      () => apps.listControllerRevisionForAllNamespaces(),
      NS,
    );
    const kept = await revs.until(
      (x) => x.filter((r) => r.metadata?.name?.startsWith('roll-')).length === 2,
      'history pruned',
    );
    await revs.stop();
    expect(
      kept
        .filter((r) => r.metadata?.name?.startsWith('roll-'))
        .map((r) => r.metadata?.name)
        .sort(),
    ).toEqual([v2, revision(l[2])].sort());
  });

  it('OnDelete does not replace pods on a template change until they are deleted; then at updateRevision', async () => {
    await apps.createNamespacedStatefulSet({
      namespace: NS,
      body: echoStatefulSet('ondel', 2, { policy: 'Parallel', strategy: { type: 'OnDelete' } }),
    });
    const before = of('ondel')(await pods.until(allReady('ondel', 2), 'ondel up'));
    const oldRev = revision(before[0]);
    await setVersion('ondel', 'v2');
    const sts = await watch(
      cluster.kc,
      '/apis/apps/v1/statefulsets',
      () => apps.listStatefulSetForAllNamespaces(),
      NS,
    );
    const [set] = (
      await sts.until(
        (l) =>
          l.some(
            (s) =>
              s.metadata?.name === 'ondel' &&
              s.status?.updateRevision !== undefined &&
              s.status.updateRevision !== oldRev,
          ),
        'new updateRevision',
      )
    ).filter((s) => s.metadata?.name === 'ondel');
    await sts.stop();
    const updateRev = set?.status?.updateRevision;
    expect(set?.status?.currentRevision).toBe(oldRev);
    expect(set?.status?.updatedReplicas).toBe(0);
    // Nothing was replaced: same pods (uids), old revision.
    const now = of('ondel')(pods.list());
    expect(now.map((p) => p.metadata?.uid)).toEqual(before.map((p) => p.metadata?.uid));
    expect(now.every((p) => revision(p) === oldRev)).toBe(true);
    await core.deleteNamespacedPod({ namespace: NS, name: 'ondel-1' });
    const after = of('ondel')(
      await pods.until(
        (l) => allReady('ondel', 2)(l) && revision(of('ondel')(l)[1]) === updateRev,
        'ondel-1 recreated',
      ),
    );
    expect(revision(after[0])).toBe(oldRev);
    expect(after[0]?.metadata?.uid).toBe(before[0]?.metadata?.uid);
  });
});
