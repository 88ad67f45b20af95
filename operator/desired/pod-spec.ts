// The pbx pod template: container, environment, probes, volumes, scheduling and network mode.
import type {
  V1Container,
  V1ContainerPort,
  V1EnvVar,
  V1PodSpec,
  V1PodTemplateSpec,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { defaultImage, HTTP_PORT, METRICS_PORT, type SipPbx } from '../api/index.js';
import { resourceRequirements, tolerations as tolerationList } from './compact.js';
import type { DesiredContext } from './context.js';
import { CONFIG_HASH_ANNOTATION, commonLabels, objectNames, PATHS } from './names.js';
import { preStopHandler } from './prestop.js';

/** Seconds the pod gets beyond the drain deadline (BYEs, CDR flush, exit). */
export const TERMINATION_MARGIN_SECONDS = 30;

/** Name of the pbx container. */
export const PBX_CONTAINER = 'pbx';

const fieldEnv = (name: string, fieldPath: string): V1EnvVar => ({
  name,
  valueFrom: { fieldRef: { fieldPath } },
});

/** The container environment: downward API, config locations, per-pod listen addresses, Redis Secret. */
export function pbxEnv(pbx: SipPbx): V1EnvVar[] {
  const env: V1EnvVar[] = [
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('POD_IP', 'status.podIP'),
    { name: 'SIPPBX_CONFIG', value: PATHS.configFile },
    { name: 'SIPPBX_PORT_PLAN_FILE', value: PATHS.portPlanFile },
    // Listening on the pod IP (the node IP with HostNetwork) keeps pods sharing a node apart.
    { name: 'SIPPBX_SIP_LISTEN', value: '$(POD_IP)' },
    { name: 'SIPPBX_MEDIA_LISTEN', value: '$(POD_IP)' },
    { name: 'SIPPBX_HTTP_LISTEN', value: '$(POD_IP)' },
  ];
  const ref = pbx.spec.redis?.secretRef;
  if (ref !== undefined)
    env.push({
      name: 'SIPPBX_REGISTRY_REDIS_URL',
      valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } },
    });
  return env;
}

function containerPorts(pbx: SipPbx): V1ContainerPort[] {
  const sip = pbx.spec.sip;
  const ports: V1ContainerPort[] = sip.transports.map((t) => ({
    name: `sip-${t}`,
    containerPort: sip.port,
    protocol: t === 'udp' ? 'UDP' : 'TCP',
  }));
  ports.push(
    { name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' },
    { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
  );
  return ports;
}

const MOUNTS: readonly V1VolumeMount[] = [
  { name: 'config', mountPath: PATHS.configDir, readOnly: true },
  { name: 'port-plan', mountPath: PATHS.portPlanDir, readOnly: true },
  { name: 'admin-token', mountPath: PATHS.adminTokenDir, readOnly: true },
];

function volumes(pbx: SipPbx): V1Volume[] {
  const names = objectNames(pbx.metadata.name);
  return [
    { name: 'config', configMap: { name: names.configMap } },
    { name: 'port-plan', configMap: { name: names.portPlanConfigMap } },
    { name: 'admin-token', secret: { secretName: names.adminTokenSecret } },
  ];
}

/** The pbx container. */
export function pbxContainer(pbx: SipPbx, ctx: DesiredContext): V1Container {
  const spec = pbx.spec;
  return {
    name: PBX_CONTAINER,
    image: spec.image ?? defaultImage(ctx.operatorVersion),
    ...(spec.imagePullPolicy === undefined ? {} : { imagePullPolicy: spec.imagePullPolicy }),
    env: pbxEnv(pbx),
    ports: containerPorts(pbx),
    readinessProbe: {
      httpGet: { path: '/health/ready', port: 'http' },
      periodSeconds: 5,
      failureThreshold: 2,
    },
    livenessProbe: {
      httpGet: { path: '/health/live', port: 'http' },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      failureThreshold: 3,
    },
    lifecycle: { preStop: preStopHandler() },
    volumeMounts: MOUNTS.map((m) => ({ ...m })),
    ...(spec.resources === undefined ? {} : { resources: resourceRequirements(spec.resources) }),
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
}

/** Scheduling fields copied from the spec when set. */
function scheduling(pbx: SipPbx): Partial<V1PodSpec> {
  const { affinity, tolerations, nodeSelector } = pbx.spec;
  return {
    ...(affinity === undefined ? {} : { affinity }),
    ...(tolerations === undefined ? {} : { tolerations: tolerationList(tolerations) }),
    ...(nodeSelector === undefined ? {} : { nodeSelector }),
  };
}

/** The pod spec; HostNetwork mode also needs ClusterFirstWithHostNet to keep cluster DNS. */
export function pbxPodSpec(pbx: SipPbx, ctx: DesiredContext): V1PodSpec {
  const host = pbx.spec.media.networkMode === 'HostNetwork';
  return {
    containers: [pbxContainer(pbx, ctx)],
    volumes: volumes(pbx),
    terminationGracePeriodSeconds: pbx.spec.drain.timeoutSeconds + TERMINATION_MARGIN_SECONDS,
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    ...(host ? { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } : {}),
    ...scheduling(pbx),
  };
}

/** The pod template; `configHash` goes in an annotation so a config or port-plan change rolls the pods. */
export function pbxPodTemplate(pbx: SipPbx, ctx: DesiredContext, configHash: string): V1PodTemplateSpec {
  return {
    metadata: {
      labels: commonLabels(pbx.metadata.name, 'pbx'),
      annotations: { ...(pbx.spec.podAnnotations ?? {}), [CONFIG_HASH_ANNOTATION]: configHash },
    },
    spec: pbxPodSpec(pbx, ctx),
  };
}
