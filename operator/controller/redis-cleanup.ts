// Removes the Redis keys of a deleted SipPbx (call registry and registrar bindings under its prefix):
// SCAN with MATCH, then UNLINK in batches, so a large keyspace never blocks Redis.
import { Redis } from 'ioredis';

/** Escapes Redis glob characters so the prefix matches literally. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Deletes every key starting with `prefix`; returns how many were deleted. Fails fast when Redis is down. */
export async function deleteKeysWithPrefix(
  url: string,
  prefix: string,
  opts: { timeoutMs?: number; batch?: number } = {},
): Promise<number> {
  const timeout = opts.timeoutMs ?? 2000;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeout,
    commandTimeout: timeout,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined); // surfaced through the failing command instead
  try {
    await redis.connect();
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(
        cursor,
        'MATCH',
        `${globEscape(prefix)}*`,
        'COUNT',
        opts.batch ?? 500,
      );
      if (keys.length > 0) deleted += await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}
