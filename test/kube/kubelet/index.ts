/**
 * A kubelet without a container runtime: every pod becomes real child processes on its own loopback
 * address. It is an API client (informers on pods, ConfigMaps and Secrets; `pods/binding`,
 * `pods/status` and `DELETE` writes), like the real one. See `pod-worker.ts` for one pod's life,
 * `images.ts` for the image map and `volumes.ts` for mounts and path rewriting.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1ConfigMap, V1Pod, V1Secret } from '@kubernetes/client-node';
import { isFinished } from '../controllers/pods.js';
import { watchResource } from '../controllers/runtime.js';
import { signalGroup } from './container.js';
import type { DataSources } from './env.js';
import { createIpPool } from './ip-pool.js';
import type { ImageMap } from './images.js';
import { PodLogs } from './logs.js';
import { PodWorker } from './pod-worker.js';

export { defaultImageMap, imageRepository, resolveImage } from './images.js';
export type { ImageEntry, ImageMap } from './images.js';

/** Options of `startKubelet`. */
export interface KubeletOptions {
  readonly kc: KubeConfig;
  /** Given to every container as `KUBECONFIG` (so `loadFromDefault()` finds the cluster). */
  readonly kubeconfigPath: string;
  /** The cluster DNS table written by the Service proxy; Node containers resolve cluster names from it. */
  readonly hostsFile?: string;
  readonly images: ImageMap;
  /** Default working directory of processes (the repository root). */
  readonly repoRoot: string;
  /** Node name written by binding; default `sippbx-node`. */
  readonly nodeName?: string;
  /** First three octets of pod IPs; default `127.0.1`. */
  readonly podSubnet?: string;
  /** Where address leases live (see `ip-pool.ts`). */
  readonly leaseDir?: string;
  /** Multiplies durations from pod specs (probe timing, grace periods); default 1. */
  readonly timeScale?: number;
  /** Crash-loop back-off; default 100 ms doubling to 2 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Bytes of logs kept per pod incarnation; default 1 MiB. */
  readonly maxLogBytes?: number;
  readonly onError?: (err: unknown) => void;
}

/** A running kubelet. */
export interface Kubelet {
  readonly synced: Promise<void>;
  /** Everything the pod's containers printed (all incarnations of the name, oldest first). */
  logs(name: string, namespace?: string): string;
  /** The IP this kubelet gave a live pod. */
  podIP(name: string, namespace?: string): string | undefined;
  /** SIGKILLs every process and stops watching; the pods stay in the API as they were. */
  stop(): Promise<void>;
}

function decodeSecret(s: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = v;
  return out;
}

const WATCHDOG = fileURLToPath(new URL('./watchdog.ts', import.meta.url));

