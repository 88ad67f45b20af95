// charts/sippbx-operator rendered with tools/chart-render (no helm binary here) and applied with
// kubectl to the in-process API server (test/kube). The operator itself is not started.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startApiServer, type ApiServer, type KubeObject } from '../kube/index.js';
import {
  BUILD_TIMEOUT_MS,
  buildRenderer,
  keys,
  operatorChart,
  renderChart,
  renderObjects,
  repoRoot,
  type K8sObject,
} from './render.js';

const run = promisify(execFile);

/** CONTRACTS.md "Metrics": the only sippbx metric names a dashboard may use. */
const CONTRACT_METRICS = [
  'sippbx_calls_active',
  'sippbx_calls_total',
  'sippbx_sip_requests_total',
  'sippbx_sip_responses_total',
  'sippbx_sip_malformed_total',
  'sippbx_rate_limited_total',
  'sippbx_media_ports_in_use',
  'sippbx_media_ports_total',
  'sippbx_rtp_packets_total',
  'sippbx_rtp_dropped_total',
  'sippbx_registrations_active',
  'sippbx_webhook_deliveries_total',
  'sippbx_invite_to_100_seconds',
  'sippbx_registry_errors_total',
  'sippbx_draining',
];
const HISTOGRAMS = new Set(['sippbx_invite_to_100_seconds']);

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env: { name: string; value?: string }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: { runAsNonRoot: boolean };
  containers: Container[];
}

const ofKind = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const one = (objects: K8sObject[], kind: string, name?: string): K8sObject => {
  const found = ofKind(objects, kind).filter((o) => name === undefined || o.metadata.name === name);
  if (found.length !== 1)
    throw new Error(`expected one ${kind} ${name ?? ''}, got ${keys(found).join(', ')}`);
  return found[0] as K8sObject;
};
const rules = (o: K8sObject): Rule[] => o.rules as Rule[];
const verbsFor = (rs: Rule[], group: string, resource: string): string[] =>
  rs.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs);
const operatorContainer = (objects: K8sObject[]): { pod: PodSpec; container: Container } => {
  const deploy = one(objects, 'Deployment') as K8sObject & { spec: { template: { spec: PodSpec } } };
  const pod = deploy.spec.template.spec;
  return { pod, container: pod.containers[0] as Container };
};

let valuesDir: string;
beforeAll(async () => {
  await buildRenderer();
  valuesDir = await mkdtemp(join(tmpdir(), 'chart-values-'));
}, BUILD_TIMEOUT_MS);
afterAll(async () => {
  await rm(valuesDir, { recursive: true, force: true });
});

