// Cross-field rules of the SipPbx spec. crds/sippbx.yaml states each one as an x-kubernetes-validations
// CEL rule with the same message (test/operator/crd.test.ts checks the messages match), so the API
// server and the operator refuse the same specs.

/** The messages of the spec rules, one per CEL rule of the CRD. */
export const RULE_MESSAGES = {
  startAligned:
    'media.portRange.start must be a multiple of 8 (portsPerCall): call port blocks are aligned to 8, so RTP ports are even',
  endAfterStart: 'media.portRange.end must be greater than media.portRange.start',
  rangeFits:
    'media.portRange is too small: it needs replicas * maxCallsPerPod * portsPerCall ports (end - start)',
  sipPortOutsideMedia: 'sip.port must be outside media.portRange',
  sipPortFree: 'sip.port must differ from the pbx HTTP (8080) and metrics (9090) ports',
  oneRedisSource: 'redis needs exactly one of url, secretRef or managed: true',
  portsPerCallImmutable: 'media.portsPerCall is immutable',
} as const;

/** Pbx HTTP port (health, management API) inside every pod. */
export const HTTP_PORT = 8080;

/** Pbx metrics port inside every pod. */
export const METRICS_PORT = 9090;

/** One failed rule: where, and the rule's message. */
export interface SpecIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/** The spec fields the rules read. */
export interface RuleInput {
  readonly replicas: number;
  readonly sip: { readonly port: number };
  readonly media: {
    readonly portRange: { readonly start: number; readonly end: number };
    readonly maxCallsPerPod: number;
    readonly portsPerCall: number;
  };
  readonly redis?:
    | {
        readonly url?: string | undefined;
        readonly secretRef?: unknown;
        readonly managed?: boolean | undefined;
      }
    | undefined;
}

function mediaIssues(spec: RuleInput): SpecIssue[] {
  const { start, end } = spec.media.portRange;
  const out: SpecIssue[] = [];
  if (start % 8 !== 0)
    out.push({ path: ['media', 'portRange', 'start'], message: RULE_MESSAGES.startAligned });
  if (end <= start) out.push({ path: ['media', 'portRange', 'end'], message: RULE_MESSAGES.endAfterStart });
  if (end - start < spec.replicas * spec.media.maxCallsPerPod * spec.media.portsPerCall)
    out.push({ path: ['media', 'portRange'], message: RULE_MESSAGES.rangeFits });
  return out;
}

function sipIssues(spec: RuleInput): SpecIssue[] {
  const { start, end } = spec.media.portRange;
  const port = spec.sip.port;
  const out: SpecIssue[] = [];
  if (port >= start && port < end)
    out.push({ path: ['sip', 'port'], message: RULE_MESSAGES.sipPortOutsideMedia });
  if (port === HTTP_PORT || port === METRICS_PORT)
    out.push({ path: ['sip', 'port'], message: RULE_MESSAGES.sipPortFree });
  return out;
}

function redisIssues(spec: RuleInput): SpecIssue[] {
  const redis = spec.redis;
  if (redis === undefined) return [];
  const sources = [redis.url !== undefined, redis.secretRef !== undefined, redis.managed === true];
  return sources.filter(Boolean).length === 1
    ? []
    : [{ path: ['redis'], message: RULE_MESSAGES.oneRedisSource }];
}

/** Every cross-field rule the spec breaks (empty when it is valid). */
export function checkSpec(spec: RuleInput): SpecIssue[] {
  return [...mediaIssues(spec), ...sipIssues(spec), ...redisIssues(spec)];
}

/** Rules between the stored spec and an update (CEL transition rules); empty when the change is allowed. */
export function checkSpecChange(
  old: { readonly media: { readonly portsPerCall: number } },
  next: { readonly media: { readonly portsPerCall: number } },
): SpecIssue[] {
  return old.media.portsPerCall === next.media.portsPerCall
    ? []
    : [{ path: ['media', 'portsPerCall'], message: RULE_MESSAGES.portsPerCallImmutable }];
}
