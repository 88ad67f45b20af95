import { describe, expect, it } from 'vitest';
import { CONFIG_FILE_ENV, envKeys, envVarName, loadConfig } from '../../pbx/config/index.js';
import { configError } from './helpers.js';

describe('envVarName', () => {
  it.each([
    [['sip', 'port'], 'SIPPBX_SIP_PORT'],
    [['registry', 'backend'], 'SIPPBX_REGISTRY_BACKEND'],
    [['registry', 'redis', 'url'], 'SIPPBX_REGISTRY_REDIS_URL'],
    [['media', 'portRange', 'start'], 'SIPPBX_MEDIA_PORT_RANGE_START'],
    [['sip', 'advertisedAddress'], 'SIPPBX_SIP_ADVERTISED_ADDRESS'],
    [['sip', 'timers', 't1Ms'], 'SIPPBX_SIP_TIMERS_T1_MS'],
    [['limits', 'invitesPerSecondPerIp'], 'SIPPBX_LIMITS_INVITES_PER_SECOND_PER_IP'],
  ])('%j -> %s', (path, name) => {
    expect(envVarName(path)).toBe(name);
  });

  it('gives every key, leaf or section, its own variable', () => {
    expect(envKeys.get('SIPPBX_SIP_PORT')).toEqual({
      path: ['sip', 'port'],
      kind: 'number',
      nullable: false,
    });
    expect(envKeys.get('SIPPBX_MEDIA_PORT_RANGE')).toMatchObject({ kind: 'json' });
    expect(envKeys.get('SIPPBX_ROUTING_ROUTES')).toMatchObject({ kind: 'json' });
    expect(envKeys.get('SIPPBX_MEDIA_TRANSCODE')).toMatchObject({ kind: 'boolean' });
    expect(envKeys.get('SIPPBX_MEDIA_PORTS_PER_CALL')).toMatchObject({ kind: 'number' });
    expect(envKeys.get('SIPPBX_LOGGING_LEVEL')).toMatchObject({ kind: 'string' });
    expect(envKeys.get('SIPPBX_LIMITS_MAX_MEMORY_MB')).toMatchObject({ kind: 'number', nullable: true });
    expect(envKeys.has(CONFIG_FILE_ENV)).toBe(false);
  });
});