/** Starts the watchdog process that SIGKILLs every container if this process dies (see `watchdog.ts`). */
function startWatchdog(): ChildProcess {
  const child = spawn(process.execPath, [WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  child.on('error', () => undefined);
  child.stdin?.on('error', () => undefined);
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

/** Starts the kubelet. */
export function startKubelet(opts: KubeletOptions): Kubelet {
  const core = opts.kc.makeApiClient(CoreV1Api);
  const onError = (err: unknown): void => opts.onError?.(err);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sippbx-kubelet-'));
  const pool = createIpPool({
    prefix: opts.podSubnet ?? '127.0.1',
    ...(opts.leaseDir === undefined ? {} : { lockDir: opts.leaseDir }),
  });
  const logs = new PodLogs(opts.maxLogBytes ?? 1 << 20);
  const live = new Set<ChildProcess>();
  const watchdog = startWatchdog();
  const children = {
    add(child: ChildProcess): void {
      live.add(child);
      if (child.pid !== undefined) watchdog.stdin?.write(`+${child.pid}\n`);
    },
    delete(child: ChildProcess): void {
      live.delete(child);
      if (child.pid !== undefined) watchdog.stdin?.write(`-${child.pid}\n`);
    },
  };
  const workers = new Map<string, PodWorker>();
  let stopping = false;

  // Nothing may outlive the test process, even when a test forgets `stop()`.
  const killAll = (): void => {
    for (const child of live) signalGroup(child, 'SIGKILL');
  };
  process.on('exit', killAll);

  const configMaps = watchResource<V1ConfigMap>({
    kc: opts.kc,
    path: '/api/v1/configmaps',
    list: () => core.listConfigMapForAllNamespaces(),
    onChange: (cm) => refresh(cm.metadata?.namespace),
    onError,
  });
  const secrets = watchResource<V1Secret>({
    kc: opts.kc,
    path: '/api/v1/secrets',
    list: () => core.listSecretForAllNamespaces(),
    onChange: (s) => refresh(s.metadata?.namespace),
    onError,
  });
  const sources: DataSources = {
    configMap: (ns, name) => {
      const cm = configMaps.get(name, ns);
      return cm === undefined ? undefined : { ...(cm.data ?? {}) };
    },
    secret: (ns, name) => {
      const s = secrets.get(name, ns);
      return s === undefined ? undefined : decodeSecret(s);
    },
  };

  const ctx = {
    core,
    images: opts.images,
    repoRoot: opts.repoRoot,
    nodeName: opts.nodeName ?? 'sippbx-node',
    kubeconfigPath: opts.kubeconfigPath,
    hostsFile: opts.hostsFile,
    pool,
    sources,
    logs,
    children,
    stateDir,
    timeScale: opts.timeScale ?? 1,
    backoff: opts.backoff ?? { initialMs: 100, maxMs: 2000 },
    onError,
    stopping: () => stopping,
  };

  /** Rewrites mounted ConfigMaps/Secrets of running pods in a namespace (the kubelet's periodic sync). */
  function refresh(namespace: string | undefined): void {
    for (const w of workers.values()) {
      if (w.pod.metadata?.namespace !== namespace || w.ip === undefined) continue;
      try {
        w.writeVolumes();
      } catch {
        // Keep the previous content while a referenced object is missing.
      }
    }
  }

  const podsReady = Promise.all([configMaps.synced, secrets.synced]);
  const pods = watchResource<V1Pod>({
    kc: opts.kc,
    path: '/api/v1/pods',
    list: () => core.listPodForAllNamespaces(),
    onChange: (pod, verb) => {
      void podsReady.then(() => onPod(pod, verb));
    },
    onError,
  });

  function onPod(pod: V1Pod, verb: 'add' | 'update' | 'delete'): void {
    if (stopping) return;
    const uid = pod.metadata?.uid ?? '';
    const worker = workers.get(uid);
    if (verb === 'delete') {
      if (worker === undefined) return;
      void worker.terminate('removed').finally(() => workers.delete(uid));
      return;
    }
    if (worker !== undefined) {
      worker.update(pod);
      return;
    }
    // Pods that finished before this kubelet saw them are left alone.
    if (isFinished(pod)) return;
    const w = new PodWorker(pod, ctx);
    workers.set(uid, w);
    void w.start();
    // A pod first seen already deleted still gets its (short) termination and final DELETE.
    w.update(pod);
  }

  return {
    synced: Promise.all([podsReady, pods.synced]).then(() => undefined),
    logs: (name, namespace = 'default') => logs.text(`${namespace}/${name}`),
    podIP: (name, namespace = 'default') => {
      for (const w of workers.values())
        if (w.key === `${namespace}/${name}` && w.ip !== undefined) return w.ip;
      return undefined;
    },
    async stop() {
      stopping = true;
      await Promise.all([pods.stop(), configMaps.stop(), secrets.stop()]);
      await Promise.all([...workers.values()].map((w) => w.terminate('shutdown')));
      killAll();
      watchdog.stdin?.end();
      pool.close();
      process.off('exit', killAll);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
