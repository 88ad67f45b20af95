// The SipPbx reconciler against the in-process API server (test/kube) with a fake pbx management API:
// one small HTTP server per pod IP (127.0.X.N on a shared port), so the real pbx client is exercised.
// There is no StatefulSet controller here: the tests play it (create/delete pods, write the
// StatefulSet status) to put the reconciler in exactly the state each case needs.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { getCondition, type SipPbxStatus } from '../../operator/api/index.js';
import {
  createKubeClient,
  createPbxClient,
  createSipPbxReconciler,
} from '../../operator/controller/index.js';
import {
  DRAIN_STARTED_ANNOTATION,
  DRAINED_ANNOTATION,
  FINALIZER_NAME,
} from '../../operator/controller/sippbx/index.js';
import { isTerminalError, type Reconciler } from '../../operator/controller/runtime/index.js';
import { startApiServer, type ApiServer, type KubeObject } from '../kube/index.js';
import { startRedis, type TestRedis } from '../registry/redis-server.js';

// The CRD without its CEL rules: these tests store specs the API server would refuse (an invalid
// spec, replicas beyond the range), as an older CRD or a changed rule could leave in a cluster.
function stripRules(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripRules);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k]) => k !== 'x-kubernetes-validations')
      .map(([k, x]) => [k, stripRules(x)]),
  );
}
const crd = stripRules(
  parse(readFileSync(join(import.meta.dirname, '../../crds/sippbx.yaml'), 'utf8')),
) as KubeObject;

const SIPPBX = 'sippbx.dev/v1alpha1/sippbxes';
const NS = 'default';
const TOKEN = 'test-admin-token';

/** One fake pbx per pod IP: drain state machine of docs/api.md. */
interface FakePod {
  state: 'running' | 'draining' | 'drained';
  activeCalls: number;
  deadline: string | null;
  requests: string[];
}

class FakePbx {
  readonly pods = new Map<string, FakePod>();
  private readonly servers = new Map<string, Server>();
  port = 0;