describe('loadConfig: environment overrides', () => {
  it('coerces numbers, booleans, strings and enums by the key type', () => {
    const cfg = loadConfig({
      env: {
        SIPPBX_SIP_PORT: '5080',
        SIPPBX_MEDIA_TRANSCODE: 'true',
        SIPPBX_REGISTRY_BACKEND: 'redis',
        SIPPBX_REGISTRY_REDIS_URL: 'redis://redis:6379',
        SIPPBX_REGISTRY_REDIS_KEY_PREFIX: '123',
        SIPPBX_LIMITS_INVITES_PER_SECOND_PER_IP: ' 2.5 ',
        SIPPBX_MEDIA_PORT_RANGE_START: '20000',
        SIPPBX_MEDIA_PORT_RANGE_END: '20800',
        SIPPBX_SIP_ADVERTISED_ADDRESS: 'pbx.example.com',
      },
    });
    expect(cfg.sip.port).toBe(5080);
    expect(cfg.media.transcode).toBe(true);
    expect(cfg.registry).toEqual({
      backend: 'redis',
      redis: { url: 'redis://redis:6379', keyPrefix: '123', passwordFile: null, tls: false },
    });
    expect(cfg.limits.invitesPerSecondPerIp).toBe(2.5);
    expect(cfg.media.portRange).toEqual({ start: 20000, end: 20800 });
    expect(cfg.sip.advertisedAddress).toBe('pbx.example.com');
  });

  it.each([
    ['1', true],
    ['yes', true],
    ['ON', true],
    ['0', false],
    ['False', false],
    ['off', false],
  ])('reads boolean %j as %j', (raw, value) => {
    expect(loadConfig({ env: { SIPPBX_MEDIA_TRANSCODE: raw } }).media.transcode).toBe(value);
  });

  it('reads an empty value as null for nullable keys', () => {
    const cfg = loadConfig({
      env: {
        SIPPBX_LIMITS_MAX_MEMORY_MB: '512',
        SIPPBX_EVENTS_CDR_PATH: '',
        SIPPBX_SIP_ADVERTISED_ADDRESS: '',
      },
      overrides: { events: { cdr: { path: '/var/cdr.jsonl' } }, sip: { advertisedAddress: '192.0.2.1' } },
    });
    expect(cfg.limits.maxMemoryMb).toBe(512);
    expect(cfg.events.cdr.path).toBeNull();
    expect(cfg.sip.advertisedAddress).toBeNull();
  });

  it('overrides the overload keys (limits.overload) and the SIP UDP receive buffer', () => {
    const cfg = loadConfig({
      env: {
        SIPPBX_LIMITS_OVERLOAD_ENABLED: 'false',
        SIPPBX_LIMITS_OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '250',
        SIPPBX_LIMITS_OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0.75',
        SIPPBX_LIMITS_OVERLOAD_MAX_CALLS_IN_SETUP: '300',
        SIPPBX_LIMITS_OVERLOAD_RETRY_AFTER_SECONDS: '1',
        SIPPBX_SIP_UDP_RECEIVE_BUFFER_BYTES: '8388608',
      },
    });
    expect(cfg.limits.overload).toEqual({
      enabled: false,
      maxEventLoopDelayMs: 250,
      maxEventLoopUtilization: 0.75,
      maxCallsInSetup: 300,
      retryAfterSeconds: 1,
    });
    expect(cfg.sip.udpReceiveBufferBytes).toBe(8388608);
    expect(() => loadConfig({ env: { SIPPBX_LIMITS_OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '1.5' } })).toThrow(
      /limits\.overload\.maxEventLoopUtilization/,
    );
  });

  it('reads lists and sections as JSON', () => {
    const cfg = loadConfig({
      env: {
        SIPPBX_ROUTING_ROUTES: '[{"match":"^1","target":"sip:10.0.0.1:5060"}]',
        SIPPBX_SIP_TRANSPORTS: '["udp"]',
        SIPPBX_SIP_TIMERS: '{"t1Ms": 250}',
        SIPPBX_HTTP_AUTH_TOKENS: '[{"token":"t0k","role":"admin"}]',
      },
    });
    expect(cfg.routing.routes).toEqual([{ match: '^1', target: 'sip:10.0.0.1:5060' }]);
    expect(cfg.sip.transports).toEqual(['udp']);
    expect(cfg.sip.timers).toEqual({ t1Ms: 250, t2Ms: 4000, t4Ms: 5000, dMs: 32000 }); // a JSON section merges
    expect(cfg.http.auth.tokens).toEqual([{ token: 't0k', role: 'admin' }]);
  });

  it('lets a specific variable win over a JSON section that names the same key', () => {
    const cfg = loadConfig({
      env: {
        SIPPBX_MEDIA_PORT_RANGE_START: '30000',
        SIPPBX_MEDIA_PORT_RANGE: '{"start": 12000, "end": 30800}',
      },
    });
    expect(cfg.media.portRange).toEqual({ start: 30000, end: 30800 });
  });

  it('ignores variables without the prefix and unset ones', () => {
    expect(
      loadConfig({ env: { POD_NAME: 'pbx-0', SIP_PORT: 'x', SIPPBX_SIP_PORT: undefined } }).sip.port,
    ).toBe(5060);
  });

  it.each([
    [
      'SIPPBX_SIP_PROT',
      '5080',
      'SIPPBX_SIP_PROT',
      'unknown variable (did you mean SIPPBX_SIP_PORT?)',
      'environment',
    ],
    ['SIPPBX_NOPE_NOTHING_LIKE_IT', '1', 'SIPPBX_NOPE_NOTHING_LIKE_IT', 'unknown variable', 'environment'],
    ['SIPPBX_SIP_PORT', 'abc', 'sip.port', 'expected a number (got "abc")', 'SIPPBX_SIP_PORT'],
    ['SIPPBX_SIP_PORT', '', 'sip.port', 'expected a number (got "")', 'SIPPBX_SIP_PORT'],
    [
      'SIPPBX_MEDIA_TRANSCODE',
      'maybe',
      'media.transcode',
      'expected true or false (got "maybe")',
      'SIPPBX_MEDIA_TRANSCODE',
    ],
    ['SIPPBX_ROUTING_ROUTES', '[{', 'routing.routes', 'expected JSON (', 'SIPPBX_ROUTING_ROUTES'],
    ['SIPPBX_SIP_PORT', '70000', 'sip.port', 'must be <= 65535 (got 70000)', 'SIPPBX_SIP_PORT'],
    [
      'SIPPBX_REGISTRY_BACKEND',
      'etcd',
      'registry.backend',
      'must be one of memory, redis',
      'SIPPBX_REGISTRY_BACKEND',
    ],
    ['SIPPBX_ROUTING_ROUTES', '{"match":"."}', 'routing.routes', 'expected array', 'SIPPBX_ROUTING_ROUTES'],
  ])('%s=%j is an error', (name, value, path, message, source) => {
    const err = configError(() => loadConfig({ env: { [name]: value } }));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ path, source });
    expect(err.issues[0]?.message).toContain(message);
    expect(err.message).toContain(name);
  });

  it('reports variable problems together with the rest of the configuration', () => {
    const err = configError(() => loadConfig({ env: { SIPPBX_TYPO: '1', SIPPBX_LOGGING_LEVEL: 'loud' } }));
    expect(err.issues.map((i) => i.path)).toEqual(['SIPPBX_TYPO', 'logging.level']);
  });
});
