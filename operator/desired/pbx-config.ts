// The pbx config file a SipPbx renders to (CONTRACTS.md "pbx configuration"). Per-pod values come from
// the environment (listen addresses = POD_IP) and the port plan (media.portRange by POD_NAME).
import { stringify } from 'yaml';
import { HTTP_PORT, METRICS_PORT, type SipPbx } from '../api/index.js';
import { namespaceOf } from './context.js';
import { objectNames, PATHS } from './names.js';

/** Redis port of the managed instance. */
export const REDIS_PORT = 6379;

/** URL of the managed Redis of `pbx` (its Service in the same namespace). */
export function managedRedisUrl(pbx: SipPbx): string {
  return `redis://${objectNames(pbx.metadata.name).redis}.${namespaceOf(pbx)}.svc:${REDIS_PORT}`;
}

/** Redis key prefix of one SipPbx, so several share a Redis and deletion can clean exactly its keys. */
export function redisKeyPrefix(pbx: SipPbx): string {
  return `sippbx:${namespaceOf(pbx)}:${pbx.metadata.name}:`;
}

/** The `registry` section: memory without spec.redis; with a Secret the URL comes from the environment. */
function registrySection(pbx: SipPbx): Record<string, unknown> {
  const redis = pbx.spec.redis;
  if (redis === undefined) return { backend: 'memory' };
  const keyPrefix = redisKeyPrefix(pbx);
  if (redis.url !== undefined) return { backend: 'redis', redis: { url: redis.url, keyPrefix } };
  if (redis.managed === true) return { backend: 'redis', redis: { url: managedRedisUrl(pbx), keyPrefix } };
  return { backend: 'redis', redis: { keyPrefix } }; // url: SIPPBX_REGISTRY_REDIS_URL from the Secret
}

/**
 * The pbx config (as an object) for `pbx`. media.portRange is the whole SipPbx range as a placeholder:
 * each pod replaces it with its port-plan entry. Routes and webhooks default to none (the pbx's
 * laptop defaults point at 127.0.0.1, which means nothing in a cluster).
 */
export function pbxConfig(pbx: SipPbx): Record<string, unknown> {
  const { spec } = pbx;
  const config = spec.config ?? {};
  return {
    sip: { port: spec.sip.port, transports: spec.sip.transports },
    media: {
      portRange: { start: spec.media.portRange.start, end: spec.media.portRange.end },
      portsPerCall: spec.media.portsPerCall,
      maxCalls: spec.media.maxCallsPerPod,
    },
    routing: { routes: config.routes ?? [] },
    registry: registrySection(pbx),
    ...(config.limits === undefined ? {} : { limits: config.limits }),
    events: { webhooks: config.webhooks ?? [] },
    http: { port: HTTP_PORT, auth: { tokens: [{ tokenFile: PATHS.adminTokenFile, role: 'admin' }] } },
    metrics: { port: METRICS_PORT },
    logging: { level: config.logLevel ?? 'info' },
    shutdown: { drainTimeoutSeconds: spec.drain.timeoutSeconds },
  };
}

/** The pbx config file text (YAML). */
export function renderPbxConfig(pbx: SipPbx): string {
  return stringify(pbxConfig(pbx));
}
