// operator/desired: StatefulSet, Services, Secret, PDB, monitors, managed Redis and desiredState.
import { describe, expect, it } from 'vitest';
import { API_VERSION, KIND, sipPbxSchema, type SipPbx } from '../../operator/api/index.js';
import {
  CONFIG_HASH_ANNOTATION,
  IncompleteSipPbxError,
  PATHS,
  configHash,
  desiredPdb,
  desiredPodMonitor,
  desiredSecret,
  desiredServiceMonitor,
  desiredServices,
  desiredState,
  desiredStatefulSet,
  existingToken,
  objectNames,
  ownerReference,
  randomToken,
  selectorLabels,
  selectorString,
} from '../../operator/desired/index.js';
import { envKeys } from '../../pbx/config/index.js';

const ctx = { operatorVersion: '0.4.2' };
const make = (spec: unknown, meta: Record<string, unknown> = {}): SipPbx =>
  sipPbxSchema.parse({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'edge', namespace: 'voice', uid: 'u1', ...meta },
    spec,
  });
const big = { replicas: 3, media: { portRange: { start: 10000, end: 40000 } } };

const pod = (pbx: SipPbx) => {
  const sts = desiredStatefulSet(pbx, ctx);
  const spec = sts.spec?.template.spec;
  const container = spec?.containers[0];
  if (spec === undefined || container === undefined) throw new Error('no pod spec');
  return { sts, spec, container, env: new Map(container.env?.map((e) => [e.name, e])) };
};

