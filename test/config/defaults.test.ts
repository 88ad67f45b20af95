import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CALL_EVENT_TYPES,
  DEFAULT_SCANNER_USER_AGENTS,
  defaultConfig,
  loadConfig,
  parseConfig,
  pbxConfigSchema,
} from '../../pbx/config/index.js';

describe('defaultConfig', () => {
  it('holds the CONTRACTS.md values and the documented additions', () => {
    expect(defaultConfig).toEqual({
      sip: {
        listen: '0.0.0.0',
        port: 5060,
        advertisedAddress: null,
        maxMessageBytes: 65535,
        transports: ['udp', 'tcp'],
        timers: { t1Ms: 500, t2Ms: 4000, t4Ms: 5000, dMs: 32000 },
        tcpIdleTimeoutSeconds: 120,
        maxTcpConnections: 10000,
        udpReceiveBufferBytes: 4194304,
        limits: { maxHeaders: 128, maxHeaderLineBytes: 8192, maxUriParams: 32 },
        userAgent: 'sippbx',
        sessionTimers: { enabled: true, expiresSeconds: 1800, minSeSeconds: 90 },
      },
      media: {
        listen: '0.0.0.0',
        advertisedAddress: null,
        portRange: { start: 10000, end: 20000 },
        portsPerCall: 8,
        maxCalls: 1000,
        transcode: false,
        relayEngine: 'auto',
        inactivityTimeoutSeconds: 60,
      },
      routing: { routes: [{ match: '^.*$', target: 'sip:127.0.0.1:5070' }], noAnswerTimeoutSeconds: 60 },
      registry: {
        backend: 'memory',
        redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'sippbx:', passwordFile: null, tls: false },
      },
      limits: {
        invitesPerSecondPerIp: 10,
        maxMemoryMb: null,
        rateLimitAction: 'reject',
        scannerUserAgents: [...DEFAULT_SCANNER_USER_AGENTS],
        overload: {
          enabled: true,
          maxEventLoopDelayMs: 100,
          maxEventLoopUtilization: 1,
          maxCallsInSetup: null,
          retryAfterSeconds: 2,
        },
      },
      events: {
        cdr: { path: null },
        webhooks: [
          {
            url: 'http://127.0.0.1:9999/hook',
            events: ['call.started', 'call.answered', 'call.ended'],
            secret: null,
            timeoutMs: 5000,
            maxAttempts: 8,
          },
        ],
        spoolDir: null,
      },
      http: { listen: '0.0.0.0', port: 8080, auth: { tokens: [] } },
      metrics: { port: 9090 },
      logging: { level: 'info' },
      shutdown: { drainTimeoutSeconds: 3600 },
    });
  });

  // CONTRACTS.md's YAML block, copied into the repository (tests never read outside it).
  const contractsFile = new URL('./fixtures/contracts.yaml', import.meta.url);
  it('matches the YAML block of CONTRACTS.md key for key', () => {
    expect(parseConfig(parse(readFileSync(contractsFile, 'utf8')))).toEqual(defaultConfig);
  });

  it('is what loadConfig gives with no file, overrides or environment', () => {
    expect(loadConfig({ env: {} })).toEqual(defaultConfig);
  });

  it('is deeply frozen', () => {
    expect(Object.isFrozen(defaultConfig)).toBe(true);
    expect(Object.isFrozen(defaultConfig.sip.timers)).toBe(true);
    expect(Object.isFrozen(defaultConfig.routing.routes[0])).toBe(true);
    expect(() => {
      (defaultConfig.sip as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('fills defaults inside list entries', () => {
    const cfg = parseConfig({ events: { webhooks: [{ url: 'http://h/x' }] } });
    expect(cfg.events.webhooks).toEqual([
      { url: 'http://h/x', events: [...CALL_EVENT_TYPES], secret: null, timeoutMs: 5000, maxAttempts: 8 },
    ]);
  });

  it('gives every scanner pattern as a compilable case-insensitive regex', () => {
    for (const p of defaultConfig.limits.scannerUserAgents) expect(() => new RegExp(p, 'i')).not.toThrow();
    expect(defaultConfig.limits.scannerUserAgents.some((p) => new RegExp(p, 'i').test('SIPScan'))).toBe(true);
  });

  it('exposes the zod schema for other programs (operator)', () => {
    expect(pbxConfigSchema.parse({})).toEqual(defaultConfig);
  });
});
