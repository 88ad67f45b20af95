// Pure StatefulSet, Deployment and Endpoints controller logic (no server).
import type { V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { deploymentStatus, newReplicaSet, planReplicaSet } from './controllers/deployment-plan.js';
import { computeEndpoints, readyBackends, resolveTargetPort } from './controllers/endpoints-plan.js';
import { canonicalJson, templateHash } from './controllers/revision.js';
import {
  newControllerRevision,
  newStatefulSetPod,
  ordinalOf,
  planStatefulSet,
  podName,
  revisionHashOf,
  snapshotOf,
  statefulSetStatus,
  templateOfRevision,
} from './controllers/statefulset-plan.js';
import type { SetSnapshot } from './controllers/statefulset-plan.js';

function set(spec: Partial<NonNullable<V1StatefulSet['spec']>> = {}): V1StatefulSet {
  return {
    metadata: { name: 'sip', namespace: 'voice', uid: 'uid-1', generation: 4 },
    spec: {
      replicas: 3,
      serviceName: 'sip-headless',
      selector: { matchLabels: { app: 'sip' } },
      template: {
        metadata: { labels: { app: 'sip' } },
        spec: { containers: [{ name: 'pbx', image: 'ghcr.io/sippbx/sippbx:1' }] },
      },
      ...spec,
    },
  };
}

function pod(
  ordinal: number,
  rev: string,
  state: 'ready' | 'running' | 'pending' | 'terminating' | 'failed' = 'ready',
): V1Pod {
  return {
    metadata: {
      name: `sip-${ordinal}`,
      labels: { 'controller-revision-hash': rev },
      ...(state === 'terminating' ? { deletionTimestamp: new Date() } : {}),
    },
    status: {
      phase: state === 'pending' ? 'Pending' : state === 'failed' ? 'Failed' : 'Running',
      conditions: [
        { type: 'Ready', status: state === 'ready' || state === 'terminating' ? 'True' : 'False' },
      ],
    },
  };
}

function snap(pods: V1Pod[], over: Partial<SetSnapshot> = {}): SetSnapshot {
  return {
    name: 'sip',
    replicas: 3,
    policy: 'OrderedReady',
    strategy: { type: 'RollingUpdate', partition: 0 },
    currentRevision: 'r1',
    updateRevision: 'r1',
    pods: new Map(pods.map((p) => [ordinalOf('sip', p.metadata?.name ?? '') ?? -1, p])),
    ...over,
  };
}

describe('identity', () => {
  it('names pods <set>-<ordinal> and parses only canonical ordinals', () => {
    expect(podName('sip', 0)).toBe('sip-0');
    expect(ordinalOf('sip', 'sip-12')).toBe(12);
    for (const bad of ['sip-', 'sip-01', 'sip-x', 'sipx-1', 'sip-1-2', 'other-1'])
      expect(ordinalOf('sip', bad)).toBeUndefined();
  });

  it('builds the pod of an ordinal: identity labels, hostname, subdomain, controller owner reference', () => {
    const s = set();
    const p = newStatefulSetPod(s, s.spec?.template ?? {}, 2, 'sip-abc');
    expect(p.metadata?.name).toBe('sip-2');
    expect(p.metadata?.namespace).toBe('voice');
    expect(p.metadata?.labels).toEqual({
      app: 'sip',
      'statefulset.kubernetes.io/pod-name': 'sip-2',
      'apps.kubernetes.io/pod-index': '2',
      'controller-revision-hash': 'sip-abc',
    });
    expect(p.spec?.hostname).toBe('sip-2');
    expect(p.spec?.subdomain).toBe('sip-headless');
    expect(p.metadata?.ownerReferences).toEqual([
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        name: 'sip',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });
});

describe('revisions', () => {
  it('hashes templates stably (key order does not matter) and differently per content', () => {
    const a = { metadata: { labels: { a: '1', b: '2' } }, spec: { containers: [{ name: 'c', image: 'x' }] } };
    const b = { spec: { containers: [{ image: 'x', name: 'c' }] }, metadata: { labels: { b: '2', a: '1' } } };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(templateHash(a)).toBe(templateHash(b));
    expect(templateHash(a)).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(templateHash({ ...a, spec: { containers: [{ name: 'c', image: 'y' }] } })).not.toBe(
      templateHash(a),
    );
    expect(templateHash(a, 1)).not.toBe(templateHash(a));
  });

  it('records the template in a ControllerRevision owned by the set', () => {
    const s = set();
    const rev = newControllerRevision(s, 3);
    expect(rev.metadata?.name).toBe(`sip-${revisionHashOf(s)}`);
    expect(rev.revision).toBe(3);
    expect(rev.metadata?.labels?.['controller.kubernetes.io/hash']).toBe(revisionHashOf(s));
    expect(rev.metadata?.ownerReferences?.[0]?.controller).toBe(true);
    expect(templateOfRevision(rev)).toEqual(s.spec?.template);
  });
});

describe('planStatefulSet: OrderedReady', () => {
  it('creates only the lowest missing ordinal, and only once its predecessors are Running and Ready', () => {
    expect(planStatefulSet(snap([]))).toEqual([{ kind: 'create', ordinal: 0, revision: 'r1' }]);
    expect(planStatefulSet(snap([pod(0, 'r1', 'running')]))).toEqual([]);
    expect(planStatefulSet(snap([pod(0, 'r1', 'pending')]))).toEqual([]);
    expect(planStatefulSet(snap([pod(0, 'r1')]))).toEqual([{ kind: 'create', ordinal: 1, revision: 'r1' }]);
    expect(planStatefulSet(snap([pod(0, 'r1'), pod(1, 'r1')]))).toEqual([
      { kind: 'create', ordinal: 2, revision: 'r1' },
    ]);
    expect(planStatefulSet(snap([pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r1')]))).toEqual([]);
  });

  it('replaces a failed pod before going on', () => {
    expect(planStatefulSet(snap([pod(0, 'r1', 'failed'), pod(1, 'r1')]))).toEqual([
      { kind: 'delete', ordinal: 0, reason: 'failed' },
    ]);
  });

  it('scales down highest ordinal first, one at a time, waiting for each termination', () => {
    const five = [0, 1, 2, 3, 4].map((i) => pod(i, 'r1'));
    expect(planStatefulSet(snap(five, { replicas: 2 }))).toEqual([
      { kind: 'delete', ordinal: 4, reason: 'condemned' },
    ]);
    const four = [...five.slice(0, 4), pod(4, 'r1', 'terminating')];
    expect(planStatefulSet(snap(four, { replicas: 2 }))).toEqual([]);
    expect(planStatefulSet(snap(five.slice(0, 4), { replicas: 2 }))).toEqual([
      { kind: 'delete', ordinal: 3, reason: 'condemned' },
    ]);
  });

  it('does not scale down while a remaining replica is unhealthy', () => {
    expect(
      planStatefulSet(snap([pod(0, 'r1', 'running'), pod(1, 'r1'), pod(2, 'r1')], { replicas: 1 })),
    ).toEqual([]);
  });
});

describe('planStatefulSet: Parallel', () => {
  it('creates and deletes all at once', () => {
    expect(planStatefulSet(snap([], { policy: 'Parallel' })).map((a) => a.kind + a.ordinal)).toEqual([
      'create0',
      'create1',
      'create2',
    ]);
    const five = [0, 1, 2, 3, 4].map((i) => pod(i, 'r1', 'running'));
    expect(
      planStatefulSet(snap(five, { policy: 'Parallel', replicas: 2 })).map((a) => a.kind + a.ordinal),
    ).toEqual(['delete4', 'delete3', 'delete2']);
  });
});

describe('planStatefulSet: updates', () => {
  const old = [0, 1, 2].map((i) => pod(i, 'r1'));
  const rolling = { updateRevision: 'r2' };

  it('RollingUpdate deletes the highest ordinal not on updateRevision, one at a time after Ready', () => {
    expect(planStatefulSet(snap(old, rolling))).toEqual([{ kind: 'delete', ordinal: 2, reason: 'update' }]);
    const two = [pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r1', 'terminating')];
    expect(planStatefulSet(snap(two, rolling))).toEqual([]);
    // The recreated pod 2 gets the update revision.
    expect(planStatefulSet(snap(old.slice(0, 2), rolling))).toEqual([
      { kind: 'create', ordinal: 2, revision: 'r2' },
    ]);
    expect(planStatefulSet(snap([pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r2', 'running')], rolling))).toEqual([]);
    expect(planStatefulSet(snap([pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r2')], rolling))).toEqual([
      { kind: 'delete', ordinal: 1, reason: 'update' },
    ]);
  });

  it('RollingUpdate with a partition leaves lower ordinals (and recreates them) on currentRevision', () => {
    const partitioned = { ...rolling, strategy: { type: 'RollingUpdate' as const, partition: 2 } };
    expect(planStatefulSet(snap([pod(0, 'r1'), pod(1, 'r1'), pod(2, 'r2')], partitioned))).toEqual([]);
    expect(planStatefulSet(snap([pod(0, 'r1'), pod(2, 'r2')], partitioned))).toEqual([
      { kind: 'create', ordinal: 1, revision: 'r1' },
    ]);
  });

  it('OnDelete never deletes for an update, and recreates deleted pods at updateRevision', () => {
    const onDelete = { ...rolling, strategy: { type: 'OnDelete' as const } };
    expect(planStatefulSet(snap(old, onDelete))).toEqual([]);
    expect(planStatefulSet(snap([pod(0, 'r1'), pod(2, 'r1')], onDelete))).toEqual([
      { kind: 'create', ordinal: 1, revision: 'r2' },
    ]);
  });
});

describe('statefulSetStatus', () => {
  it('counts replicas, ready, current and updated pods; completes a rolling update', () => {
    const s = set();
    const mixed = statefulSetStatus(s, [pod(0, 'r1'), pod(1, 'r1', 'running'), pod(2, 'r2')], 'r1', 'r2');
    expect(mixed).toMatchObject({
      observedGeneration: 4,
      replicas: 3,
      readyReplicas: 2,
      currentReplicas: 2,
      updatedReplicas: 1,
      currentRevision: 'r1',
      updateRevision: 'r2',
    });
    const done = statefulSetStatus(s, [pod(0, 'r2'), pod(1, 'r2'), pod(2, 'r2')], 'r1', 'r2');
    expect(done).toMatchObject({ currentRevision: 'r2', currentReplicas: 3, updatedReplicas: 3 });
    const onDelete = set({ updateStrategy: { type: 'OnDelete' } });
    expect(statefulSetStatus(onDelete, [pod(0, 'r2')], 'r1', 'r2').currentRevision).toBe('r1');
  });

  it('snapshots only pods with an ordinal of the set', () => {
    const s = snapshotOf(set(), [pod(0, 'r1'), { metadata: { name: 'other-1' } }], 'r1', 'r1');
    expect([...s.pods.keys()]).toEqual([0]);
    expect(s.strategy).toEqual({ type: 'RollingUpdate', partition: 0 });
  });
});

describe('Deployment and ReplicaSet', () => {
  const deploy = {
    metadata: { name: 'op', namespace: 'sys', uid: 'd1', generation: 2 },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'op' } },
      template: { metadata: { labels: { app: 'op' } }, spec: { containers: [{ name: 'op', image: 'x' }] } },
    },
  };

  it('names the ReplicaSet by pod-template-hash and adds it to selector and pod labels', () => {
    const rs = newReplicaSet(deploy);
    const hash = rs.metadata?.name?.slice('op-'.length) ?? '';
    expect(rs.spec?.selector.matchLabels).toEqual({ app: 'op', 'pod-template-hash': hash });
    expect(rs.spec?.template?.metadata?.labels).toEqual({ app: 'op', 'pod-template-hash': hash });
    expect(rs.spec?.replicas).toBe(2);
    expect(rs.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'Deployment',
      uid: 'd1',
      controller: true,
    });
  });

  it('keeps N pods: creates the missing, deletes not-ready ones first when over', () => {
    const rs = newReplicaSet(deploy);
    const p = (name: string, ready: boolean): V1Pod => ({
      metadata: { name },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    });
    expect(planReplicaSet(rs, [])).toEqual({ create: 2, delete: [] });
    expect(planReplicaSet(rs, [p('a', true), p('b', true)])).toEqual({ create: 0, delete: [] });
    expect(planReplicaSet(rs, [p('a', true), p('b', false), p('c', true)])).toEqual({
      create: 0,
      delete: ['b'],
    });
    const terminating = { ...p('t', true), metadata: { name: 't', deletionTimestamp: new Date() } };
    expect(planReplicaSet(rs, [p('a', true), terminating])).toEqual({ create: 1, delete: [] });
  });

  it('reports status from its ReplicaSets', () => {
    const rs = newReplicaSet(deploy);
    const st = deploymentStatus(deploy, [{ ...rs, status: { replicas: 2, readyReplicas: 2 } }]);
    expect(st).toMatchObject({
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      observedGeneration: 2,
    });
    expect(st.conditions?.[0]).toMatchObject({ type: 'Available', status: 'True' });
  });
});

describe('computeEndpoints', () => {
  const svc: V1Service = {
    metadata: { name: 'sip', namespace: 'voice' },
    spec: {
      selector: { app: 'sip' },
      ports: [
        { name: 'sip-udp', port: 5060, protocol: 'UDP', targetPort: 'sip-udp' },
        { name: 'http', port: 80, targetPort: 8080 },
      ],
    },
  };
  const p = (name: string, ip: string, ready: boolean, extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
    metadata: { name, namespace: 'voice', uid: `u-${name}`, labels: { app: 'sip' }, ...extra },
    spec: {
      hostname: name,
      subdomain: 'sip',
      containers: [{ name: 'c', ports: [{ name: 'sip-udp', containerPort: 5070, protocol: 'UDP' }] }],
    },
    status: {
      podIP: ip,
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  });

  it('lists Ready pods in addresses, others in notReadyAddresses; skips terminating, unaddressed and foreign pods', () => {
    const ep = computeEndpoints(svc, [
      p('b', '127.0.1.2', true),
      p('a', '127.0.1.1', true),
      p('c', '127.0.1.3', false),
      p('d', '127.0.1.4', true, { deletionTimestamp: new Date() }),
      { ...p('e', '', true) },
      { ...p('f', '127.0.1.6', true), metadata: { name: 'f', namespace: 'other', labels: { app: 'sip' } } },
      { ...p('g', '127.0.1.7', true), metadata: { name: 'g', namespace: 'voice', labels: { app: 'web' } } },
    ]);
    expect(ep?.metadata?.name).toBe('sip');
    expect(ep?.subsets).toHaveLength(1);
    const subset = ep?.subsets?.[0];
    expect(subset?.addresses?.map((a) => a.ip)).toEqual(['127.0.1.1', '127.0.1.2']);
    expect(subset?.addresses?.[0]).toMatchObject({
      hostname: 'a',
      targetRef: { kind: 'Pod', name: 'a', uid: 'u-a' },
    });
    expect(subset?.notReadyAddresses?.map((a) => a.ip)).toEqual(['127.0.1.3']);
    expect(subset?.ports).toEqual([
      { name: 'sip-udp', port: 5070, protocol: 'UDP' },
      { name: 'http', port: 8080, protocol: 'TCP' },
    ]);
  });

  it('resolves target ports by number, by name and by default; selector-less Services get none', () => {
    const pd = p('a', '127.0.1.1', true);
    expect(resolveTargetPort({ port: 53 }, pd)).toBe(53);
    expect(resolveTargetPort({ port: 53, targetPort: 'nope' }, pd)).toBeUndefined();
    expect(computeEndpoints({ metadata: { name: 'x' }, spec: {} }, [pd])).toBeUndefined();
  });

  it('gives the proxy ready backends per Service port', () => {
    const ep = computeEndpoints(svc, [p('a', '127.0.1.1', true), p('c', '127.0.1.3', false)]);
    expect(readyBackends(ep, { name: 'sip-udp', port: 5060, protocol: 'UDP' })).toEqual([
      { ip: '127.0.1.1', port: 5070, pod: 'a' },
    ]);
    expect(readyBackends(ep, { name: 'http', port: 80 })).toEqual([
      { ip: '127.0.1.1', port: 8080, pod: 'a' },
    ]);
    expect(readyBackends(ep, { name: 'other', port: 1 })).toEqual([]);
  });
});
