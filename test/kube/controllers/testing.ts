/** Test helpers for the controllers, kubelet and proxy: waiting on watch events, and the `test/echo` image. */
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import type {
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  V1Pod,
  V1StatefulSet,
  V1StatefulSetUpdateStrategy,
} from '@kubernetes/client-node';
import { watchResource } from './runtime.js';

/** The `test/echo` image's program (HTTP /ready, /live; UDP+TCP echo; SIGTERM marker). */
export const ECHO_SCRIPT = fileURLToPath(new URL('../kubelet/testdata/echo-server.ts', import.meta.url));

/** Image map entry for `test/echo`. */
export const ECHO_IMAGES = { 'test/echo': ['node', ECHO_SCRIPT] } as const;

/** A watched collection whose events tests can await. */
export interface Watcher<T extends KubernetesObject> {
  /** Every event seen, in order, as `verb name`. */
  readonly events: { verb: string; obj: T }[];
  list(): readonly T[];
  /** Resolves with the list once `predicate` holds (checked now and after every event). */
  until(predicate: (items: readonly T[]) => boolean, what: string, timeoutMs?: number): Promise<readonly T[]>;
  stop(): Promise<void>;
}

/** Watches a collection (informer) for a test. */
export async function watch<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  namespace?: string,
): Promise<Watcher<T>> {
  const checks = new Set<() => void>();
  const events: { verb: string; obj: T }[] = [];
  const w = watchResource<T>({
    kc,
    path,
    list,
    onChange: (obj, verb) => {
      events.push({ verb, obj });
      for (const c of [...checks]) c();
    },
  });
  await w.synced;
  const items = (): readonly T[] => w.list(namespace);
  return {
    events,
    list: items,
    until(predicate, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(items())) return;
          checks.delete(check);
          clearTimeout(timer);
          resolve(items());
        };
        const timer = setTimeout(() => {
          checks.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        checks.add(check);
        check();
      });
    },
    stop: () => w.stop(),
  };
}

/** Watches pods. */
export function watchPods(kc: KubeConfig, namespace = 'default'): Promise<Watcher<V1Pod>> {
  const core = kc.makeApiClient(CoreV1Api);
  return watch<V1Pod>(kc, '/api/v1/pods', () => core.listPodForAllNamespaces(), namespace);
}

/** True when the pod reports Ready. */
export function podReady(p: V1Pod): boolean {
  return (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** A StatefulSet of `test/echo` pods with an httpGet readiness probe on /ready and a SIGTERM marker dir. */
export function echoStatefulSet(
  name: string,
  replicas: number,
  extra: {
    markerDir?: string;
    policy?: 'OrderedReady' | 'Parallel';
    strategy?: V1StatefulSetUpdateStrategy;
    preStopFile?: string;
    version?: string;
  } = {},
): V1StatefulSet {
  const env = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'VERSION', value: extra.version ?? 'v1' },
    ...(extra.markerDir === undefined ? [] : [{ name: 'MARKER_DIR', value: extra.markerDir }]),
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      serviceName: name,
      podManagementPolicy: extra.policy ?? 'OrderedReady',
      ...(extra.strategy === undefined ? {} : { updateStrategy: extra.strategy }),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'echo',
              image: 'test/echo:latest',
              env,
              ports: [
                { name: 'http', containerPort: 8080 },
                { name: 'echo-udp', containerPort: 5060, protocol: 'UDP' },
                { name: 'echo-tcp', containerPort: 5060 },
              ],
              readinessProbe: {
                httpGet: { path: '/ready', port: 'http' },
                periodSeconds: 1,
                failureThreshold: 1,
              },
              ...(extra.preStopFile === undefined
                ? {}
                : {
                    lifecycle: {
                      preStop: {
                        exec: {
                          command: [
                            'node',
                            '-e',
                            `require('fs').writeFileSync(${JSON.stringify(extra.preStopFile)} + '.' + process.env.POD_NAME, 'x')`,
                          ],
                        },
                      },
                    },
                  }),
            },
          ],
        },
      },
    },
  };
}
