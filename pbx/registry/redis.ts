/** The Redis backend: one connection shared by a CallRegistry and a LocationStore. */
import type { StoreOptions } from './options.js';
import { redisCallRegistry } from './redis-calls.js';
import { RedisLink } from './redis-link.js';
import type { RedisConnectionOptions } from './redis-link.js';
import { redisLocationStore } from './redis-locations.js';
import type { CallRegistry, LocationStore } from './types.js';

export { RedisLink, DEFAULT_KEY_PREFIX } from './redis-link.js';
export type { RedisConnectionOptions } from './redis-link.js';
export { redisCallRegistry } from './redis-calls.js';
export { redisLocationStore } from './redis-locations.js';

/** Connection and timing options of the Redis backend. */
export type RedisRegistryOptions = RedisConnectionOptions & StoreOptions;

/** Both Redis stores and the link they share; `close()` closes the stores, then the link. */
export interface RedisRegistry {
  readonly calls: CallRegistry;
  readonly locations: LocationStore;
  readonly link: RedisLink;
  close(): Promise<void>;
}

/** Connects in the background (never blocks: operations fail fast until Redis answers) and builds both stores. */
export function openRedisRegistry(options: RedisRegistryOptions): RedisRegistry {
  const link = new RedisLink(options);
  const calls = redisCallRegistry(link, options);
  const locations = redisLocationStore(link, options);
  return {
    calls,
    locations,
    link,
    async close() {
      await calls.close();
      await locations.close();
      await link.close();
    },
  };
}
