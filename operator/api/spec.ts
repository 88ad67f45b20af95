// The SipPbx spec (zod): every field, type, enum and default also lives in crds/sippbx.yaml, and
// test/operator/crd.test.ts proves the two agree.
import { z } from 'zod';
import { limitsSchema, logLevelSchema, PORTS_PER_CALL, routeSchema, webhookSchema } from './config-pieces.js';
import {
  PULL_POLICIES,
  affinitySchema,
  resourcesSchema,
  stringMapSchema,
  tolerationSchema,
} from './pod-template.js';
import { checkSpec } from './rules.js';

const port = z.int().min(1).max(65535);

/** SIP transports the pbx listens on. */
export const TRANSPORTS = ['udp', 'tcp'] as const;

/** Service types of the SIP Service. */
export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;

/** How media (RTP) ports reach the pods. */
export const NETWORK_MODES = ['HostNetwork', 'PodIP'] as const;

/** What deleting a SipPbx does to calls in progress. */
export const ON_DELETE_POLICIES = ['Drain', 'Immediate'] as const;

/** `spec.sip`: SIP port, transports and how the SIP Service is exposed. */
export const sipSpecSchema = z.object({
  port: port.default(5060),
  transports: z
    .array(z.enum(TRANSPORTS))
    .min(1)
    .refine((t) => new Set(t).size === t.length, { message: 'must not repeat a transport' })
    .default(['udp', 'tcp']),
  serviceType: z.enum(SERVICE_TYPES).default('ClusterIP'),
  externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
});

/** `spec.media.portRange`: the UDP ports [start, end) shared out among the pods. */
export const portRangeSchema = z.object({
  start: port.default(10000),
  end: port.default(20000),
});

/** `spec.media`: network mode, port range and per-pod capacity. */
export const mediaSpecSchema = z.object({
  networkMode: z.enum(NETWORK_MODES).default('PodIP'),
  portRange: portRangeSchema.prefault({}),
  maxCallsPerPod: z.int().min(1).max(8191).default(1000),
  portsPerCall: z.literal(PORTS_PER_CALL).default(PORTS_PER_CALL),
});

/** A key of a Secret in the SipPbx's namespace. */
export const secretKeyRefSchema = z.object({
  name: z.string().min(1),
  key: z.string().min(1),
});

/** `spec.redis`: exactly one of a URL, a Secret holding the URL, or a managed single instance. */
export const redisSpecSchema = z.object({
  url: z
    .string()
    .regex(/^rediss?:\/\/.+/)
    .optional(),
  secretRef: secretKeyRefSchema.optional(),
  managed: z.boolean().optional(),
});

/** `spec.drain`: drain deadline and what deletion does. */
export const drainSpecSchema = z.object({
  timeoutSeconds: z.int().min(0).max(86400).default(3600),
  onDelete: z.enum(ON_DELETE_POLICIES).default('Drain'),
});

/** `spec.updateStrategy`: how many pods a rollout (or disruption) may take down at once. */
export const updateStrategySchema = z.object({
  maxUnavailable: z.int().min(1).default(1),
});

/** `spec.config`: pbx config overrides, typed by the pbx's own schema pieces. */
export const configOverridesSchema = z.object({
  routes: z.array(routeSchema).optional(),
  webhooks: z.array(webhookSchema).optional(),
  limits: limitsSchema.optional(),
  logLevel: logLevelSchema.optional(),
});

/** `spec.monitoring`: Prometheus operator objects to create. */
export const monitoringSpecSchema = z.object({
  serviceMonitor: z.boolean().default(false),
  podMonitor: z.boolean().optional(),
});

/** The fields of `spec`, before the cross-field rules. */
export const sipPbxSpecObject = z.object({
  replicas: z.int().min(0).default(1),
  image: z.string().min(1).optional(),
  imagePullPolicy: z.enum(PULL_POLICIES).optional(),
  resources: resourcesSchema.optional(),
  affinity: affinitySchema.optional(),
  tolerations: z.array(tolerationSchema).optional(),
  nodeSelector: stringMapSchema.optional(),
  podAnnotations: stringMapSchema.optional(),
  sip: sipSpecSchema.prefault({}),
  media: mediaSpecSchema.prefault({}),
  redis: redisSpecSchema.optional(),
  drain: drainSpecSchema.prefault({}),
  updateStrategy: updateStrategySchema.prefault({}),
  config: configOverridesSchema.optional(),
  monitoring: monitoringSpecSchema.prefault({}),
});

/** `spec` of a SipPbx, with the cross-field rules the CRD states in CEL. */
export const sipPbxSpecSchema = sipPbxSpecObject.superRefine((spec, ctx) => {
  for (const issue of checkSpec(spec)) ctx.addIssue({ code: 'custom', ...issue });
});

/** A SipPbx spec with every default filled. */
export type SipPbxSpec = z.output<typeof sipPbxSpecSchema>;

/** A SipPbx spec as a user writes it (defaults optional). */
export type SipPbxSpecInput = z.input<typeof sipPbxSpecSchema>;

/** `spec.media` with defaults. */
export type MediaSpec = SipPbxSpec['media'];

/** `spec.redis`. */
export type RedisSpec = NonNullable<SipPbxSpec['redis']>;

/** `spec.config`. */
export type ConfigOverrides = NonNullable<SipPbxSpec['config']>;
