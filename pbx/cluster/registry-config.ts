/** The registry section of the pbx config, made ready for `createRegistry` (secrets read from files). */
import { readFileSync } from 'node:fs';
import { PbxError } from '../core/errors.js';
import type { PbxConfig } from '../config/index.js';
import type { RegistryConfig } from '../registry/index.js';

/**
 * The registry settings with the Redis password read from `registry.redis.passwordFile` (a mounted
 * Kubernetes Secret); `tls: true` (or a rediss:// URL) turns TLS on.
 */
export function registryConfig(registry: PbxConfig['registry']): RegistryConfig {
  const { passwordFile, tls, ...redis } = registry.redis;
  const password =
    passwordFile === null ? undefined : readSecretFile(passwordFile, 'registry.redis.passwordFile');
  return {
    backend: registry.backend,
    redis: { ...redis, ...(password === undefined ? {} : { password }), ...(tls ? { tls: true } : {}) },
  };
}

/** A secret file's content without surrounding whitespace; a missing or empty file stops startup. */
export function readSecretFile(path: string, key: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new PbxError(
      'PBX_ERR_CONFIG',
      `${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  if (text === '') throw new PbxError('PBX_ERR_CONFIG', `${key}: ${path} is empty`);
  return text;
}
