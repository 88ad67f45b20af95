// API server: storage semantics, REST routes, subresources, PATCH kinds, deletion and GC.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call --
   replies are raw JSON (`any`) on purpose: these tests assert the wire shape a real client sees. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer, type KubeObject } from './index.js';
import { call } from './apiserver/testing.js';

let s: ApiServer;
beforeAll(async () => {
  s = await startApiServer();
});
afterAll(async () => {
  await s.stop();
});

const CM = '/api/v1/namespaces/default/configmaps';
const STS = '/apis/apps/v1/namespaces/default/statefulsets';

function sts(name: string, replicas = 1): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'pbx', image: 'sippbx:dev', env: [{ name: 'A', value: '1' }] }] },
      },
    },
  };
}

describe('storage core', () => {
  it('create assigns uid, creationTimestamp, resourceVersion, generation, and a generated name', async () => {
    const r = await call(s, 'POST', CM, { metadata: { generateName: 'cfg-' }, data: { a: '1' } });
    expect(r.status).toBe(201);
    expect(r.body.metadata.name).toMatch(/^cfg-[a-z0-9]{5}$/);
    expect(r.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(r.body.kind).toBe('ConfigMap');
    const d = await call(s, 'POST', STS, sts('gen'));
    expect(d.body.metadata.generation).toBe(1);
    expect(Number(d.body.metadata.resourceVersion)).toBeGreaterThan(Number(r.body.metadata.resourceVersion));
  });

  it('409 AlreadyExists as a v1 Status', async () => {
    await call(s, 'POST', CM, { metadata: { name: 'dup' } });
    const r = await call(s, 'POST', CM, { metadata: { name: 'dup' } });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'AlreadyExists',
      code: 409,
      details: { name: 'dup', kind: 'configmaps' },
    });
  });

  it('409 Conflict on a stale resourceVersion; unconditional update succeeds', async () => {
    const a = (await call(s, 'POST', CM, { metadata: { name: 'cas' }, data: { v: '1' } })).body;
    const b = await call(s, 'PUT', `${CM}/cas`, { ...a, data: { v: '2' } });
    expect(b.status).toBe(200);
    const stale = await call(s, 'PUT', `${CM}/cas`, { ...a, data: { v: '3' } });
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
    const { resourceVersion: _rv, ...meta } = a.metadata;
    expect((await call(s, 'PUT', `${CM}/cas`, { ...a, metadata: meta, data: { v: '4' } })).body.data).toEqual(
      { v: '4' },
    );
  });

  it('404 NotFound for objects, unknown resources and missing namespaces', async () => {
    expect((await call(s, 'GET', `${CM}/nope`)).body).toMatchObject({ reason: 'NotFound', code: 404 });
    expect((await call(s, 'GET', '/api/v1/namespaces/default/nothings')).status).toBe(404);
    const r = await call(s, 'POST', '/api/v1/namespaces/ghost/configmaps', { metadata: { name: 'x' } });
    expect(r.body).toMatchObject({ code: 404, details: { name: 'ghost', kind: 'namespaces' } });
  });

  it('generation bumps on spec changes only; a no-op update keeps the resourceVersion', async () => {
    const a = (await call(s, 'POST', STS, sts('gen2'))).body;
    const labelled = (
      await call(s, 'PUT', `${STS}/gen2`, { ...a, metadata: { ...a.metadata, labels: { x: 'y' } } })
    ).body;
    expect(labelled.metadata.generation).toBe(1);
    const same = (await call(s, 'PUT', `${STS}/gen2`, labelled)).body;
    expect(same.metadata.resourceVersion).toBe(labelled.metadata.resourceVersion);
    const scaled = (
      await call(s, 'PUT', `${STS}/gen2`, { ...labelled, spec: { ...labelled.spec, replicas: 3 } })
    ).body;
    expect(scaled.metadata.generation).toBe(2);
  });

  it('main writes ignore .status and /status writes ignore everything else', async () => {
    const a = (await call(s, 'POST', STS, { ...sts('st'), status: { replicas: 9 } })).body;
    expect(a.status).toBeUndefined();
    const st = await call(s, 'PUT', `${STS}/st/status`, {
      ...a,
      spec: { ...a.spec, replicas: 7 },
      status: { replicas: 1, observedGeneration: 1 },
    });
    expect(st.body.status).toEqual({ replicas: 1, observedGeneration: 1 });
    expect(st.body.spec.replicas).toBe(1);
    const main = await call(s, 'PUT', `${STS}/st`, { ...st.body, status: { replicas: 5 } });
    expect(main.body.status).toEqual({ replicas: 1, observedGeneration: 1 });
    expect(main.body.metadata.generation).toBe(1);
  });

  it('defaults built-in fields the controllers read', () => {
    const p = s.store.create('v1/pods', {
      metadata: { name: 'defaults' },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    });
    expect(p.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    expect(p.spec).toMatchObject({ restartPolicy: 'Always', terminationGracePeriodSeconds: 30 });
    const svc = s.store.create('v1/services', {
      metadata: { name: 'svc' },
      spec: { ports: [{ port: 5060 }] },
    });
    expect(svc.spec).toMatchObject({
      type: 'ClusterIP',
      clusterIP: expect.stringMatching(/^10\.96\./) as unknown,
    });
  });
});

