/** Shared call and registration state: CallRegistry and LocationStore, in memory or in Redis. */
import { memoryCallRegistry, memoryLocationStore } from './memory.js';
import type { StoreOptions } from './options.js';
import { openRedisRegistry } from './redis.js';
import type { RedisConnectionOptions, RedisLink } from './redis.js';
import type { CallRegistry, LocationStore } from './types.js';

export type {
  AorBindings,
  Binding,
  CallEntry,
  CallOwner,
  CallRegistry,
  ContactUpdate,
  LocationStore,
  PodInfo,
  PodRunState,
  PodState,
  ReceivedFrom,
} from './types.js';
export { aorOf } from './aor.js';
export { InvalidAor, RegisterOutOfOrder, RegistryErrorCode, RegistryUnavailable } from './errors.js';
export { wallClock } from './clock.js';
export { DEFAULT_CALL_TTL_SECONDS, DEFAULT_POD_TTL_SECONDS, DEFAULT_SWEEP_INTERVAL_MS } from './options.js';
export type { StoreOptions } from './options.js';
export { memoryCallRegistry, memoryLocationStore } from './memory.js';
export type {
  MemoryCallRegistry,
  MemoryCallRegistrySizes,
  MemoryLocationSizes,
  MemoryLocationStore,
} from './memory.js';
export {
  DEFAULT_KEY_PREFIX,
  openRedisRegistry,
  redisCallRegistry,
  redisLocationStore,
  RedisLink,
} from './redis.js';
export type { RedisConnectionOptions, RedisRegistry, RedisRegistryOptions } from './redis.js';

/** The `registry` section of the pbx config plus the secrets and hooks main.ts adds. */
export interface RegistryConfig {
  readonly backend: 'memory' | 'redis';
  readonly redis: Omit<RedisConnectionOptions, 'onStateChange' | 'onError'>;
}

/** What `createRegistry` returns: both stores, the Redis link when there is one, and one close. */
export interface Registry {
  readonly calls: CallRegistry;
  readonly locations: LocationStore;
  /** Present for the Redis backend: health events, error count, `ready()`. */
  readonly link: RedisLink | undefined;
  close(): Promise<void>;
}

/** Builds the configured backend; never waits for Redis (see RedisLink.ready for a bounded wait). */
export function createRegistry(
  config: RegistryConfig,
  options: StoreOptions & Pick<RedisConnectionOptions, 'onStateChange' | 'onError'> = {},
): Registry {
  if (config.backend === 'redis') return openRedisRegistry({ ...config.redis, ...options });
  const calls = memoryCallRegistry(options);
  const locations = memoryLocationStore(options);
  return {
    calls,
    locations,
    link: undefined,
    async close() {
      await calls.close();
      await locations.close();
    },
  };
}