describe('desiredStatefulSet', () => {
  it('defaults: OnDelete, Parallel, selector labels, replicas from the plan, default image', () => {
    const { sts, spec, container } = pod(make(big));
    expect(sts.metadata).toMatchObject({ name: 'edge', namespace: 'voice' });
    expect(sts.metadata?.ownerReferences).toEqual([
      {
        apiVersion: API_VERSION,
        kind: KIND,
        name: 'edge',
        uid: 'u1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(sts.spec).toMatchObject({
      replicas: 3,
      serviceName: 'edge-headless',
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: { 'app.kubernetes.io/name': 'sippbx', 'app.kubernetes.io/instance': 'edge' } },
    });
    expect(sts.spec?.template.metadata?.labels).toMatchObject(selectorLabels('edge'));
    expect(container.image).toBe('ghcr.io/sippbx/sippbx:0.4.2');
    expect(container.imagePullPolicy).toBeUndefined();
    expect(container.args).toBeUndefined(); // args would replace the image CMD
    expect(spec.terminationGracePeriodSeconds).toBe(3630);
    expect(spec.hostNetwork).toBeUndefined();
    expect(spec.dnsPolicy).toBeUndefined();
  });

  it('replicas stop at what the port range holds; an explicit count wins (pods still draining)', () => {
    expect(desiredStatefulSet(make({ replicas: 1 }), ctx).spec?.replicas).toBe(1);
    const exhausted = make({ replicas: 0, media: { portRange: { start: 10000, end: 26000 } } });
    exhausted.spec.replicas = 5; // e.g. a /scale write the API server did not validate
    expect(desiredStatefulSet(exhausted, ctx).spec?.replicas).toBe(2);
    expect(desiredStatefulSet(make(big), ctx, 5).spec?.replicas).toBe(5);
  });

  it('environment: downward API, config locations, per-pod listen addresses', () => {
    const { env } = pod(make(big));
    expect(env.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(env.get('POD_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    expect(env.get('SIPPBX_CONFIG')?.value).toBe(PATHS.configFile);
    expect(env.get('SIPPBX_PORT_PLAN_FILE')?.value).toBe(PATHS.portPlanFile);
    expect(env.get('SIPPBX_SIP_LISTEN')?.value).toBe('$(POD_IP)');
    expect(env.has('SIPPBX_REGISTRY_REDIS_URL')).toBe(false);
  });

  it('every SIPPBX_ variable set is one the pbx knows (besides the config and port-plan files)', () => {
    const { env } = pod(make({ redis: { secretRef: { name: 'r', key: 'url' } } }));
    const names = [...env.keys()].filter((n) => n.startsWith('SIPPBX_'));
    const unknown = names.filter(
      (n) => !envKeys.has(n) && n !== 'SIPPBX_CONFIG' && n !== 'SIPPBX_PORT_PLAN_FILE',
    );
    expect(unknown).toEqual([]);
    expect(env.get('SIPPBX_REGISTRY_REDIS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'r', key: 'url' });
  });

  it('probes, preStop drain hook, volumes and mounts', () => {
    const { spec, container } = pod(make(big));
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(container.ports?.map((p) => [p.name, p.containerPort, p.protocol])).toEqual([
      ['sip-udp', 5060, 'UDP'],
      ['sip-tcp', 5060, 'TCP'],
      ['http', 8080, 'TCP'],
      ['metrics', 9090, 'TCP'],
    ]);
    const command = container.lifecycle?.preStop?.exec?.command ?? [];
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    expect(command[2]).toContain('/api/v1/drain');
    expect(command[2]).toContain(PATHS.adminTokenFile);
    expect(spec.volumes).toEqual([
      { name: 'config', configMap: { name: 'edge-config' } },
      { name: 'port-plan', configMap: { name: 'edge-port-plan' } },
      { name: 'admin-token', secret: { secretName: 'edge-admin-token' } },
    ]);
    expect(container.volumeMounts?.map((m) => m.mountPath)).toEqual([
      PATHS.configDir,
      PATHS.portPlanDir,
      PATHS.adminTokenDir,
    ]);
  });

  it('HostNetwork mode: hostNetwork + ClusterFirstWithHostNet', () => {
    const { spec } = pod(make({ media: { networkMode: 'HostNetwork' } }));
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
  });

  it('copies pod template bits from the spec', () => {
    const { sts, spec, container } = pod(
      make({
        image: 'registry.local/pbx:dev',
        imagePullPolicy: 'Always',
        resources: { requests: { cpu: '500m' }, limits: { memory: '1Gi', cpu: 2 } },
        tolerations: [{ key: 'voice', operator: 'Exists', value: undefined }],
        nodeSelector: { pool: 'voice' },
        affinity: { nodeAffinity: {} },
        podAnnotations: { 'example.com/team': 'voice' },
        sip: { transports: ['tcp'] },
        drain: { timeoutSeconds: 60 },
      }),
    );
    expect(container.image).toBe('registry.local/pbx:dev');
    expect(container.imagePullPolicy).toBe('Always');
    expect(container.resources).toEqual({ requests: { cpu: '500m' }, limits: { memory: '1Gi', cpu: '2' } });
    expect(spec.tolerations).toEqual([{ key: 'voice', operator: 'Exists' }]);
    expect(spec.nodeSelector).toEqual({ pool: 'voice' });
    expect(spec.affinity).toEqual({ nodeAffinity: {} });
    expect(spec.terminationGracePeriodSeconds).toBe(90);
    expect(container.ports?.map((p) => p.name)).toEqual(['sip-tcp', 'http', 'metrics']);
    expect(sts.spec?.template.metadata?.annotations).toMatchObject({ 'example.com/team': 'voice' });
  });

  it('the config hash rolls pods on config or range changes, not on replicas or pod-count changes', () => {
    const base = make(big);
    const hash = desiredStatefulSet(base, ctx).spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    expect(hash).toBe(configHash(base));
    expect(configHash(make({ ...big, replicas: 2 }))).toBe(hash);
    expect(configHash(make({ ...big, config: { logLevel: 'debug' } }))).not.toBe(hash);
    expect(configHash(make({ ...big, media: { portRange: { start: 10000, end: 48000 } } }))).not.toBe(hash);
  });
});

describe('desiredServices', () => {
  it('headless (not-ready addresses published), SIP (ClientIP affinity) and metrics', () => {
    const [headless, sip, metrics] = desiredServices(make(big), ctx);
    expect(headless.metadata?.name).toBe('edge-headless');
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(sip.metadata?.name).toBe('edge');
    expect(sip.spec).toMatchObject({
      type: 'ClusterIP',
      sessionAffinity: 'ClientIP',
      selector: selectorLabels('edge'),
    });
    expect(sip.spec?.ports).toEqual([
      { name: 'sip-udp', port: 5060, targetPort: 'sip-udp', protocol: 'UDP' },
      { name: 'sip-tcp', port: 5060, targetPort: 'sip-tcp', protocol: 'TCP' },
    ]);
    expect(sip.spec?.externalTrafficPolicy).toBeUndefined();
    expect(metrics.metadata?.name).toBe('edge-metrics');
    expect(metrics.spec?.ports).toEqual([
      { name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' },
    ]);
  });

  it.each([
    ['LoadBalancer', 'Local', 'Local'],
    ['NodePort', undefined, undefined],
    ['ClusterIP', 'Local', undefined],
  ] as const)('%s with externalTrafficPolicy %s -> %s', (serviceType, policy, expected) => {
    const sip = desiredServices(make({ sip: { serviceType, externalTrafficPolicy: policy } }), ctx)[1];
    expect(sip.spec?.type).toBe(serviceType);
    expect(sip.spec?.externalTrafficPolicy).toBe(expected);
  });
});

describe('desiredSecret', () => {
  it('generates a token once, then keeps the existing one', () => {
    const pbx = make({});
    const fresh = desiredSecret(pbx, ctx, undefined, () => 'generated');
    expect(fresh.metadata?.name).toBe('edge-admin-token');
    expect(existingToken(fresh)).toBe('generated');
    const kept = desiredSecret(pbx, ctx, existingToken(fresh), () => 'other');
    expect(existingToken(kept)).toBe('generated');
    expect(randomToken()).toMatch(/^[\w-]{43}$/);
    expect(randomToken()).not.toBe(randomToken());
    expect(existingToken(desiredSecret(pbx, ctx, undefined)) ?? '').toHaveLength(43);
  });

  it.each([
    [undefined, undefined],
    [{}, undefined],
    [{ data: { token: '' } }, undefined],
    [{ stringData: { token: 'plain' } }, 'plain'],
    [{ stringData: { token: '' }, data: { token: Buffer.from('b64').toString('base64') } }, 'b64'],
  ])('existingToken(%j) = %s', (secret, token) => {
    expect(existingToken(secret)).toBe(token);
  });
});

describe('PDB, monitors, managed Redis', () => {
  it('PDB: policy/v1 with maxUnavailable from updateStrategy', () => {
    expect(desiredPdb(make({}), ctx)).toMatchObject({
      apiVersion: 'policy/v1',
      metadata: { name: 'edge' },
      spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels('edge') } },
    });
    expect(desiredPdb(make({ updateStrategy: { maxUnavailable: 2 } }), ctx).spec?.maxUnavailable).toBe(2);
  });

  it('ServiceMonitor and PodMonitor only when enabled', () => {
    expect(desiredServiceMonitor(make({}), ctx)).toBeUndefined();
    expect(desiredPodMonitor(make({}), ctx)).toBeUndefined();
    const sm = desiredServiceMonitor(make({ monitoring: { serviceMonitor: true } }), ctx);
    expect(sm).toMatchObject({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      spec: { endpoints: [{ port: 'metrics', path: '/metrics' }] },
    });
    const [, , metricsService] = desiredServices(make({}), ctx);
    expect(metricsService.metadata?.labels).toMatchObject(
      (sm?.spec.selector as { matchLabels: Record<string, string> }).matchLabels,
    );
    expect(desiredPodMonitor(make({ monitoring: { podMonitor: true } }), ctx)?.kind).toBe('PodMonitor');
  });

  it('desiredState: everything, with managed Redis whose pod stays outside the pbx selector', () => {
    const state = desiredState(
      make({ ...big, redis: { managed: true }, monitoring: { serviceMonitor: true, podMonitor: true } }),
      ctx,
      {
        generateToken: () => 't',
      },
    );
    expect(state.plan.pods).toHaveLength(3);
    expect(state.configMaps.map((c) => c.metadata?.name)).toEqual(['edge-config', 'edge-port-plan']);
    expect(state.services.map((s) => s.metadata?.name)).toEqual(['edge-headless', 'edge', 'edge-metrics']);
    expect(state.monitors.map((m) => m.kind)).toEqual(['ServiceMonitor', 'PodMonitor']);
    expect(state.statefulSet.spec?.replicas).toBe(3);
    const redis = state.redis;
    expect(redis?.deployment.metadata?.name).toBe('edge-redis');
    expect(redis?.service.spec?.ports?.[0]?.port).toBe(6379);
    expect(redis?.deployment.spec?.template.spec?.containers[0]?.args).toBeUndefined();
    const redisPodLabels = redis?.deployment.spec?.template.metadata?.labels ?? {};
    const matches = Object.entries(selectorLabels('edge')).every(([k, v]) => redisPodLabels[k] === v);
    expect(matches).toBe(false);
    const every = [
      ...state.configMaps,
      state.secret,
      ...state.services,
      state.statefulSet,
      state.pdb,
      ...state.monitors,
      redis?.deployment,
      redis?.service,
    ];
    for (const o of every) expect(o?.metadata?.ownerReferences?.[0]?.uid).toBe('u1');
    for (const o of every) expect(o?.metadata?.labels?.['app.kubernetes.io/version']).toBe('0.4.2');
  });

  it('desiredState without Redis or monitors; explicit StatefulSet replicas and token', () => {
    const state = desiredState(make(big), ctx, { adminToken: 'kept', statefulSetReplicas: 4 });
    expect(state.redis).toBeUndefined();
    expect(state.monitors).toEqual([]);
    expect(state.statefulSet.spec?.replicas).toBe(4);
    expect(existingToken(state.secret)).toBe('kept');
  });
});

describe('names and owner', () => {
  it('selector string for the scale subresource', () => {
    expect(selectorString('edge')).toBe('app.kubernetes.io/name=sippbx,app.kubernetes.io/instance=edge');
    expect(objectNames('edge').portPlanConfigMap).toBe('edge-port-plan');
  });

  it('a SipPbx without uid or namespace is a programming error', () => {
    expect(() => ownerReference(make({}, { uid: undefined }))).toThrow(IncompleteSipPbxError);
    expect(() => desiredPdb(make({}, { namespace: '' }), ctx)).toThrow(/has no namespace/);
  });
});
