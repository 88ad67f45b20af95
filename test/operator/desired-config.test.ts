// The rendered pbx config is valid for the pbx itself (its own parseConfig), for every kind of spec,
// and carries the SipPbx's values.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API_VERSION, KIND, sipPbxSchema, type SipPbx } from '../../operator/api/index.js';
import {
  desiredConfigMaps,
  KEYS,
  PATHS,
  pbxConfig,
  redisKeyPrefix,
  renderPbxConfig,
} from '../../operator/desired/index.js';
import { parseConfig } from '../../pbx/config/index.js';

const ctx = { operatorVersion: '0.1.0' };
const make = (spec: unknown): SipPbx =>
  sipPbxSchema.parse({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'edge', namespace: 'voice', uid: 'u1' },
    spec,
  });

const specs: [string, unknown][] = [
  ['defaults', {}],
  ['redis url', { redis: { url: 'rediss://redis.example.com:6380' } }],
  ['redis secret', { redis: { secretRef: { name: 'r', key: 'url' } } }],
  ['managed redis', { redis: { managed: true } }],
  ['tcp only, other port', { sip: { port: 5080, transports: ['tcp'] } }],
  [
    'host network, big range',
    { replicas: 4, media: { networkMode: 'HostNetwork', portRange: { start: 20000, end: 60000 } } },
  ],
  [
    'all overrides',
    {
      drain: { timeoutSeconds: 120 },
      config: {
        routes: [{ match: '^\\+1', target: 'sips:gw.example.com:5061' }],
        webhooks: [{ url: 'https://hooks.example.com/x', events: ['call.ended'], secret: 's3cret' }],
        limits: { invitesPerSecondPerIp: 2.5, maxMemoryMb: 512, rateLimitAction: 'drop' },
        logLevel: 'warning',
      },
    },
  ],
];

describe('rendered pbx config', () => {
  it.each(specs)('%s: accepted by the pbx parseConfig', (_what, spec) => {
    const text = renderPbxConfig(make(spec));
    expect(() => parseConfig(parse(text), 'pbx.yaml')).not.toThrow();
  });

  it('carries the spec values and cluster defaults', () => {
    const cfg = parseConfig(parse(renderPbxConfig(make(specs[6]![1]))));
    expect(cfg.routing.routes).toEqual([{ match: '^\\+1', target: 'sips:gw.example.com:5061' }]);
    expect(cfg.events.webhooks).toEqual([
      {
        url: 'https://hooks.example.com/x',
        events: ['call.ended'],
        secret: 's3cret',
        timeoutMs: 5000,
        maxAttempts: 8,
      },
    ]);
    expect(cfg.limits).toMatchObject({
      invitesPerSecondPerIp: 2.5,
      maxMemoryMb: 512,
      rateLimitAction: 'drop',
    });
    expect(cfg.logging.level).toBe('warning');
    expect(cfg.shutdown.drainTimeoutSeconds).toBe(120);
    expect(cfg.http.auth.tokens).toEqual([{ tokenFile: PATHS.adminTokenFile, role: 'admin' }]);
    expect(cfg.registry.backend).toBe('memory');
  });

  it('defaults: no routes, no webhooks, the whole range as placeholder, maxCalls = maxCallsPerPod', () => {
    const cfg = parseConfig(parse(renderPbxConfig(make({ media: { maxCallsPerPod: 500 } }))));
    expect(cfg.routing.routes).toEqual([]);
    expect(cfg.events.webhooks).toEqual([]);
    expect(cfg.media.portRange).toEqual({ start: 10000, end: 20000 });
    expect(cfg.media.maxCalls).toBe(500);
    expect(cfg.sip).toMatchObject({ port: 5060, transports: ['udp', 'tcp'] });
    expect(cfg.logging.level).toBe('info');
  });

  it.each([
    [{ url: 'redis://r:6379' }, 'redis://r:6379'],
    [{ managed: true }, 'redis://edge-redis.voice.svc:6379'],
    [{ secretRef: { name: 'r', key: 'url' } }, undefined],
  ])('redis %j -> url %s, per-SipPbx key prefix', (redis, url) => {
    const pbx = make({ redis });
    const registry = pbxConfig(pbx).registry as {
      backend: string;
      redis: { url?: string; keyPrefix: string };
    };
    expect(registry.backend).toBe('redis');
    expect(registry.redis.url).toBe(url);
    expect(registry.redis.keyPrefix).toBe('sippbx:voice:edge:');
    expect(redisKeyPrefix(pbx)).toBe('sippbx:voice:edge:');
  });
});

describe('desiredConfigMaps', () => {
  it('renders the config and the port plan, owned by the SipPbx', () => {
    const [config, plan] = desiredConfigMaps(
      make({ media: { portRange: { start: 10000, end: 26000 } } }),
      ctx,
    );
    expect(config.metadata).toMatchObject({ name: 'edge-config', namespace: 'voice' });
    expect(config.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'SipPbx',
      name: 'edge',
      uid: 'u1',
      controller: true,
    });
    expect(Object.keys(config.data ?? {})).toEqual([KEYS.config]);
    expect(plan.metadata?.name).toBe('edge-port-plan');
    expect(parse(plan.data?.[KEYS.portPlan] ?? '')).toEqual({
      'edge-0': { start: 10000, end: 18000 },
      'edge-1': { start: 18000, end: 26000 },
    });
  });
});
