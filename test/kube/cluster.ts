/**
 * `startCluster()`: the in-process API server plus, as its API clients, the StatefulSet, Deployment
 * and endpoints controllers, the kubelet (pods as child processes on 127.0.1.N) and the Service proxy
 * (127.0.2.N). Operator tests point the operator at `kubeconfigPath` and talk SIP to
 * `serviceAddress()`. `stop()` kills every child process; a process `exit` hook does the same if a
 * test never gets to call it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { startDeploymentController } from './controllers/deployment.js';
import { startEndpointsController } from './controllers/endpoints.js';
import { startStatefulSetController } from './controllers/statefulset.js';
import type { Controller } from './controllers/statefulset.js';
import { startApiServer } from './index.js';
import type { ApiServer, ApiServerOptions } from './index.js';
import { defaultImageMap, startKubelet } from './kubelet/index.js';
import type { ImageMap, Kubelet } from './kubelet/index.js';
import { startServiceProxy } from './proxy/index.js';
import type { ServiceAddress, ServiceProxy } from './proxy/index.js';

/** The repository root (this file lives in `test/kube/`). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Options of `startCluster`. */
export interface ClusterOptions {
  /** Extra or overriding image map entries (merged over `defaultImageMap(REPO_ROOT)`). */
  readonly images?: ImageMap;
  /** Multiplies pod-spec durations (probe timing, grace periods); default 0.1 so tests run fast. */
  readonly timeScale?: number;
  readonly apiServer?: ApiServerOptions;
  /** First three octets of pod IPs (default `127.0.1`) and Service addresses (default `127.0.2`). */
  readonly podSubnet?: string;
  readonly serviceSubnet?: string;
  /** Service proxy limits. */
  readonly proxy?: { readonly maxFlows?: number; readonly idleMs?: number };
  /** Called for errors of controllers, kubelet and proxy (default: collected in `errors`). */
  readonly onError?: (where: string, err: unknown) => void;
}

/** A running cluster. */
export interface Cluster {
  readonly api: ApiServer;
  readonly kubeconfigPath: string;
  readonly kc: KubeConfig;
  readonly kubelet: Kubelet;
  readonly proxy: ServiceProxy;
  /** Errors reported by the components (when no `onError` was given). */
  readonly errors: { where: string; err: unknown }[];
  /** Captured stdout+stderr of a pod (every incarnation of the name, oldest first). */
  logs(pod: string, namespace?: string): string;
  /** Where a Service port is proxied (`127.0.2.N:port`), waiting until it is bound. */
  serviceAddress(
    namespace: string,
    service: string,
    port?: number | string,
    protocol?: string,
  ): Promise<ServiceAddress>;
  /** Stops everything; every pod process is killed. Idempotent. */
  stop(): Promise<void>;
}

/** Starts API server, controllers, kubelet and Service proxy; resolves when all have synced. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const errors: { where: string; err: unknown }[] = [];
  const report = opts.onError ?? ((where: string, err: unknown) => void errors.push({ where, err }));
  const api = await startApiServer(opts.apiServer ?? {});
  const dnsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sippbx-cluster-dns-'));
  const hostsFile = path.join(dnsDir, 'hosts.json');
  const kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  const controllerOpts = { kc, onError: report };
  const controllers: Controller[] = [
    startStatefulSetController(controllerOpts),
    startDeploymentController(controllerOpts),
    startEndpointsController(controllerOpts),
  ];
  const kubelet = startKubelet({
    kc,
    kubeconfigPath: api.kubeconfigPath,
    images: { ...defaultImageMap(REPO_ROOT), ...(opts.images ?? {}) },
    repoRoot: REPO_ROOT,
    timeScale: opts.timeScale ?? 0.1,
    hostsFile,
    ...(opts.podSubnet === undefined ? {} : { podSubnet: opts.podSubnet }),
    onError: (err) => report('kubelet', err),
  });
  const proxy = startServiceProxy({
    kc,
    ...(opts.serviceSubnet === undefined ? {} : { serviceSubnet: opts.serviceSubnet }),
    ...(opts.proxy?.maxFlows === undefined ? {} : { maxFlows: opts.proxy.maxFlows }),
    ...(opts.proxy?.idleMs === undefined ? {} : { idleMs: opts.proxy.idleMs }),
    hostsFile,
    onError: (err) => report('proxy', err),
  });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.allSettled(controllers.map((c) => c.stop()));
      await Promise.allSettled([kubelet.stop(), proxy.stop()]);
      await api.stop();
      fs.rmSync(dnsDir, { recursive: true, force: true });
    })();
    return stopped;
  };
  try {
    await Promise.all([...controllers.map((c) => c.synced), kubelet.synced, proxy.synced]);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    api,
    kubeconfigPath: api.kubeconfigPath,
    kc,
    kubelet,
    proxy,
    errors,
    logs: (pod, namespace = 'default') => kubelet.logs(pod, namespace),
    serviceAddress: (namespace, service, port, protocol) =>
      proxy.waitForAddress(namespace, service, port, protocol),
    stop,
  };
}