describe('REST routes', () => {
  beforeAll(() => {
    s.store.create('v1/namespaces', { metadata: { name: 'sel' } });
    for (const [name, labels] of [
      ['a', { tier: 'edge', zone: 'x' }],
      ['b', { tier: 'core', zone: 'y' }],
      ['c', { tier: 'core' }],
    ] as const) {
      s.store.create('v1/configmaps', { metadata: { name, namespace: 'sel', labels } });
    }
  });

  const names = async (q: string): Promise<string[]> =>
    ((await call(s, 'GET', `/api/v1/namespaces/sel/configmaps?${q}`)).body.items as KubeObject[]).map(
      (o) => o.metadata.name ?? '',
    );

  it('lists with label selectors: =, !=, in, notin, exists, !exists', async () => {
    expect(await names('labelSelector=tier%3Dcore')).toEqual(['b', 'c']);
    expect(await names('labelSelector=tier!%3Dcore')).toEqual(['a']);
    expect(await names(`labelSelector=${encodeURIComponent('zone in (x,y)')}`)).toEqual(['a', 'b']);
    expect(await names(`labelSelector=${encodeURIComponent('zone notin (x)')}`)).toEqual(['b', 'c']);
    expect(await names('labelSelector=zone')).toEqual(['a', 'b']);
    expect(await names('labelSelector=!zone')).toEqual(['c']);
    expect(await names(`labelSelector=${encodeURIComponent('tier=core,zone')}`)).toEqual(['b']);
  });

  it('lists with field selectors and across namespaces', async () => {
    expect(await names('fieldSelector=metadata.name%3Db')).toEqual(['b']);
    const all = (await call(s, 'GET', '/api/v1/configmaps?fieldSelector=metadata.namespace%3Dsel')).body;
    expect(all.kind).toBe('ConfigMapList');
    expect(all.items).toHaveLength(3);
    expect(Number(all.metadata.resourceVersion)).toBeGreaterThan(0);
  });

  it('serves cluster-scoped resources and rbac (stored, not enforced)', async () => {
    const r = await call(s, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      metadata: { name: 'op' },
      rules: [],
    });
    expect(r.status).toBe(201);
    expect(r.body.metadata.namespace).toBeUndefined();
    expect((await call(s, 'GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/op')).body.kind).toBe(
      'ClusterRole',
    );
    const lease = await call(s, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', {
      metadata: { name: 'l' },
      spec: { holderIdentity: 'me' },
    });
    expect(lease.body.apiVersion).toBe('coordination.k8s.io/v1');
  });

  it('deletecollection with a selector', async () => {
    const r = await call(s, 'DELETE', '/api/v1/namespaces/sel/configmaps?labelSelector=tier%3Dcore');
    expect(r.status).toBe(200);
    expect(await names('')).toEqual(['a']);
  });
});

