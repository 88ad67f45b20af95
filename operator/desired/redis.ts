// The managed Redis (spec.redis.managed): one in-memory instance for quick starts, not for production.
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import type { SipPbx } from '../api/index.js';
import { ownedMeta, type DesiredContext } from './context.js';
import { objectNames } from './names.js';
import { REDIS_PORT } from './pbx-config.js';

/** Image of the managed Redis. */
export const REDIS_IMAGE = 'redis:7.4-alpine';

/** Labels of the managed Redis; `name: redis` keeps its pod out of the pbx selector. */
export function redisLabels(name: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'redis',
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/component': 'registry',
    'app.kubernetes.io/part-of': 'sippbx',
    'app.kubernetes.io/managed-by': 'sippbx-operator',
  };
}

function selector(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/instance': name };
}

/** The Redis Deployment: one replica, Recreate, no persistence (the registry is re-synced by the pods). */
export function desiredRedisDeployment(pbx: SipPbx, ctx: DesiredContext): V1Deployment {
  const name = pbx.metadata.name;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: ownedMeta(pbx, ctx, objectNames(name).redis, redisLabels(name)),
    spec: {
      replicas: 1,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selector(name) },
      template: {
        metadata: { labels: redisLabels(name) },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'redis',
              image: REDIS_IMAGE,
              ports: [{ name: 'redis', containerPort: REDIS_PORT, protocol: 'TCP' }],
              readinessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 5 },
            },
          ],
        },
      },
    },
  };
}

/** The Redis Service (the pbx config points at `<name>-redis.<namespace>.svc`). */
export function desiredRedisService(pbx: SipPbx, ctx: DesiredContext): V1Service {
  const name = pbx.metadata.name;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(pbx, ctx, objectNames(name).redis, redisLabels(name)),
    spec: {
      selector: selector(name),
      ports: [{ name: 'redis', port: REDIS_PORT, targetPort: 'redis', protocol: 'TCP' }],
    },
  };
}

/** The managed Redis Deployment and Service, or undefined unless spec.redis.managed is true. */
export function desiredManagedRedis(
  pbx: SipPbx,
  ctx: DesiredContext,
): { deployment: V1Deployment; service: V1Service } | undefined {
  if (pbx.spec.redis?.managed !== true) return undefined;
  return { deployment: desiredRedisDeployment(pbx, ctx), service: desiredRedisService(pbx, ctx) };
}