describe('charts/sippbx-operator', () => {
  it('ships the repository CRD byte for byte', async () => {
    const repo = await readFile(join(repoRoot, 'crds/sippbx.yaml'));
    const chart = await readFile(join(operatorChart, 'crds/sippbx.yaml'));
    expect(
      chart.equals(repo),
      'charts/sippbx-operator/crds/sippbx.yaml differs from crds/sippbx.yaml: ' +
        'cp crds/sippbx.yaml charts/sippbx-operator/crds/sippbx.yaml',
    ).toBe(true);
  });

  it('renders the operator with its defaults', async () => {
    const objects = await renderObjects(operatorChart, '--namespace', 'sippbx-system', '--release', 'sippbx');
    expect(new Set(objects.map((o) => o.kind))).toEqual(
      new Set([
        'CustomResourceDefinition',
        'ServiceAccount',
        'ConfigMap',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'Service',
        'Deployment',
        'PodDisruptionBudget',
      ]),
    );
    expect(objects[0]?.kind).toBe('CustomResourceDefinition');
    expect(one(objects, 'CustomResourceDefinition').metadata.name).toBe('sippbxes.sippbx.dev');
    for (const o of objects.filter(
      (x) => x.kind !== 'CustomResourceDefinition' && !x.kind.startsWith('Cluster'),
    ))
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('sippbx-system');

    const chartYaml = parse(await readFile(join(operatorChart, 'Chart.yaml'), 'utf8')) as {
      appVersion: string;
    };
    const deploy = one(objects, 'Deployment') as K8sObject & { spec: { replicas: number } };
    expect(deploy.metadata.name).toBe('sippbx-sippbx-operator');
    expect(deploy.spec.replicas).toBe(2);
    const { pod, container } = operatorContainer(objects);
    expect(container.image).toBe(`ghcr.io/sippbx/sippbx-operator:${chartYaml.appVersion}`);
    expect(container.args).toBeUndefined(); // the image's CMD runs dist/operator/main.js; config is env
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.serviceAccountName).toBe(one(objects, 'ServiceAccount').metadata.name);
    expect(container.ports).toEqual([
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
      { name: 'health', containerPort: 8081, protocol: 'TCP' },
    ]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      SIPPBX_OPERATOR_LEADER_ELECT: 'true',
      SIPPBX_OPERATOR_LEASE_NAME: 'sippbx-sippbx-operator',
      SIPPBX_OPERATOR_LEASE_NAMESPACE: 'sippbx-system',
      SIPPBX_OPERATOR_WATCH_NAMESPACES: '',
      SIPPBX_OPERATOR_METRICS_PORT: '8080',
      SIPPBX_OPERATOR_HEALTH_PORT: '8081',
      SIPPBX_OPERATOR_PBX_IMAGE: `ghcr.io/sippbx/sippbx:${chartYaml.appVersion}`,
    });
    const svc = one(objects, 'Service') as K8sObject & {
      spec: { ports: { port: number; targetPort: string }[] };
    };
    expect(svc.spec.ports).toEqual([{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }]);
  });

  it('grants least-privilege RBAC for what the operator manages', async () => {
    const objects = await renderObjects(operatorChart, '--namespace', 'sippbx-system');
    const rs = rules(one(objects, 'ClusterRole'));
    expect(JSON.stringify(rs)).not.toContain('*');
    expect(verbsFor(rs, 'sippbx.dev', 'sippbxes')).toEqual(['get', 'list', 'watch', 'update', 'patch']);
    expect(verbsFor(rs, 'sippbx.dev', 'sippbxes/status')).toEqual(['get', 'update', 'patch']);
    expect(verbsFor(rs, 'sippbx.dev', 'sippbxes/scale')).toEqual(['get', 'update', 'patch']);
    const crud = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
    for (const [group, resource] of [
      ['apps', 'statefulsets'],
      ['apps', 'deployments'],
      ['', 'services'],
      ['', 'configmaps'],
      ['', 'secrets'],
      ['policy', 'poddisruptionbudgets'],
      ['monitoring.coreos.com', 'servicemonitors'],
      ['monitoring.coreos.com', 'podmonitors'],
    ] as const)
      expect(verbsFor(rs, group, resource), `${group}/${resource}`).toEqual(crud);
    expect(verbsFor(rs, '', 'pods')).toEqual(['get', 'list', 'watch', 'delete']);
    expect(verbsFor(rs, '', 'events')).toEqual(['create', 'patch']);
    expect(verbsFor(rs, 'coordination.k8s.io', 'leases')).toEqual([]); // leases: namespaced Role only
    const leader = rules(one(objects, 'Role', 'release-name-sippbx-operator-leader-election'));
    expect(verbsFor(leader, 'coordination.k8s.io', 'leases')).toContain('update');

    const without = await renderObjects(operatorChart, '--set', 'managedRedis.enabled=false');
    const rs2 = rules(one(without, 'ClusterRole'));
    expect(verbsFor(rs2, 'apps', 'deployments')).toEqual([]);
    expect(verbsFor(rs2, 'apps', 'statefulsets')).toEqual(crud);
  });

  it('uses Roles in each watched namespace and no ClusterRole when watchNamespaces is set', async () => {
    const file = join(valuesDir, 'watch.yaml');
    await writeFile(file, 'watchNamespaces: [a, b]\n');
    const objects = await renderObjects(operatorChart, '--values', file, '--namespace', 'ops');
    expect(ofKind(objects, 'ClusterRole')).toEqual([]);
    expect(ofKind(objects, 'ClusterRoleBinding')).toEqual([]);
    const roles = ofKind(objects, 'Role').filter((r) => !r.metadata.name.endsWith('-leader-election'));
    expect(roles.map((r) => r.metadata.namespace)).toEqual(['a', 'b']);
    for (const role of roles) expect(verbsFor(rules(role), 'apps', 'statefulsets')).toContain('create');
    const bindings = ofKind(objects, 'RoleBinding').filter(
      (r) => !r.metadata.name.endsWith('-leader-election'),
    );
    expect(bindings.map((b) => b.metadata.namespace)).toEqual(['a', 'b']);
    for (const b of bindings)
      expect(b.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'release-name-sippbx-operator', namespace: 'ops' },
      ]);
    expect(one(objects, 'Role', 'release-name-sippbx-operator-leader-election').metadata.namespace).toBe(
      'ops',
    );
    const env = operatorContainer(objects).container.env;
    expect(env.find((e) => e.name === 'SIPPBX_OPERATOR_WATCH_NAMESPACES')?.value).toBe('a,b');
    // --set list syntax renders the same.
    expect(await renderChart(operatorChart, '--set', 'watchNamespaces={a,b}', '--namespace', 'ops')).toBe(
      await renderChart(operatorChart, '--values', file, '--namespace', 'ops'),
    );
  });

  it('renders ServiceMonitor/PodMonitor only when enabled and the monitoring API exists', async () => {
    const on = ['--set', 'monitoring.serviceMonitor.enabled=true,monitoring.podMonitor.enabled=true'];
    const api = ['--api-versions', 'monitoring.coreos.com/v1'];
    const monitors = async (...args: string[]) =>
      (await renderObjects(operatorChart, ...args))
        .filter((o) => o.apiVersion === 'monitoring.coreos.com/v1')
        .map((o) => o.kind);
    expect(await monitors()).toEqual([]);
    expect(await monitors(...api)).toEqual([]);
    expect(await monitors(...on)).toEqual([]);
    expect(await monitors(...on, ...api)).toEqual(['PodMonitor', 'ServiceMonitor']);
    const objects = await renderObjects(operatorChart, ...on, ...api, '--set', 'watchNamespaces={a,b}');
    const pm = one(objects, 'PodMonitor') as K8sObject & {
      spec: { namespaceSelector: unknown; podMetricsEndpoints: { port: string }[] };
    };
    expect(pm.spec.namespaceSelector).toEqual({ matchNames: ['a', 'b'] });
    expect(pm.spec.podMetricsEndpoints[0]?.port).toBe('metrics');
    const sm = one(objects, 'ServiceMonitor') as K8sObject & { spec: { endpoints: { port: string }[] } };
    expect(sm.spec.endpoints[0]?.port).toBe('metrics');
  });

  it('ships a Grafana dashboard that uses only CONTRACTS.md metric names', async () => {
    const objects = await renderObjects(operatorChart);
    const cm = one(objects, 'ConfigMap', 'release-name-sippbx-operator-dashboard') as K8sObject & {
      data: Record<string, string>;
    };
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(cm.data['sippbx.json'] ?? '') as {
      uid: string;
      panels: { type: string; title: string; targets?: { expr: string }[] }[];
    };
    expect(dashboard.uid).toBe('sippbx-overview');
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const used = new Set(
      exprs
        .flatMap((e) => e.match(/\bsippbx_[a-z0-9_]+/g) ?? [])
        .map((m) =>
          m.replace(/_(bucket|sum|count)$/, (s) => (HISTOGRAMS.has(m.slice(0, -s.length)) ? '' : s)),
        ),
    );
    for (const name of used) expect(CONTRACT_METRICS, name).toContain(name);
    // The panels the issue asks for: calls, calls/s, setup latency, ports, RTP, drops, webhooks, draining.
    for (const name of [
      'sippbx_calls_active',
      'sippbx_calls_total',
      'sippbx_invite_to_100_seconds',
      'sippbx_media_ports_in_use',
      'sippbx_media_ports_total',
      'sippbx_rtp_packets_total',
      'sippbx_rtp_dropped_total',
      'sippbx_webhook_deliveries_total',
      'sippbx_draining',
      'sippbx_registry_errors_total',
    ])
      expect(used, name).toContain(name);
    expect(exprs.join('\n')).toMatch(/histogram_quantile\(0\.5, .*sippbx_invite_to_100_seconds_bucket/);
    expect(exprs.join('\n')).toMatch(/histogram_quantile\(0\.99, .*sippbx_invite_to_100_seconds_bucket/);
    // ...and every one of them is a metric the pbx really exports.
    const source = await readFile(join(repoRoot, 'pbx/http/metrics.ts'), 'utf8');
    for (const name of used) expect(source, name).toContain(`'${name}'`);
    expect(await renderObjects(operatorChart, '--set', 'grafanaDashboard.enabled=false')).not.toContainEqual(
      expect.objectContaining({ kind: 'ConfigMap' }),
    );
  });

  it('renders deterministically', async () => {
    const args = ['--set', 'watchNamespaces={b,a},monitoring.podMonitor.enabled=true'];
    args.push('--api-versions', 'monitoring.coreos.com/v1');
    expect(await renderChart(operatorChart, ...args)).toBe(await renderChart(operatorChart, ...args));
    expect(await renderChart(operatorChart)).toBe(await renderChart(operatorChart));
  });
});