describe('scale subresource', () => {
  it('reads and writes autoscaling/v1 Scale for statefulsets', async () => {
    await call(s, 'POST', STS, sts('web', 2));
    const sc = await call(s, 'GET', `${STS}/web/scale`);
    expect(sc.body).toMatchObject({
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      spec: { replicas: 2 },
      status: { replicas: 0, selector: 'app=web' },
    });
    const put = await call(s, 'PUT', `${STS}/web/scale`, { ...sc.body, spec: { replicas: 4 } });
    expect(put.body.spec.replicas).toBe(4);
    const patched = await call(
      s,
      'PATCH',
      `${STS}/web/scale`,
      { spec: { replicas: 5 } },
      { 'content-type': 'application/merge-patch+json' },
    );
    expect(patched.body.spec.replicas).toBe(5);
    expect(s.store.get('apps/v1/statefulsets', 'default', 'web').spec).toMatchObject({ replicas: 5 });
    const stale = await call(s, 'PUT', `${STS}/web/scale`, { ...sc.body, spec: { replicas: 1 } });
    expect(stale.status).toBe(409);
  });
});

describe('PATCH', () => {
  const patch = (path: string, type: string, body: unknown) =>
    call(s, 'PATCH', path, body, { 'content-type': type });

  it('applies JSON Patch (RFC 6902) including test failures', async () => {
    await call(s, 'POST', CM, { metadata: { name: 'jp' }, data: { a: '1' } });
    const r = await patch(`${CM}/jp`, 'application/json-patch+json', [
      { op: 'add', path: '/data/b', value: '2' },
      { op: 'remove', path: '/data/a' },
      { op: 'add', path: '/metadata/labels', value: { 'x/y': 'z' } },
    ]);
    expect(r.body.data).toEqual({ b: '2' });
    expect(r.body.metadata.labels).toEqual({ 'x/y': 'z' });
    const t = await patch(`${CM}/jp`, 'application/json-patch+json', [
      { op: 'test', path: '/data/b', value: 'nope' },
    ]);
    expect(t.status).toBe(422);
  });

  it('applies JSON merge patch (RFC 7386); a resourceVersion in the patch is a precondition', async () => {
    await call(s, 'POST', CM, { metadata: { name: 'mp' }, data: { a: '1', b: '2' } });
    const r = await patch(`${CM}/mp`, 'application/merge-patch+json', { data: { a: null, c: '3' } });
    expect(r.body.data).toEqual({ b: '2', c: '3' });
    const c = await patch(`${CM}/mp`, 'application/merge-patch+json', {
      metadata: { resourceVersion: '1' },
      data: { d: '4' },
    });
    expect(c.status).toBe(409);
  });

  it('applies strategic merge patch to built-in lists by merge key, with $patch delete', async () => {
    await call(s, 'POST', STS, sts('smp'));
    const r = await patch(`${STS}/smp`, 'application/strategic-merge-patch+json', {
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'pbx', env: [{ name: 'B', value: '2' }] },
              { name: 'side', image: 'busybox' },
            ],
          },
        },
      },
    });
    const containers = r.body.spec.template.spec.containers;
    expect(containers).toHaveLength(2);
    expect(containers[0]).toMatchObject({
      name: 'pbx',
      image: 'sippbx:dev',
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
      ],
    });
    const d = await patch(`${STS}/smp`, 'application/strategic-merge-patch+json', {
      spec: { template: { spec: { containers: [{ name: 'side', $patch: 'delete' }] } } },
    });
    expect(d.body.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['pbx']);
    expect(d.body.metadata.generation).toBe(3);
  });

  it('server-side apply needs a fieldManager and creates missing objects', async () => {
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: "1"\n';
    const noManager = await patch(`${CM}/ssa`, 'application/apply-patch+yaml', yaml);
    expect(noManager.status).toBe(400);
    const r = await call(s, 'PATCH', `${CM}/ssa?fieldManager=test`, yaml, {
      'content-type': 'application/apply-patch+yaml',
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({ a: '1' });
  });

  it('rejects unknown patch content types with 415', async () => {
    expect((await patch(`${CM}/mp`, 'text/plain', '{}')).status).toBe(415);
  });
});

