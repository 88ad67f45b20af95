import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../pbx/config/index.js';
import { configError } from './helpers.js';

/** [what, input, path, message fragment] — each input has exactly one problem. */
const cases: [string, unknown, string, string][] = [
  // ports
  ['sip.port above 65535', { sip: { port: 70000 } }, 'sip.port', 'must be <= 65535 (got 70000)'],
  ['sip.port negative', { sip: { port: -1 } }, 'sip.port', 'must be >= 0 (got -1)'],
  ['sip.port not an integer', { sip: { port: 5060.5 } }, 'sip.port', 'must be an integer (got 5060.5)'],
  ['sip.port a string', { sip: { port: '5060' } }, 'sip.port', 'expected number (got "5060")'],
  ['http.port above 65535', { http: { port: 65536 } }, 'http.port', 'must be <= 65535'],
  ['metrics.port negative', { metrics: { port: -5 } }, 'metrics.port', 'must be >= 0'],
  [
    'portRange.start 0',
    { media: { portRange: { start: 0 } } },
    'media.portRange.start',
    'must be >= 1 (got 0)',
  ],
  [
    'portRange.end too big',
    { media: { portRange: { end: 70000 } } },
    'media.portRange.end',
    'must be <= 65535',
  ],
  // addresses
  [
    'sip.listen a host name',
    { sip: { listen: 'localhost' } },
    'sip.listen',
    'must be an IPv4 or IPv6 address (got "localhost")',
  ],
  [
    'media.listen bad IPv4',
    { media: { listen: '10.0.0.256' } },
    'media.listen',
    'must be an IPv4 or IPv6 address',
  ],
  ['http.listen garbage', { http: { listen: 'any' } }, 'http.listen', 'must be an IPv4 or IPv6 address'],
  [
    'sip.advertisedAddress bad',
    { sip: { advertisedAddress: 'bad host!' } },
    'sip.advertisedAddress',
    'must be an IP address or a host name',
  ],
  [
    'sip.advertisedAddress dotted digits',
    { sip: { advertisedAddress: '10.0.0.300' } },
    'sip.advertisedAddress',
    'must be an IP address or a host name',
  ],
  [
    'media.advertisedAddress a host name',
    { media: { advertisedAddress: 'pbx.example.com' } },
    'media.advertisedAddress',
    'must be an IPv4 or IPv6 address',
  ],
  // media
  [
    'portRange.start odd',
    { media: { portRange: { start: 10001 } } },
    'media.portRange.start',
    'must be even (got 10001)',
  ],
  [
    'portRange.start >= end',
    { media: { portRange: { start: 20000, end: 20000 } } },
    'media.portRange.start',
    'must be < end (20000) (got 20000)',
  ],
  [
    'portRange smaller than one block',
    { media: { portRange: { start: 10000, end: 10006 } } },
    'media.portRange.end',
    'holds 6 ports, less than one block of portsPerCall (8)',
  ],
  [
    'portsPerCall not 8',
    { media: { portsPerCall: 4 } },
    'media.portsPerCall',
    'must be 8, the only supported block size (got 4)',
  ],
  ['maxCalls 0', { media: { maxCalls: 0 } }, 'media.maxCalls', 'must be >= 1 (got 0)'],
  ['transcode a string', { media: { transcode: 'yes' } }, 'media.transcode', 'expected boolean (got "yes")'],
  [
    'inactivityTimeoutSeconds 0',
    { media: { inactivityTimeoutSeconds: 0 } },
    'media.inactivityTimeoutSeconds',
    'must be > 0 (got 0)',
  ],
  // sip additions
  ['transports empty', { sip: { transports: [] } }, 'sip.transports', 'must not be empty'],
  [
    'transports unknown',
    { sip: { transports: ['udp', 'sctp'] } },
    'sip.transports.1',
    'must be one of udp, tcp (got "sctp")',
  ],
  [
    'transports duplicate',
    { sip: { transports: ['udp', 'udp'] } },
    'sip.transports.1',
    'duplicate entry "udp"',
  ],
  [
    'timers.t2Ms below t1Ms',
    { sip: { timers: { t1Ms: 5000, t2Ms: 4000 } } },
    'sip.timers.t2Ms',
    'must be >= t1Ms (5000) (got 4000)',
  ],
  ['timers.t4Ms 0', { sip: { timers: { t4Ms: 0 } } }, 'sip.timers.t4Ms', 'must be >= 1'],
  [
    'maxMessageBytes too big',
    { sip: { maxMessageBytes: 2_000_000 } },
    'sip.maxMessageBytes',
    'must be <= 1048576',
  ],
  ['limits.maxHeaders 0', { sip: { limits: { maxHeaders: 0 } } }, 'sip.limits.maxHeaders', 'must be >= 1'],
  ['userAgent empty', { sip: { userAgent: '' } }, 'sip.userAgent', 'must not be empty'],
  // port collisions
  [
    'sip.port inside media range',
    { sip: { port: 10008 } },
    'sip.port',
    'must be outside media.portRange [10000, 20000) (got 10008)',
  ],
  [
    'http and metrics share a port',
    { metrics: { port: 8080 } },
    'metrics.port',
    'must differ from http.port (both 8080)',
  ],
  // routing
  [
    'route regex does not compile',
    { routing: { routes: [{ match: '^(1', target: 'sip:h' }] } },
    'routing.routes.0.match',
    'Invalid regular expression: /^(1/: Unterminated group',
  ],
  [
    'route target not SIP',
    { routing: { routes: [{ match: '.', target: 'tel:+1555' }] } },
    'routing.routes.0.target',
    'must be a sip: or sips: URI (got "tel:+1555")',
  ],
  ['route without target', { routing: { routes: [{ match: '.' }] } }, 'routing.routes.0.target', 'required'],
  ['routes not a list', { routing: { routes: { match: '.' } } }, 'routing.routes', 'expected array'],
  // registry
  [
    'registry backend unknown',
    { registry: { backend: 'etcd' } },
    'registry.backend',
    'must be one of memory, redis (got "etcd")',
  ],
  [
    'redis url not redis',
    { registry: { redis: { url: 'http://h:6379' } } },
    'registry.redis.url',
    'must be a redis:// or rediss:// URL',
  ],
  // limits
  [
    'invitesPerSecondPerIp 0',
    { limits: { invitesPerSecondPerIp: 0 } },
    'limits.invitesPerSecondPerIp',
    'must be > 0',
  ],
  ['maxMemoryMb fractional', { limits: { maxMemoryMb: 1.5 } }, 'limits.maxMemoryMb', 'must be an integer'],
  [
    'rateLimitAction unknown',
    { limits: { rateLimitAction: 'tarpit' } },
    'limits.rateLimitAction',
    'must be one of reject, drop',
  ],
  [
    'scanner regex does not compile',
    { limits: { scannerUserAgents: ['[a-'] } },
    'limits.scannerUserAgents.0',
    'Invalid regular expression',
  ],
  // events
  [
    'webhook url not http',
    { events: { webhooks: [{ url: 'ftp://h/x' }] } },
    'events.webhooks.0.url',
    'must be an http:// or https:// URL (got "ftp://h/x")',
  ],
  [
    'webhook url not a URL',
    { events: { webhooks: [{ url: 'hook' }] } },
    'events.webhooks.0.url',
    'must be an http:// or https:// URL',
  ],
  [
    'webhook event unknown',
    { events: { webhooks: [{ url: 'http://h', events: ['call.held'] }] } },
    'events.webhooks.0.events.0',
    'must be one of call.started, call.answered, call.ended',
  ],
  [
    'webhook events empty',
    { events: { webhooks: [{ url: 'http://h', events: [] }] } },
    'events.webhooks.0.events',
    'must not be empty',
  ],
  [
    'webhook maxAttempts 0',
    { events: { webhooks: [{ url: 'http://h', maxAttempts: 0 }] } },
    'events.webhooks.0.maxAttempts',
    'must be >= 1',
  ],
  [
    'webhook secret empty',
    { events: { webhooks: [{ url: 'http://h', secret: '' }] } },
    'events.webhooks.0.secret',
    'must not be empty',
  ],
  ['cdr path empty', { events: { cdr: { path: '' } } }, 'events.cdr.path', 'must not be empty'],
  // http tokens
  [
    'token with neither token nor tokenFile',
    { http: { auth: { tokens: [{ role: 'read' }] } } },
    'http.auth.tokens.0',
    'needs exactly one of token or tokenFile',
  ],
  [
    'token with both',
    { http: { auth: { tokens: [{ token: 'a', tokenFile: '/f', role: 'read' }] } } },
    'http.auth.tokens.0',
    'needs exactly one of token or tokenFile',
  ],
  [
    'token role unknown',
    { http: { auth: { tokens: [{ token: 'a', role: 'root' }] } } },
    'http.auth.tokens.0.role',
    'must be one of read, admin (got "root")',
  ],
  [
    'token role missing',
    { http: { auth: { tokens: [{ token: 'a' }] } } },
    'http.auth.tokens.0.role',
    'required',
  ],
  [
    'token empty',
    { http: { auth: { tokens: [{ token: '', role: 'read' }] } } },
    'http.auth.tokens.0.token',
    'must not be empty',
  ],
  // logging, shutdown
  [
    'logging level unknown',
    { logging: { level: 'warn' } },
    'logging.level',
    'must be one of debug, info, warning, error (got "warn")',
  ],
  [
    'drainTimeoutSeconds negative',
    { shutdown: { drainTimeoutSeconds: -1 } },
    'shutdown.drainTimeoutSeconds',
    'must be >= 0',
  ],
  // strictness: typos are errors, with a suggestion
  ['unknown top-level section', { sipp: {} }, 'sipp', 'unknown key (did you mean sip?)'],
  [
    'typo in a key',
    { sip: { advertisedAdress: '1.2.3.4' } },
    'sip.advertisedAdress',
    'unknown key (did you mean advertisedAddress?)',
  ],
  [
    'unknown key in a route',
    { routing: { routes: [{ match: '.', target: 'sip:h', tagret: 'x' }] } },
    'routing.routes.0.tagret',
    'unknown key',
  ],
  ['unknown key, nothing close', { metrics: { path: '/m' } }, 'metrics.path', 'unknown key'],
  ['section not a mapping', { sip: 5060 }, 'sip', 'expected object (got 5060)'],
];

