import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registryConfig } from '../../pbx/cluster/registry-config.js';
import { parseConfig } from '../../pbx/config/index.js';

describe('registryConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redis-secret-'));

  it('reads the Redis password from passwordFile (trimmed) and turns TLS on', () => {
    const file = join(dir, 'password');
    writeFileSync(file, 's3cret\n');
    const cfg = parseConfig({
      registry: { backend: 'redis', redis: { url: 'redis://r:6379', passwordFile: file, tls: true } },
    });
    expect(registryConfig(cfg.registry)).toEqual({
      backend: 'redis',
      redis: { url: 'redis://r:6379', keyPrefix: 'sippbx:', password: 's3cret', tls: true },
    });
  });

  it('passes the URL alone without a password file', () => {
    expect(registryConfig(parseConfig({}).registry).redis).toEqual({
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'sippbx:',
    });
  });

  it.each([
    [join(dir, 'missing'), /cannot read/],
    [
      (() => {
        const f = join(dir, 'empty');
        writeFileSync(f, '  \n');
        return f;
      })(),
      /is empty/,
    ],
  ])('refuses %s', (file, message) => {
    const cfg = parseConfig({ registry: { redis: { passwordFile: file } } });
    expect(() => registryConfig(cfg.registry)).toThrow(message);
  });
});