describe('deletion', () => {
  it('finalizers hold an object with deletionTimestamp until an update removes them', () => {
    s.store.create('v1/configmaps', { metadata: { name: 'fin', finalizers: ['example.com/hold'] } });
    const d = s.store.delete('v1/configmaps', 'default', 'fin');
    expect(d.metadata.deletionTimestamp).toBeDefined();
    const held = s.store.get('v1/configmaps', 'default', 'fin');
    expect(held.metadata.deletionTimestamp).toBeDefined();
    s.store.update('v1/configmaps', { ...held, metadata: { ...held.metadata, finalizers: [] } });
    expect(s.store.find('v1/configmaps', 'default', 'fin')).toBeUndefined();
  });

  it('DELETE answers 202 while finalizers hold the object, 200 once gone', async () => {
    s.store.create('v1/configmaps', { metadata: { name: 'fin2', finalizers: ['example.com/hold'] } });
    expect((await call(s, 'DELETE', `${CM}/fin2`)).status).toBe(202);
    expect((await call(s, 'DELETE', `${CM}/dup`)).status).toBe(200);
  });

  function family(owner: string): { owner: KubeObject; child: KubeObject; grandchild: KubeObject } {
    const o = s.store.create('apps/v1/deployments', {
      metadata: { name: owner },
      spec: { selector: { matchLabels: { a: owner } }, template: {} },
    });
    const ref = (x: KubeObject, kind: string, apiVersion: string) => ({
      apiVersion,
      kind,
      name: x.metadata.name ?? '',
      uid: x.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    });
    const c = s.store.create('apps/v1/replicasets', {
      metadata: { name: `${owner}-rs`, ownerReferences: [ref(o, 'Deployment', 'apps/v1')] },
      spec: {},
    });
    const g = s.store.create('v1/pods', {
      metadata: { name: `${owner}-pod`, ownerReferences: [ref(c, 'ReplicaSet', 'apps/v1')] },
      spec: { containers: [] },
    });
    return { owner: o, child: c, grandchild: g };
  }

  it('garbage-collects dependents in the background', () => {
    family('bg');
    s.store.delete('apps/v1/deployments', 'default', 'bg', { propagationPolicy: 'Background' });
    expect(s.store.find('apps/v1/deployments', 'default', 'bg')).toBeUndefined();
    expect(s.store.find('apps/v1/replicasets', 'default', 'bg-rs')).toBeUndefined();
    expect(s.store.find('v1/pods', 'default', 'bg-pod')).toBeUndefined();
  });

  it('foreground deletion keeps the owner (foregroundDeletion finalizer) until dependents are gone', () => {
    const { grandchild } = family('fg');
    const held = { ...grandchild, metadata: { ...grandchild.metadata, finalizers: ['example.com/hold'] } };
    s.store.update('v1/pods', held);
    const d = s.store.delete('apps/v1/deployments', 'default', 'fg', { propagationPolicy: 'Foreground' });
    expect(d.metadata.finalizers).toEqual(['foregroundDeletion']);
    expect(s.store.get('apps/v1/replicasets', 'default', 'fg-rs').metadata.finalizers).toEqual([
      'foregroundDeletion',
    ]);
    const pod = s.store.get('v1/pods', 'default', 'fg-pod');
    expect(pod.metadata.deletionTimestamp).toBeDefined();
    s.store.update('v1/pods', { ...pod, metadata: { ...pod.metadata, finalizers: [] } });
    expect(s.store.find('apps/v1/replicasets', 'default', 'fg-rs')).toBeUndefined();
    expect(s.store.find('apps/v1/deployments', 'default', 'fg')).toBeUndefined();
  });

  it('orphan propagation strips ownerReferences and keeps dependents', async () => {
    family('or');
    const r = await call(s, 'DELETE', '/apis/apps/v1/namespaces/default/deployments/or', {
      propagationPolicy: 'Orphan',
    });
    expect(r.body).toMatchObject({ kind: 'Deployment' });
    const rs = s.store.get('apps/v1/replicasets', 'default', 'or-rs');
    expect(rs.metadata.ownerReferences).toBeUndefined();
    expect(s.store.find('v1/pods', 'default', 'or-pod')).toBeDefined();
  });

  it('pods on a node terminate gracefully until deleted with gracePeriodSeconds=0', () => {
    s.store.create('v1/pods', {
      metadata: { name: 'graceful' },
      spec: { nodeName: 'node-1', containers: [] },
    });
    const d = s.store.delete('v1/pods', 'default', 'graceful');
    expect(d.metadata.deletionGracePeriodSeconds).toBe(30);
    expect(s.store.find('v1/pods', 'default', 'graceful')).toBeDefined();
    // A status write from the kubelet while it stops the pod must not cut the grace period short.
    const stopping = s.store.get('v1/pods', 'default', 'graceful');
    s.store.update(
      'v1/pods',
      { ...stopping, status: { phase: 'Running', message: 'stopping' } },
      { subresource: 'status' },
    );
    expect(s.store.find('v1/pods', 'default', 'graceful')?.status).toMatchObject({ message: 'stopping' });
    s.store.delete('v1/pods', 'default', 'graceful', { gracePeriodSeconds: 0 });
    expect(s.store.find('v1/pods', 'default', 'graceful')).toBeUndefined();
  });

  it('deleting a namespace deletes its contents', () => {
    s.store.create('v1/namespaces', { metadata: { name: 'doomed' } });
    s.store.create('v1/configmaps', { metadata: { name: 'x', namespace: 'doomed' } });
    s.store.delete('v1/namespaces', undefined, 'doomed');
    expect(s.store.list('v1/configmaps', 'doomed')).toEqual([]);
  });
});