describe('validation', () => {
  it.each(cases)('%s', (_what, input, path, message) => {
    const err = configError(() => parseConfig(input, 'test.yaml'));
    expect(err.code).toBe('PBX_ERR_CONFIG');
    const issue = err.issues.find((i) => i.path === path);
    expect(issue, err.message).toBeDefined();
    expect(issue?.source).toBe('test.yaml');
    expect(issue?.message).toContain(message);
    expect(err.message).toContain(`${path}: `);
    expect(err.message).toContain(message);
  });

  it('reports a port collision on both keys', () => {
    const err = configError(() => parseConfig({ sip: { port: 9090 } }));
    expect(err.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'sip.port: must differ from metrics.port (both 9090)',
      'metrics.port: must differ from sip.port (both 9090)',
    ]);
  });

  it('reports every problem at once, in one message', () => {
    const err = configError(() =>
      parseConfig({ sip: { port: 'x' }, media: { portRange: { start: 3 } }, logging: { level: 'loud' } }),
    );
    expect(err.issues.map((i) => i.path)).toEqual(['sip.port', 'media.portRange.start', 'logging.level']);
    expect(err.message).toMatch(/^invalid pbx configuration \(3 problems\):\n {2}sip\.port: /);
  });

  it('is a PbxError with a stable code and the zod error as cause', () => {
    const err = configError(() => parseConfig({ sip: { port: 'x' } }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.name).toBe('ConfigError');
    expect(err.cause).toBeDefined();
  });

  it.each([
    ['0 for ephemeral ports', { sip: { port: 0 }, http: { port: 0 }, metrics: { port: 0 } }],
    [
      'IPv6 listen and host name advertised',
      { sip: { listen: '::1', advertisedAddress: 'pbx-0.pbx.default.svc' } },
    ],
    ['IPv6 advertised media address', { media: { advertisedAddress: '2001:db8::1' } }],
    ['UDP-only SIP sharing its number with HTTP', { sip: { port: 8080, transports: ['udp'] } }],
    ['TCP-only SIP inside the (UDP) media range', { sip: { port: 10008, transports: ['tcp'] } }],
    ['a range of exactly one block', { media: { portRange: { start: 40000, end: 40008 } } }],
    ['no routes', { routing: { routes: [] } }],
    ['SIPS and upper-case scheme targets', { routing: { routes: [{ match: '.', target: 'SIPS:h' }] } }],
    ['a tokenFile entry', { http: { auth: { tokens: [{ tokenFile: '/run/t', role: 'admin' }] } } }],
    [
      'null for nullable keys',
      { limits: { maxMemoryMb: null }, events: { cdr: { path: null }, spoolDir: null } },
    ],
  ])('accepts %s', (_what, input) => {
    expect(() => parseConfig(input)).not.toThrow();
  });

  it('rejects a "__proto__" key as unknown instead of polluting prototypes', () => {
    const input = JSON.parse('{"sip": {"__proto__": {"port": 1}}}') as unknown;
    const err = configError(() => parseConfig(input));
    expect(err.issues[0]?.path).toBe('sip.__proto__');
  });
});

describe('limits.scannerUserAgents', () => {
  it('refuses a pattern that matches an empty User-Agent', () => {
    expect(() => parseConfig({ limits: { scannerUserAgents: ['sipvicious|'] } })).toThrow(/empty User-Agent/);
  });
});