describe('charts/sippbx-operator on the in-process API server', () => {
  let server: ApiServer;
  let work: string;
  const kubectl = async (...args: string[]): Promise<string> =>
    (
      await run('kubectl', [
        '--kubeconfig',
        server.kubeconfigPath,
        '--cache-dir',
        join(work, 'cache'),
        ...args,
      ])
    ).stdout;
  const applyRendered = async (name: string, ...args: string[]): Promise<string> => {
    const file = join(work, `${name}.yaml`);
    await writeFile(file, await renderChart(operatorChart, ...args));
    return kubectl('apply', '--server-side=false', '-f', file);
  };
  const namespace = (name: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  });
  const monitoringCrd = (plural: string, kind: string): KubeObject => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  });

  beforeAll(async () => {
    await buildRenderer();
    server = await startApiServer();
    work = await mkdtemp(join(tmpdir(), 'chart-apply-'));
    for (const ns of ['sippbx-system', 'ops', 'a', 'b']) server.store.create('v1/namespaces', namespace(ns));
  }, BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('applies the default rendering: CRD established, operator Deployment and RBAC stored', async () => {
    const out = await applyRendered('default', '--namespace', 'sippbx-system', '--release', 'sippbx');
    expect(out).toContain('customresourcedefinition.apiextensions.k8s.io/sippbxes.sippbx.dev created');
    expect(out).toContain('deployment.apps/sippbx-sippbx-operator created');
    const crd = server.store.get(
      'apiextensions.k8s.io/v1/customresourcedefinitions',
      undefined,
      'sippbxes.sippbx.dev',
    );
    const conditions = (crd.status as { conditions: { type: string; status: string }[] }).conditions;
    expect(conditions).toContainEqual(expect.objectContaining({ type: 'Established', status: 'True' }));
    expect(await kubectl('get', 'sippbxes', '-A', '-o', 'name')).toBe(''); // served, empty
    expect(server.store.get('apps/v1/deployments', 'sippbx-system', 'sippbx-sippbx-operator')).toBeDefined();
    expect(server.store.get('v1/serviceaccounts', 'sippbx-system', 'sippbx-sippbx-operator')).toBeDefined();
    const cr = 'rbac.authorization.k8s.io/v1/clusterroles';
    expect(server.store.get(cr, undefined, 'sippbx-sippbx-operator').rules).toBeDefined();
    expect(
      server.store.get(
        'rbac.authorization.k8s.io/v1/clusterrolebindings',
        undefined,
        'sippbx-sippbx-operator',
      ),
    ).toBeDefined();
    const roles = server.store.list('rbac.authorization.k8s.io/v1/roles', 'sippbx-system');
    expect(roles.map((r) => r.metadata?.name)).toEqual(['sippbx-sippbx-operator-leader-election']);
    expect(server.store.get('v1/services', 'sippbx-system', 'sippbx-sippbx-operator-metrics')).toBeDefined();
    expect(
      server.store.get('v1/configmaps', 'sippbx-system', 'sippbx-sippbx-operator-dashboard'),
    ).toBeDefined();
    expect(
      server.store.get('policy/v1/poddisruptionbudgets', 'sippbx-system', 'sippbx-sippbx-operator'),
    ).toBeDefined();
    // Applying the same rendering again creates nothing and leaves the workload and RBAC alone (kubectl
    // always re-sends a PDB selector, patchStrategy=replace, and merge-patches CRD version lists).
    const again = await applyRendered('default', '--namespace', 'sippbx-system', '--release', 'sippbx');
    expect(again).not.toMatch(/ created$/m);
    expect(again).toContain('deployment.apps/sippbx-sippbx-operator unchanged');
    expect(again).toContain('clusterrole.rbac.authorization.k8s.io/sippbx-sippbx-operator unchanged');
  });

  it('applies a namespaced install with Prometheus operator monitors', async () => {
    server.store.create(
      'apiextensions.k8s.io/v1/customresourcedefinitions',
      monitoringCrd('servicemonitors', 'ServiceMonitor'),
    );
    server.store.create(
      'apiextensions.k8s.io/v1/customresourcedefinitions',
      monitoringCrd('podmonitors', 'PodMonitor'),
    );
    const out = await applyRendered(
      'namespaced',
      '--namespace',
      'ops',
      '--release',
      'pbx-op',
      '--skip-crds',
      '--set',
      'watchNamespaces={a,b},monitoring.serviceMonitor.enabled=true,monitoring.podMonitor.enabled=true',
      '--api-versions',
      'monitoring.coreos.com/v1',
    );
    expect(out).toContain('servicemonitor.monitoring.coreos.com/pbx-op-sippbx-operator created');
    expect(out).toContain('podmonitor.monitoring.coreos.com/pbx-op-sippbx-operator-pbx created');
    for (const ns of ['a', 'b']) {
      expect(
        server.store.get('rbac.authorization.k8s.io/v1/roles', ns, 'pbx-op-sippbx-operator'),
      ).toBeDefined();
      expect(
        server.store.get('rbac.authorization.k8s.io/v1/rolebindings', ns, 'pbx-op-sippbx-operator'),
      ).toBeDefined();
    }
    expect(
      server.store.find('rbac.authorization.k8s.io/v1/clusterroles', undefined, 'pbx-op-sippbx-operator'),
    ).toBe(undefined);
    expect(server.store.get('apps/v1/deployments', 'ops', 'pbx-op-sippbx-operator')).toBeDefined();
  });
});