describe('discovery', () => {
  it('serves /version, /api, /apis and group/version resource lists', async () => {
    expect((await call(s, 'GET', '/version')).body).toMatchObject({ major: '1', minor: '32' });
    expect((await call(s, 'GET', '/api')).body.versions).toEqual(['v1']);
    const groups = (await call(s, 'GET', '/apis')).body.groups.map((g: { name: string }) => g.name);
    expect(groups).toEqual(
      expect.arrayContaining([
        'apps',
        'policy',
        'coordination.k8s.io',
        'rbac.authorization.k8s.io',
        'apiextensions.k8s.io',
      ]),
    );
    const apps = (await call(s, 'GET', '/apis/apps/v1')).body.resources;
    expect(apps).toContainEqual(
      expect.objectContaining({
        name: 'statefulsets',
        shortNames: ['sts'],
        namespaced: true,
        kind: 'StatefulSet',
      }),
    );
    expect(apps).toContainEqual(
      expect.objectContaining({
        name: 'statefulsets/scale',
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
      }),
    );
    expect(apps).toContainEqual(expect.objectContaining({ name: 'statefulsets/status' }));
    expect((await call(s, 'GET', '/apis/apps')).body.preferredVersion).toEqual({
      groupVersion: 'apps/v1',
      version: 'v1',
    });
  });

  it('rejects requests without the bearer token', async () => {
    const r = await call(s, 'GET', '/version', undefined, { authorization: 'Bearer wrong' });
    expect(r.status).toBe(401);
  });
});
