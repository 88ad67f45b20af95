// The operator, unmodified (runOperator from operator/main.ts, with leader election), against the
// in-process cluster running REAL pbx processes: a SipPbx with 2 replicas becomes 2 Ready pbx pods
// with disjoint media port ranges, and status Ready=True at the current observedGeneration.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { getCondition, type SipPbxStatus } from '../../operator/api/index.js';
import { readEnv, runOperator, type RunningOperator } from '../../operator/main.js';
import { startCluster, type Cluster } from '../kube/cluster.js';
import type { KubeObject } from '../kube/index.js';

const crd = parse(readFileSync(join(import.meta.dirname, '../../crds/sippbx.yaml'), 'utf8')) as KubeObject;
const SIPPBX = 'sippbx.dev/v1alpha1/sippbxes';

let cluster: Cluster;
let operator: RunningOperator | undefined;

beforeAll(async () => {
  cluster = await startCluster();
  cluster.api.store.create('apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  const env = readEnv({
    POD_NAME: 'operator-0',
    POD_NAMESPACE: 'default',
    SIPPBX_OPERATOR_METRICS_PORT: '0',
    SIPPBX_OPERATOR_HEALTH_PORT: '0',
    SIPPBX_OPERATOR_LEASE_NAME: 'sippbx-operator',
  });
  operator = await runOperator(env, cluster.kc, pino({ level: 'silent' }), () => undefined);
});
afterAll(async () => {
  await operator?.stop();
  await cluster.stop();
});

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 40_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('a SipPbx with 2 replicas becomes 2 Ready pbx pods with disjoint port ranges and Ready=True', async () => {
  cluster.api.store.create(SIPPBX, {
    apiVersion: 'sippbx.dev/v1alpha1',
    kind: 'SipPbx',
    metadata: { name: 'edge', namespace: 'default' },
    spec: {
      replicas: 2,
      image: 'ghcr.io/sippbx/sippbx:test',
      media: { portRange: { start: 47000, end: 47160 }, maxCallsPerPod: 10 },
      drain: { timeoutSeconds: 30 },
    },
  });
  const status = await until('Ready=True', () => {
    const obj = cluster.api.store.get(SIPPBX, 'default', 'edge') as KubeObject & { status?: SipPbxStatus };
    const ready = getCondition(obj.status?.conditions, 'Ready');
    return ready?.status === 'True' && obj.status?.observedGeneration === obj.metadata.generation
      ? obj.status
      : undefined;
  });
  expect(status.readyReplicas).toBe(2);
  const ranges = (status.pods ?? []).map((p) => [p.name, p.state, p.portRange.start, p.portRange.end]);
  expect(ranges).toEqual([
    ['edge-0', 'running', 47000, 47080],
    ['edge-1', 'running', 47080, 47160],
  ]);
  const pods = cluster.api.store.list('v1/pods', 'default', {
    labelSelector: 'app.kubernetes.io/instance=edge',
  });
  expect(pods.map((p) => p.metadata.name).sort()).toEqual(['edge-0', 'edge-1']);
  for (const p of pods) {
    const conditions = (p as { status?: { conditions?: { type: string; status: string }[] } }).status
      ?.conditions;
    expect(conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    // Each real pbx took its own entry of the port plan.
    expect(cluster.logs(p.metadata.name ?? '')).not.toMatch(/EADDRINUSE/);
  }
  // The real pbx processes answer their management API with the operator's admin token, each with
  // its 80-port share of the range.
  const secret = cluster.api.store.get('v1/secrets', 'default', 'edge-admin-token') as KubeObject & {
    data: { token: string };
  };
  const token = Buffer.from(secret.data.token, 'base64').toString();
  for (const p of pods) {
    const ip = (p as { status?: { podIP?: string } }).status?.podIP ?? '';
    const res = await fetch(`http://${ip}:8080/api/v1/stats`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ports: { total: number } }).ports.total).toBe(80);
  }
  const lease = cluster.api.store.get(
    'coordination.k8s.io/v1/leases',
    'default',
    'sippbx-operator',
  ) as KubeObject & {
    spec?: { holderIdentity?: string };
  };
  expect(lease.spec?.holderIdentity).toBe('operator-0');
}, 60_000);