  async add(ip: string, calls = 0): Promise<FakePod> {
    const pod: FakePod = { state: 'running', activeCalls: calls, deadline: null, requests: [] };
    this.pods.set(ip, pod);
    const server = createServer((req, res) => {
      pod.requests.push(`${req.method} ${req.url}`);
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${TOKEN}`)
        return send(401, { error: { code: 'unauthorized' } });
      const status = () => ({ state: pod.state, activeCalls: pod.activeCalls, deadline: pod.deadline });
      if (req.url === '/api/v1/stats') return send(200, { activeCalls: pod.activeCalls, state: pod.state });
      if (req.method === 'GET') return send(200, status());
      if (req.method === 'POST') {
        if (pod.state === 'running') {
          pod.state = pod.activeCalls === 0 ? 'drained' : 'draining';
          pod.deadline = new Date(Date.now() + 60_000).toISOString();
        }
        return send(202, status());
      }
      if (pod.state === 'drained') return send(409, { error: { code: 'drained' } });
      pod.state = 'running';
      pod.deadline = null;
      return send(200, status());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, ip, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.servers.set(ip, server);
    return pod;
  }

  /** Calls end: the pbx drains when it is draining. */
  hangUp(ip: string): void {
    const pod = this.pods.get(ip);
    if (pod === undefined) return;
    pod.activeCalls = 0;
    if (pod.state === 'draining') pod.state = 'drained';
  }

  async close(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => new Promise((r) => s.close(r))));
  }
}

let api: ApiServer;
let kc: KubeConfig;
let subnet = 20;
const fakes: FakePbx[] = [];

beforeAll(async () => {
  api = await startApiServer();
  api.store.create('apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
});
afterAll(async () => {
  await Promise.all(fakes.map((f) => f.close()));
  await api.stop();
});

const silent = pino({ level: 'silent' });

interface Harness {
  name: string;
  fake: FakePbx;
  ipOf(ordinal: number): string;
  clock: { now: Date };
  reconciler(opts?: { cleanRedis?: (url: string, prefix: string) => Promise<number> }): Reconciler;
  reconcile(): Promise<unknown>;
  pbx(): KubeObject & { status?: SipPbxStatus };
  sts(): KubeObject & { spec: { replicas: number }; metadata: { generation?: number } };
  pods(): (KubeObject & { metadata: { name: string; annotations?: Record<string, string> } })[];
  /** Plays the StatefulSet controller: pods for ordinals < replicas at `revision`, others deleted. */
  syncPods(revision: string, opts?: { ready?: boolean; calls?: number }): Promise<void>;
  setStsStatus(revision: string, current?: string): void;
  events(): { reason: string; message: string }[];
}

async function harness(name: string, spec: Record<string, unknown>): Promise<Harness> {
  const prefix = `127.0.${subnet++}`;
  const fake = new FakePbx();
  fakes.push(fake);
  await fake.add(`${prefix}.250`); // binds the shared port
  const clock = { now: new Date('2025-01-01T00:00:00Z') };
  api.store.create(SIPPBX, {
    apiVersion: 'sippbx.dev/v1alpha1',
    kind: 'SipPbx',
    metadata: { name, namespace: NS },
    spec,
  });
  const make: Harness['reconciler'] = (opts = {}) =>
    createSipPbxReconciler({
      kube: createKubeClient(kc),
      logger: silent,
      operatorVersion: 'test',
      pbxApi: createPbxClient({ port: fake.port, timeoutMs: 1000 }),
      now: () => clock.now,
      generateToken: () => TOKEN,
      ...opts,
    });
  let current = make();
  const h: Harness = {
    name,
    fake,
    ipOf: (o) => `${prefix}.${o + 1}`,
    clock,
    reconciler: (opts) => (current = make(opts)),
    reconcile: () => current(`${NS}/${name}`),
    pbx: () => api.store.get(SIPPBX, NS, name) as ReturnType<Harness['pbx']>,
    sts: () => api.store.get('apps/v1/statefulsets', NS, name) as ReturnType<Harness['sts']>,
    pods: () =>
      (
        api.store.list('v1/pods', NS, { labelSelector: `app.kubernetes.io/instance=${name}` }) as ReturnType<
          Harness['pods']
        >
      ).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
    async syncPods(revision, opts = {}) {
      const replicas = h.sts().spec.replicas;
      const existing = new Set(h.pods().map((p) => p.metadata.name));
      for (const p of h.pods()) {
        const ordinal = Number(p.metadata.name.slice(name.length + 1));
        if (ordinal >= replicas) api.store.delete('v1/pods', NS, p.metadata.name);
      }
      for (let o = 0; o < replicas; o++) {
        const pod = `${name}-${o}`;
        if (existing.has(pod)) continue;
        api.store.create('v1/pods', {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: pod,
            namespace: NS,
            labels: {
              'app.kubernetes.io/name': 'sippbx',
              'app.kubernetes.io/instance': name,
              'controller-revision-hash': revision,
            },
          },
          spec: { containers: [{ name: 'pbx', image: 'x' }] },
        });
        const ip = h.ipOf(o);
        if (!fake.pods.has(ip)) await fake.add(ip, opts.calls ?? 0);
        else Object.assign(fake.pods.get(ip) ?? {}, { state: 'running', activeCalls: opts.calls ?? 0 });
        api.store.patch(
          'v1/pods',
          NS,
          pod,
          {
            status: {
              phase: 'Running',
              podIP: ip,
              conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
            },
          },
          'merge',
          { subresource: 'status' },
        );
      }
    },
    setStsStatus(revision, currentRev = revision) {
      const sts = h.sts();
      api.store.patch(
        'apps/v1/statefulsets',
        NS,
        name,
        {
          status: {
            observedGeneration: sts.metadata.generation,
            replicas: sts.spec.replicas,
            readyReplicas: sts.spec.replicas,
            updateRevision: revision,
            currentRevision: currentRev,
          },
        },
        'merge',
        { subresource: 'status' },
      );
    },
    events: () =>
      api.store
        .list('v1/events', NS)
        .filter((e) => (e as { involvedObject?: { name?: string } }).involvedObject?.name === name)
        .map((e) => ({ reason: String(e['reason']), message: String(e['message']) })),
  };
  return h;
}

const cond = (h: Harness, type: Parameters<typeof getCondition>[1]) =>
  getCondition(h.pbx().status?.conditions, type);
const podNames = (h: Harness) => h.pods().map((p) => p.metadata.name);
const spec3 = (extra: Record<string, unknown> = {}) => ({
  replicas: 3,
  media: { portRange: { start: 10000, end: 10240 }, maxCallsPerPod: 10 },
  drain: { timeoutSeconds: 60 },
  ...extra,
});

describe('apply and status', () => {
  it('creates every object with an ownerReference, and reports Ready once the pods are', async () => {
    const h = await harness('apply', spec3({ replicas: 2 }));
    const result = await h.reconcile();
    expect(typeof (result as { requeueAfterMs?: number }).requeueAfterMs).toBe('number');
    const uid = h.pbx().metadata.uid;
    expect(h.pbx().metadata.finalizers).toEqual([FINALIZER_NAME]);
    const owned = [
      ['v1/configmaps', 'apply-config'],
      ['v1/configmaps', 'apply-port-plan'],
      ['v1/secrets', 'apply-admin-token'],
      ['v1/services', 'apply'],
      ['v1/services', 'apply-headless'],
      ['v1/services', 'apply-metrics'],
      ['apps/v1/statefulsets', 'apply'],
      ['policy/v1/poddisruptionbudgets', 'apply'],
    ] as const;
    for (const [r, n] of owned) {
      const obj = api.store.get(r, NS, n);
      expect(obj.metadata.ownerReferences, `${r} ${n}`).toEqual([
        expect.objectContaining({ kind: 'SipPbx', name: 'apply', uid, controller: true }),
      ]);
    }
    expect(h.sts().spec.replicas).toBe(2);
    expect(cond(h, 'Ready')?.status).toBe('False');
    expect(h.pbx().status?.pods?.map((p) => p.state)).toEqual(['pending', 'pending']);

    await h.syncPods('rev-1', { calls: 3 });
    h.setStsStatus('rev-1');
    await h.reconcile();
    const status = h.pbx().status;
    expect(status).toMatchObject({
      observedGeneration: h.pbx().metadata.generation,
      replicas: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
      drainingReplicas: 0,
      activeCalls: 6,
      selector: 'app.kubernetes.io/name=sippbx,app.kubernetes.io/instance=apply',
      updateRevision: 'rev-1',
    });
    expect(status?.pods?.map((p) => [p.name, p.state, p.portRange])).toEqual([
      ['apply-0', 'running', { start: 10000, end: 10080 }],
      ['apply-1', 'running', { start: 10080, end: 10160 }],
    ]);
    expect(cond(h, 'Ready')).toMatchObject({
      status: 'True',
      observedGeneration: h.pbx().metadata.generation,
    });
    expect(cond(h, 'Degraded')?.status).toBe('False');
    expect(cond(h, 'Progressing')?.status).toBe('False');
  });

  it('keeps the existing admin token and conditions stable across no-op reconciles', async () => {
    const h = await harness('noop', spec3({ replicas: 1 }));
    api.store.create('v1/secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'noop-admin-token', namespace: NS },
      data: { token: Buffer.from(TOKEN).toString('base64') },
    });
    h.reconciler({}); // generateToken would give the same; make sure the Secret's is kept instead
    await h.reconcile();
    await h.syncPods('r1');
    h.setStsStatus('r1');
    await h.reconcile();
    const secret = api.store.get('v1/secrets', NS, 'noop-admin-token') as KubeObject & {
      data: { token: string };
    };
    expect(Buffer.from(secret.data.token, 'base64').toString()).toBe(TOKEN);
    const before = h.pbx();
    const ready = cond(h, 'Ready');
    const stsRv = h.sts().metadata.resourceVersion;
    h.clock.now = new Date('2025-01-01T01:00:00Z');
    await h.reconcile();
    await h.reconcile();
    expect(h.pbx().metadata.resourceVersion).toBe(before.metadata.resourceVersion); // no status write
    expect(cond(h, 'Ready')?.lastTransitionTime).toBe(ready?.lastTransitionTime);
    expect(h.sts().metadata.resourceVersion).toBe(stsRv); // no update either
    // A status change moves only the changed condition's lastTransitionTime.
    api.store.patch(
      'v1/pods',
      NS,
      'noop-0',
      { status: { conditions: [{ type: 'Ready', status: 'False' }] } },
      'merge',
      {
        subresource: 'status',
      },
    );
    await h.reconcile();
    expect(cond(h, 'Ready')).toMatchObject({ status: 'False', lastTransitionTime: '2025-01-01T01:00:00Z' });
    expect(cond(h, 'Degraded')?.lastTransitionTime).toBe('2025-01-01T00:00:00Z');
  });

  it('an invalid spec sets Degraded=True (InvalidSpec) and fails with a terminal error', async () => {
    const h = await harness('invalid', { media: { portRange: { start: 10001, end: 20000 } } });
    const err = await h.reconcile().catch((e: unknown) => e);
    expect(isTerminalError(err)).toBe(true);
    expect(cond(h, 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
    expect(cond(h, 'Degraded')?.message).toContain('media.portRange.start must be a multiple of 8');
    expect(cond(h, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(api.store.find('apps/v1/statefulsets', NS, 'invalid')).toBeUndefined();
  });

  it('replicas beyond the port range: PortRangeExhausted=True and the StatefulSet capped', async () => {
    const h = await harness('exhausted', spec3({ replicas: 5 }));
    await h.reconcile();
    expect(h.sts().spec.replicas).toBe(3);
    expect(cond(h, 'PortRangeExhausted')).toMatchObject({ status: 'True', reason: 'ReplicasCapped' });
    expect(cond(h, 'PortRangeExhausted')?.message).toContain('holds 3 pod(s)');
    expect(h.pbx().status?.pods).toHaveLength(3);
  });
});

describe('optional objects', () => {
  it('monitoring without the Prometheus operator CRDs does not fail the reconcile; managed Redis is pruned when turned off', async () => {
    const h = await harness(
      'opt',
      spec3({ replicas: 1, monitoring: { serviceMonitor: true }, redis: { managed: true } }),
    );
    await h.reconcile();
    expect(cond(h, 'Degraded')?.status).toBe('False');
    expect(api.store.find('apps/v1/deployments', NS, 'opt-redis')).toBeDefined();
    api.store.patch(SIPPBX, NS, 'opt', { spec: { redis: null } }, 'merge');
    await h.reconcile();
    expect(api.store.find('apps/v1/deployments', NS, 'opt-redis')).toBeUndefined();
    expect(api.store.find('v1/services', NS, 'opt-redis')).toBeUndefined();
  });
});

describe('drain-safe scale-down', () => {
  it('3 -> 1 drains pods 2 and 1, lowers replicas only once they drained, and resumes after a restart', async () => {
    const h = await harness('scale', spec3());
    await h.reconcile();
    await h.syncPods('r1', { calls: 2 });
    h.setStsStatus('r1');
    await h.reconcile();
    expect(podNames(h)).toEqual(['scale-0', 'scale-1', 'scale-2']);

    api.store.patch(SIPPBX, NS, 'scale', { spec: { replicas: 1 } }, 'merge');
    const r = await h.reconcile();
    expect(r).toEqual({ requeueAfterMs: 2000 });
    expect(h.sts().spec.replicas).toBe(3);
    const pods = h.pods();
    expect(pods[0]?.metadata.annotations?.[DRAIN_STARTED_ANNOTATION]).toBeUndefined();
    expect(pods[1]?.metadata.annotations?.[DRAIN_STARTED_ANNOTATION]).toBe('2025-01-01T00:00:00Z');
    expect(pods[2]?.metadata.annotations?.[DRAIN_STARTED_ANNOTATION]).toBe('2025-01-01T00:00:00Z');
    expect(h.fake.pods.get(h.ipOf(2))?.state).toBe('draining');
    const status = h.pbx().status;
    expect(status?.pods?.map((p) => [p.name, p.state, p.activeCalls])).toEqual([
      ['scale-0', 'running', 2],
      ['scale-1', 'draining', 2],
      ['scale-2', 'draining', 2],
    ]);
    expect(status?.drainingReplicas).toBe(2);
    expect(cond(h, 'Draining')).toMatchObject({ status: 'True' });
    expect(cond(h, 'Draining')?.message).toContain('scale-2 (2 calls)');
    expect(cond(h, 'Progressing')).toMatchObject({ status: 'True', reason: 'ScalingDown' });

    // Pod 2 finishes its calls; pod 1 still has calls: replicas stay.
    h.fake.hangUp(h.ipOf(2));
    await h.reconcile();
    expect(h.sts().spec.replicas).toBe(3);
    expect(h.pods()[2]?.metadata.annotations?.[DRAINED_ANNOTATION]).toBeDefined();

    // The operator restarts: a new reconciler reads the drain state from the pod annotations.
    h.reconciler();
    h.fake.pods.get(h.ipOf(1))?.requests.splice(0);
    await h.reconcile();
    expect(h.fake.pods.get(h.ipOf(1))?.requests).toContain('GET /api/v1/drain');
    expect(h.fake.pods.get(h.ipOf(1))?.requests).not.toContain('POST /api/v1/drain');
    expect(h.sts().spec.replicas).toBe(3);

    h.fake.hangUp(h.ipOf(1));
    await h.reconcile();
    expect(h.sts().spec.replicas).toBe(1);
    expect(h.events().map((e) => e.reason)).toEqual(expect.arrayContaining(['DrainStarted', 'Scaled']));
    await h.syncPods('r1');
    h.setStsStatus('r1');
    await h.reconcile();
    expect(podNames(h)).toEqual(['scale-0']);
    expect(cond(h, 'Ready')?.status).toBe('True');
    expect(cond(h, 'Draining')?.status).toBe('False');
  });

  it('a scale-up during a drain cancels it for the kept ordinals', async () => {
    const h = await harness('cancel', spec3());
    await h.reconcile();
    await h.syncPods('r1', { calls: 1 });
    h.setStsStatus('r1');
    await h.reconcile();
    api.store.patch(SIPPBX, NS, 'cancel', { spec: { replicas: 1 } }, 'merge');
    await h.reconcile();
    expect(h.fake.pods.get(h.ipOf(1))?.state).toBe('draining');
    api.store.patch(SIPPBX, NS, 'cancel', { spec: { replicas: 2 } }, 'merge');
    await h.reconcile();
    expect(h.fake.pods.get(h.ipOf(1))?.state).toBe('running');
    expect(h.fake.pods.get(h.ipOf(1))?.requests).toContain('DELETE /api/v1/drain');
    expect(h.pods()[1]?.metadata.annotations?.[DRAIN_STARTED_ANNOTATION]).toBeUndefined();
    expect(h.fake.pods.get(h.ipOf(2))?.state).toBe('draining'); // ordinal 2 still goes
    expect(h.events().map((e) => e.reason)).toContain('DrainCancelled');
    h.fake.hangUp(h.ipOf(2));
    await h.reconcile();
    expect(h.sts().spec.replicas).toBe(2);
  });

  it('a pod whose drain deadline (plus margin) passed no longer holds the scale-down', async () => {
    const h = await harness('deadline', spec3({ replicas: 2 }));
    await h.reconcile();
    await h.syncPods('r1', { calls: 5 });
    h.setStsStatus('r1');
    await h.reconcile();
    api.store.patch(SIPPBX, NS, 'deadline', { spec: { replicas: 1 } }, 'merge');
    await h.reconcile();
    expect(h.sts().spec.replicas).toBe(2);
    h.clock.now = new Date('2025-01-01T00:01:11Z'); // 60 s timeout + 10 s margin
    await h.reconcile();
    expect(h.sts().spec.replicas).toBe(1);
  });
});

describe('drain-safe rollout', () => {
  it('replaces outdated pods highest ordinal first, one at a time, waiting for the new pod to be Ready', async () => {
    const h = await harness('roll', spec3());
    await h.reconcile();
    await h.syncPods('r1', { calls: 1 });
    h.setStsStatus('r1');
    await h.reconcile();
    expect(cond(h, 'Ready')?.status).toBe('True');

    api.store.patch(SIPPBX, NS, 'roll', { spec: { config: { logLevel: 'debug' } } }, 'merge');
    await h.reconcile(); // writes the new template; the StatefulSet has not computed its revision yet
    expect(h.fake.pods.get(h.ipOf(2))?.state).toBe('running');
    h.setStsStatus('r2', 'r1');
    const order: string[] = [];
    for (let round = 0; round < 20 && order.length < 3; round++) {
      await h.reconcile();
      const draining = [0, 1, 2].filter((o) => h.fake.pods.get(h.ipOf(o))?.state === 'draining');
      expect(draining.length).toBeLessThanOrEqual(1);
      const missing = [0, 1, 2].map((o) => `roll-${o}`).filter((n) => !podNames(h).includes(n));
      order.push(...missing);
      for (const o of draining) h.fake.hangUp(h.ipOf(o));
      if (missing.length > 0) {
        const st = h.pbx().status;
        expect(cond(h, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });
        expect(st?.updatedReplicas).toBe(order.length - 1);
        // The StatefulSet recreates the pod at r2, not Ready yet: nothing else may be drained.
        await h.syncPods('r2', { ready: false, calls: 1 });
        await h.reconcile();
        expect([0, 1, 2].filter((o) => h.fake.pods.get(h.ipOf(o))?.state === 'draining')).toEqual([]);
        for (const m of missing)
          api.store.patch(
            'v1/pods',
            NS,
            m,
            { status: { conditions: [{ type: 'Ready', status: 'True' }] } },
            'merge',
            {
              subresource: 'status',
            },
          );
      }
    }
    expect(order).toEqual(['roll-2', 'roll-1', 'roll-0']);
    await h.reconcile();
    expect(h.pbx().status).toMatchObject({ updatedReplicas: 3, updateRevision: 'r2' });
    expect(cond(h, 'Ready')?.status).toBe('True');
    expect(cond(h, 'Progressing')?.status).toBe('False');
    expect(h.events().filter((e) => e.reason === 'PodReplaced')).toHaveLength(3);
  });
});

describe('deletion', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('drains the pods, cleans the Redis keys of the instance, then removes the finalizer', async () => {
    const h = await harness('gone', spec3({ replicas: 1, redis: { url: redis.url } }));
    const client = new Redis(redis.url);
    await client.set('sippbx:default:gone:call:1', 'x');
    await client.set('sippbx:default:gone:loc:alice', 'y');
    await client.set('sippbx:default:other:call:1', 'keep');
    await h.reconcile();
    await h.syncPods('r1', { calls: 1 });
    h.setStsStatus('r1');
    await h.reconcile();

    api.store.delete(SIPPBX, NS, 'gone');
    expect(h.pbx().metadata.deletionTimestamp).toBeDefined();
    expect(await h.reconcile()).toEqual({ requeueAfterMs: 2000 });
    expect(h.fake.pods.get(h.ipOf(0))?.state).toBe('draining');
    expect(await client.exists('sippbx:default:gone:call:1')).toBe(1);
    h.fake.hangUp(h.ipOf(0));
    // Drained: the StatefulSet goes, but the keys stay while a pbx pod lives (it would write them again).
    expect(await h.reconcile()).toEqual({ requeueAfterMs: 2000 });
    expect(api.store.find('apps/v1/statefulsets', NS, 'gone')).toBeUndefined();
    expect(await client.exists('sippbx:default:gone:call:1')).toBe(1);
    // The kubelet's part: the pods stop.
    for (const pod of api.store.list('v1/pods', NS, { labelSelector: 'app.kubernetes.io/instance=gone' })) {
      api.store.delete('v1/pods', NS, pod.metadata.name ?? '', { gracePeriodSeconds: 0 });
    }
    for (let i = 0; i < 3 && api.store.find(SIPPBX, NS, 'gone') !== undefined; i++) await h.reconcile();
    expect(api.store.find(SIPPBX, NS, 'gone')).toBeUndefined();
    expect(await client.keys('sippbx:default:gone:*')).toEqual([]);
    expect(await client.get('sippbx:default:other:call:1')).toBe('keep');
    client.disconnect();
  });
});
