// The pbx configuration schema: every key of CONTRACTS.md "pbx configuration" plus the documented additions.
// Key names are a public contract (Helm values, operator, docs): add keys freely, never rename one.
import { isIP } from 'node:net';
import { z } from 'zod';

/** The only block size the media port pool supports (ARCHITECTURE.md "Media": 2 media lines x 2 legs x RTP/RTCP). */
export const PORTS_PER_CALL = 8;

/** Call event types a webhook may subscribe to (CONTRACTS.md "Call events and CDR"). */
export const CALL_EVENT_TYPES = ['call.started', 'call.answered', 'call.ended'] as const;

/** User-Agent patterns of well-known SIP scanners; matched case-insensitively by `protect/`. */
export const DEFAULT_SCANNER_USER_AGENTS: readonly string[] = [
  'friendly-scanner',
  'sipvicious',
  'sipcli',
  'VaxSIPUserAgent',
  'sundayddr',
  'iWar',
  'sip-?scan',
  'pplsip',
];

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, at most 253 characters.
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

function isHostname(value: string): boolean {
  // "10.0.0.300" matches the label grammar but is a mistyped IPv4 address, not a host name.
  return HOSTNAME.test(value) && !/^[\d.]+$/.test(value);
}

/** Returns the regex compile error for `pattern`, or null when it compiles with `flags`. */
export function regexError(pattern: string, flags = ''): string | null {
  try {
    new RegExp(pattern, flags);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const got = (value: unknown): string => JSON.stringify(value) ?? String(value);

const ipAddress = z.string().refine((v) => isIP(v) !== 0, {
  error: (iss) => `must be an IPv4 or IPv6 address (got ${got(iss.input)})`,
});

const hostOrIp = z.string().refine((v) => isIP(v) !== 0 || isHostname(v), {
  error: (iss) => `must be an IP address or a host name (got ${got(iss.input)})`,
});

const port = z.int().min(1).max(65535);
/** Port 0 asks the OS for an ephemeral port (tests). */
const portOrEphemeral = z.int().min(0).max(65535);
const positiveInt = z.int().min(1);
const nonEmpty = z.string().min(1);

const regexString = (flags: string) =>
  z.string().superRefine((v, ctx) => {
    const error = regexError(v, flags);
    if (error !== null) ctx.addIssue({ code: 'custom', message: error });
  });

const sipUri = z
  .string()
  .regex(/^sips?:\S+$/i, { error: (iss) => `must be a sip: or sips: URI (got ${got(iss.input)})` });

const httpUrl = z.string().refine(
  (v) => {
    try {
      const url = new URL(v);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { error: (iss) => `must be an http:// or https:// URL (got ${got(iss.input)})` },
);

const redisUrl = z.string().refine(
  (v) => {
    try {
      const url = new URL(v);
      return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: (iss) => `must be a redis:// or rediss:// URL with a host (got ${got(iss.input)})` },
);

const uniqueList = <T extends z.ZodType>(item: T) =>
  z.array(item).superRefine((items, ctx) => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      if (seen.has(item))
        ctx.addIssue({ code: 'custom', message: `duplicate entry ${got(item)}`, path: [i] });
      seen.add(item);
    });
  });

const sipSchema = z
  .strictObject({
    listen: ipAddress.default('0.0.0.0'),
    port: portOrEphemeral.default(5060),
    advertisedAddress: hostOrIp.nullable().default(null),
    maxMessageBytes: z.int().min(1).max(1_048_576).default(65535),
    transports: uniqueList(z.enum(['udp', 'tcp']))
      .min(1)
      .default(['udp', 'tcp']),
    // RFC 3261 §17.1.1.1 / §17.1.2.2: T1 (RTT estimate), T2 (max non-INVITE retransmit), T4 (max network lifetime).
    timers: z
      .strictObject({
        t1Ms: positiveInt.default(500),
        t2Ms: positiveInt.default(4000),
        t4Ms: positiveInt.default(5000),
        dMs: positiveInt.default(32000),
      })
      .superRefine((t, ctx) => {
        if (t.t2Ms < t.t1Ms) {
          ctx.addIssue({
            code: 'custom',
            message: `must be >= t1Ms (${t.t1Ms}) (got ${t.t2Ms})`,
            path: ['t2Ms'],
          });
        }
      })
      .prefault({}),
    tcpIdleTimeoutSeconds: z.number().positive().default(120),
    maxTcpConnections: positiveInt.default(10000),
    // SO_RCVBUF of the SIP UDP socket: a backlog of datagrams waits here while the event loop is busy.
    udpReceiveBufferBytes: z
      .int()
      .min(4096)
      .max(1 << 30)
      .default(4 * 1024 * 1024),
    limits: z
      .strictObject({
        maxHeaders: positiveInt.default(128),
        maxHeaderLineBytes: positiveInt.default(8192),
        maxUriParams: positiveInt.default(32),
      })
      .prefault({}),
    userAgent: nonEmpty.default('sippbx'),
    // RFC 4028 on both legs: a call whose party vanished ends within one interval (docs/configuration.md).
    sessionTimers: z
      .strictObject({
        enabled: z.boolean().default(true),
        // §4: RECOMMENDED 1800 s; the RFC's floor for Min-SE is 90 s (lower values are for tests).
        expiresSeconds: positiveInt.max(86_400).default(1800),
        minSeSeconds: positiveInt.max(86_400).default(90),
      })
      .superRefine((t, ctx) => {
        if (t.expiresSeconds < t.minSeSeconds) {
          ctx.addIssue({
            code: 'custom',
            message: `must be >= minSeSeconds (${t.minSeSeconds}) (got ${t.expiresSeconds})`,
            path: ['expiresSeconds'],
          });
        }
      })
      .prefault({}),
  })
  .prefault({});

const mediaSchema = z
  .strictObject({
    listen: ipAddress.default('0.0.0.0'),
    // SDP c= carries an address many endpoints only accept as an IP (RFC 4566 §5.7 allows FQDNs, practice does not).
    advertisedAddress: ipAddress.nullable().default(null),
    portRange: z
      .strictObject({
        start: port
          .refine((v) => v % 2 === 0, { error: (iss) => `must be even (got ${got(iss.input)})` })
          .default(10000),
        end: port.default(20000),
      })
      .prefault({}),
    portsPerCall: z
      .literal(PORTS_PER_CALL, {
        error: (iss) => `must be ${PORTS_PER_CALL}, the only supported block size (got ${got(iss.input)})`,
      })
      .default(PORTS_PER_CALL),
    maxCalls: positiveInt.default(1000),
    transcode: z.boolean().default(false),
    // auto: the native relay (pbx/media/relay/native) when its addon is built, else the Node one.
    relayEngine: z.enum(['auto', 'native', 'node']).default('auto'),
    // rtpengine's default: an answered call with no RTP either way for a minute has lost its parties.
    inactivityTimeoutSeconds: z.number().positive().nullable().default(60),
  })
  .superRefine((m, ctx) => {
    const { start, end } = m.portRange;
    if (start >= end) {
      ctx.addIssue({
        code: 'custom',
        message: `must be < end (${end}) (got ${start})`,
        path: ['portRange', 'start'],
      });
    } else if (end - start < m.portsPerCall) {
      ctx.addIssue({
        code: 'custom',
        message: `range [${start}, ${end}) holds ${end - start} ports, less than one block of portsPerCall (${m.portsPerCall})`,
        path: ['portRange', 'end'],
      });
    }
  })
  .prefault({});

const routeSchema = z.strictObject({
  match: regexString(''),
  target: sipUri,
});

const routingSchema = z
  .strictObject({
    routes: z.array(routeSchema).default([{ match: '^.*$', target: 'sip:127.0.0.1:5070' }]),
    noAnswerTimeoutSeconds: z.number().positive().max(3600).default(60),
  })
  .prefault({});

const registrySchema = z
  .strictObject({
    backend: z.enum(['memory', 'redis']).default('memory'),
    redis: z
      .strictObject({
        url: redisUrl.default('redis://127.0.0.1:6379'),
        keyPrefix: z.string().default('sippbx:'),
        passwordFile: z.string().min(1).nullable().default(null),
        tls: z.boolean().default(false),
      })
      .prefault({}),
  })
  .prefault({});

const limitsSchema = z
  .strictObject({
    invitesPerSecondPerIp: z.number().positive().default(10),
    maxMemoryMb: positiveInt.nullable().default(null),
    rateLimitAction: z.enum(['reject', 'drop']).default('reject'),
    scannerUserAgents: z
      .array(
        regexString('i').refine((v) => regexError(v, 'i') !== null || !new RegExp(v, 'i').test(''), {
          message: 'must not match an empty User-Agent (it would drop every INVITE)',
        }),
      )
      .default([...DEFAULT_SCANNER_USER_AGENTS]),
    // Overload control (pbx/protect load shedder): refuse a growing fraction of new INVITEs with 503 before the
    // event loop saturates. Defaults sit above what a pbx at moderate load reaches.
    overload: z
      .strictObject({
        enabled: z.boolean().default(true),
        maxEventLoopDelayMs: z.number().positive().default(100),
        // 1: off. Utilization alone cannot tell a cold pbx's JIT warm-up from saturation (docs/configuration.md).
        maxEventLoopUtilization: z.number().positive().max(1).default(1),
        maxCallsInSetup: positiveInt.nullable().default(null),
        retryAfterSeconds: z.int().min(0).max(3600).default(2),
      })
      .prefault({}),
  })
  .prefault({});

const webhookSchema = z.strictObject({
  url: httpUrl,
  events: uniqueList(z.enum(CALL_EVENT_TYPES))
    .min(1)
    .default([...CALL_EVENT_TYPES]),
  secret: nonEmpty.nullable().default(null),
  timeoutMs: positiveInt.default(5000),
  maxAttempts: positiveInt.default(8),
});

const eventsSchema = z
  .strictObject({
    cdr: z.strictObject({ path: nonEmpty.nullable().default(null) }).prefault({}),
    webhooks: z.array(webhookSchema).default([
      {
        url: 'http://127.0.0.1:9999/hook',
        events: [...CALL_EVENT_TYPES],
        secret: null,
        timeoutMs: 5000,
        maxAttempts: 8,
      },
    ]),
    spoolDir: nonEmpty.nullable().default(null),
  })
  .prefault({});

const tokenSchema = z
  .strictObject({
    token: nonEmpty.optional(),
    tokenFile: nonEmpty.optional(),
    role: z.enum(['read', 'admin']),
  })
  .superRefine((t, ctx) => {
    if ((t.token === undefined) === (t.tokenFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of token or tokenFile' });
    }
  });

const httpSchema = z
  .strictObject({
    listen: ipAddress.default('0.0.0.0'),
    port: portOrEphemeral.default(8080),
    auth: z.strictObject({ tokens: z.array(tokenSchema).default([]) }).prefault({}),
  })
  .prefault({});

/** Zod schema of the whole pbx configuration; parsing `{}` yields the embedded defaults. */
export const pbxConfigSchema = z
  .strictObject({
    sip: sipSchema,
    media: mediaSchema,
    routing: routingSchema,
    registry: registrySchema,
    limits: limitsSchema,
    events: eventsSchema,
    http: httpSchema,
    metrics: z.strictObject({ port: portOrEphemeral.default(9090) }).prefault({}),
    logging: z
      .strictObject({ level: z.enum(['debug', 'info', 'warning', 'error']).default('info') })
      .prefault({}),
    shutdown: z.strictObject({ drainTimeoutSeconds: z.number().min(0).default(3600) }).prefault({}),
  })
  .superRefine((cfg, ctx) => {
    // SIP (TCP), HTTP and metrics all listen on TCP; two of them on one port cannot both bind.
    const tcpPorts: [string, number][] = [
      ['http.port', cfg.http.port],
      ['metrics.port', cfg.metrics.port],
    ];
    if (cfg.sip.transports.includes('tcp')) tcpPorts.unshift(['sip.port', cfg.sip.port]);
    for (const [path, value] of tcpPorts) {
      for (const [otherPath, otherValue] of tcpPorts) {
        if (otherPath === path || value === 0 || otherValue !== value) continue;
        ctx.addIssue({
          code: 'custom',
          message: `must differ from ${otherPath} (both ${value})`,
          path: path.split('.'),
        });
      }
    }
    const { start, end } = cfg.media.portRange;
    if (cfg.sip.transports.includes('udp') && cfg.sip.port >= start && cfg.sip.port < end) {
      ctx.addIssue({
        code: 'custom',
        message: `must be outside media.portRange [${start}, ${end}) (got ${cfg.sip.port})`,
        path: ['sip', 'port'],
      });
    }
  });

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The validated, fully defaulted pbx configuration; deeply readonly (and frozen at runtime). */
export type PbxConfig = DeepReadonly<z.output<typeof pbxConfigSchema>>;

/** Freezes `value` and everything reachable from it; returns it for chaining. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The embedded defaults, used when no config file is given (`make run`). */
export const defaultConfig: PbxConfig = deepFreeze(pbxConfigSchema.parse({}));
