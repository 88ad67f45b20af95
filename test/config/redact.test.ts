import { describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig, REDACTED, redactConfig } from '../../pbx/config/index.js';
import { redactUrl } from '../../pbx/config/redact.js';

describe('redactConfig', () => {
  const cfg = parseConfig({
    registry: { backend: 'redis', redis: { url: 'rediss://default:hunter2@redis.internal:6380/1' } },
    events: {
      webhooks: [
        { url: 'https://user:pw@hooks.example.com/x', secret: 'hmac-key' },
        { url: 'http://127.0.0.1:9999/hook' },
      ],
    },
    http: {
      auth: {
        tokens: [
          { token: 'admin-secret', role: 'admin' },
          { tokenFile: '/run/secrets/read', role: 'read' },
        ],
      },
    },
  });
  const safe = redactConfig(cfg);
  const text = JSON.stringify(safe);

  it('hides tokens, webhook secrets and URL passwords', () => {
    for (const secret of ['hunter2', 'hmac-key', 'admin-secret', ':pw@']) expect(text).not.toContain(secret);
    expect(safe.registry.redis.url).toBe(`rediss://default:${REDACTED}@redis.internal:6380/1`);
    expect(safe.events.webhooks[0]).toMatchObject({
      url: `https://user:${REDACTED}@hooks.example.com/x`,
      secret: REDACTED,
    });
    expect(safe.http.auth.tokens).toEqual([
      { token: REDACTED, role: 'admin' },
      { tokenFile: '/run/secrets/read', role: 'read' },
    ]);
  });

  it('keeps everything else, and null secrets null', () => {
    expect(safe.events.webhooks[1]).toEqual(cfg.events.webhooks[1]);
    expect({ ...safe, registry: cfg.registry, events: cfg.events, http: cfg.http }).toEqual(cfg);
  });

  it('does not touch the original', () => {
    expect(cfg.http.auth.tokens[0]?.token).toBe('admin-secret');
    expect(redactConfig(defaultConfig)).toEqual(defaultConfig);
  });

  it.each([
    ['redis://:pw@h:6379', `redis://:${REDACTED}@h:6379`],
    ['redis://lonepassword@h:6379', `redis://${REDACTED}@h:6379`],
    ['redis://h:6379', 'redis://h:6379'],
    ['not a url //user:pw@host', `not a url //${REDACTED}@host`],
  ])('redactUrl(%j)', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});
