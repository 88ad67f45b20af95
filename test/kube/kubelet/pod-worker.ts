/**
 * One pod on this "node": binding, a loopback pod IP, volumes, its containers as child processes,
 * probes, restarts, status reporting, and graceful termination (preStop, SIGTERM, grace, SIGKILL,
 * then the final `DELETE` with `gracePeriodSeconds: 0`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { CoreV1Api, V1Container, V1Pod } from '@kubernetes/client-node';
import { isTerminating } from '../controllers/pods.js';
import { canonicalJson } from '../controllers/revision.js';
import { statusOf } from '../controllers/runtime.js';
import { ContainerRun, signalGroup } from './container.js';
import type { ChildRegistry, Exit } from './container.js';
import { ContainerConfigError, containerEnv } from './env.js';
import type { DataSources } from './env.js';
import { containerArgv, resolveImage } from './images.js';
import type { ImageEntry, ImageMap } from './images.js';
import type { IpPool } from './ip-pool.js';
import type { PodLogs } from './logs.js';
import { probeTiming, runAction, startProbe } from './probes.js';
import type { ActionTarget } from './probes.js';
import { linkMounts, mountsOf, rewritePaths, volumeFiles, writeVolume } from './volumes.js';
import type { Mount } from './volumes.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const DNS_PRELOAD = fileURLToPath(new URL('./dns-preload.ts', import.meta.url));

/** What a pod worker needs from its kubelet. */
export interface WorkerContext {
  readonly core: CoreV1Api;
  readonly images: ImageMap;
  readonly repoRoot: string;
  readonly nodeName: string;
  readonly kubeconfigPath: string;
  /** The cluster DNS table (see `dns-preload.ts`); undefined: no cluster DNS. */
  readonly hostsFile: string | undefined;
  readonly pool: IpPool;
  readonly sources: DataSources;
  readonly logs: PodLogs;
  readonly children: ChildRegistry;
  readonly stateDir: string;
  /** Multiplies every duration from a pod spec (probes, grace periods). */
  readonly timeScale: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly onError: (err: unknown) => void;
  readonly stopping: () => boolean;
}

type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs one pod (identified by uid) until it is deleted. */
export class PodWorker {
  pod: V1Pod;
  readonly uid: string;
  readonly #ctx: WorkerContext;
  readonly #dir: string;
  readonly #root: string;
  readonly #volumesDir: string;
  #ip: string | undefined;
  #phase: Phase = 'Pending';
  #reason: string | undefined;
  #message: string | undefined;
  #startTime = new Date();
  #initialized = false;
  #runs: ContainerRun[] = [];
  #entries = new Map<string, ImageEntry>();
  #written = new Map<string, string>();
  #transitions = new Map<string, { status: string; at: Date }>();
  #deleting = false;
  #removed = false;
  #started: Promise<void> | undefined;
  #terminated: Promise<void> | undefined;
  #writing: Promise<void> | undefined;
  #writeAgain = false;
  #finalWrite = false;
  #lastWritten = '';

  constructor(pod: V1Pod, ctx: WorkerContext) {
    this.pod = pod;
    this.uid = pod.metadata?.uid ?? '';
    this.#ctx = ctx;
    const ns = pod.metadata?.namespace ?? 'default';
    this.#dir = path.join(ctx.stateDir, `${ns}_${pod.metadata?.name ?? ''}_${this.uid.slice(0, 8)}`);
    this.#root = path.join(this.#dir, 'root');
    this.#volumesDir = path.join(this.#dir, 'volumes');
  }

  get key(): string {
    return `${this.pod.metadata?.namespace ?? 'default'}/${this.pod.metadata?.name ?? ''}`;
  }

  /** The pod IP, once assigned. */
  get ip(): string | undefined {
    return this.#ip;
  }

  /** A newer version of the pod arrived; deletion starts termination. */
  update(pod: V1Pod): void {
    this.pod = pod;
    if (isTerminating(pod)) void this.terminate('api');
  }

  /** Starts the pod (once). */
  start(): Promise<void> {
    this.#started ??= this.#start().catch((err: unknown) => this.#ctx.onError(err));
    return this.#started;
  }

  /** The pod as the downward API sees it (with this kubelet's IPs). */
  #view(): V1Pod {
    const ip = this.#ip ?? '';
    return {
      ...this.pod,
      spec: {
        ...(this.pod.spec ?? { containers: [] }),
        nodeName: this.pod.spec?.nodeName ?? this.#ctx.nodeName,
      },
      status: { ...(this.pod.status ?? {}), podIP: ip, podIPs: [{ ip }], hostIP: '127.0.0.1' },
    };
  }

  async #start(): Promise<void> {
    await this.#bind();
    if (this.#deleting) return;
    this.#ip = this.#ctx.pool.allocate();
    this.#startTime = new Date();
    await this.flush();
    const containers = this.pod.spec?.containers ?? [];
    this.#runs = containers.map((c) => new ContainerRun(c));
    for (const c of [...(this.pod.spec?.initContainers ?? []), ...containers]) {
      const entry = resolveImage(this.#ctx.images, c.image ?? '');
      if (entry === undefined) return this.#unknownImage(c);
      this.#entries.set(c.name, entry);
    }
    if (!(await this.#prepareVolumes())) return;
    if (!(await this.#runInitContainers())) return;
    this.#initialized = true;
    this.#phase = 'Running';
    for (const run of this.#runs) await this.#startContainer(run);
  }

  async #bind(): Promise<void> {
    if ((this.pod.spec?.nodeName ?? '') !== '') return;
    const namespace = this.pod.metadata?.namespace ?? 'default';
    const name = this.pod.metadata?.name ?? '';
    const target = { apiVersion: 'v1', kind: 'Node', name: this.#ctx.nodeName };
    try {
      await this.#ctx.core.createNamespacedPodBinding({
        namespace,
        name,
        body: { metadata: { name }, target },
      });
    } catch {
      // Servers without the binding subresource: set the field directly (a real one would refuse this).
      try {
        await this.#ctx.core.patchNamespacedPod(
          { namespace, name, body: { spec: { nodeName: this.#ctx.nodeName } } },
          mergePatch,
        );
      } catch (err) {
        this.#ctx.onError(err);
      }
    }
  }

  #unknownImage(c: V1Container): Promise<void> {
    const known = Object.keys(this.#ctx.images).join(', ');
    const message = `image "${c.image ?? ''}" is not in the kubelet image map (known repositories: ${known}); see test/kube/kubelet/images.ts`;
    this.#phase = 'Failed';
    this.#reason = 'UnknownImage';
    this.#message = message;
    for (const run of this.#runs) {
      if (run.spec.name === c.name) run.state = { waiting: { reason: 'ErrImageNeverPull', message } };
    }
    this.#ctx.logs.buffer(this.key, this.uid).append(`kubelet: ${message}\n`);
    return this.flush();
  }

  #mounts(): Mount[] {
    const all = [...(this.pod.spec?.initContainers ?? []), ...(this.pod.spec?.containers ?? [])];
    const seen = new Map<string, Mount>();
    for (const c of all) for (const m of mountsOf(c, this.#root)) seen.set(m.mountPath, m);
    return [...seen.values()].sort((a, b) => b.mountPath.length - a.mountPath.length);
  }

  #rewrite = (text: string): string => rewritePaths(text, this.#mounts());

  /** Writes ConfigMap/Secret/downward volumes whose content changed; emptyDir and others are plain folders. */
  writeVolumes(): void {
    const view = this.#view();
    for (const vol of this.pod.spec?.volumes ?? []) {
      if (vol.persistentVolumeClaim !== undefined) {
        this.#linkClaim(vol.name, vol.persistentVolumeClaim.claimName);
        continue;
      }
      const files = volumeFiles(view, vol, this.#ctx.sources);
      if (files === undefined) {
        fs.mkdirSync(path.join(this.#volumesDir, vol.name), { recursive: true });
        continue;
      }
      const fingerprint = canonicalJson([...files]);
      if (this.#written.get(vol.name) === fingerprint) continue;
      const mode = vol.configMap?.defaultMode ?? vol.secret?.defaultMode ?? 0o644;
      writeVolume(
        this.#volumesDir,
        vol.name,
        files,
        vol.configMap === undefined ? undefined : this.#rewrite,
        mode,
      );
      this.#written.set(vol.name, fingerprint);
    }
  }

  /** A claim is a folder of the kubelet that outlives pods (a StatefulSet pod finds its data again). */
  #linkClaim(volume: string, claim: string): void {
    const link = path.join(this.#volumesDir, volume);
    if (fs.existsSync(link)) return;
    const ns = this.pod.metadata?.namespace ?? 'default';
    const target = path.join(this.#ctx.stateDir, 'claims', ns, claim);
    fs.mkdirSync(target, { recursive: true });
    fs.symlinkSync(target, link);
  }

  /** Retries until every referenced ConfigMap/Secret exists (reason CreateContainerConfigError meanwhile). */
  async #prepareVolumes(): Promise<boolean> {
    fs.mkdirSync(this.#root, { recursive: true });
    fs.mkdirSync(this.#volumesDir, { recursive: true });
    for (;;) {
      if (this.#deleting) return false;
      try {
        this.writeVolumes();
        for (const c of [...(this.pod.spec?.initContainers ?? []), ...(this.pod.spec?.containers ?? [])]) {
          linkMounts(c, this.#root, this.#volumesDir);
        }
        return true;
      } catch (err) {
        if (!(err instanceof ContainerConfigError)) throw err;
        await this.#waitForConfig(err.message);
      }
    }
  }

  async #waitForConfig(message: string): Promise<void> {
    for (const run of this.#runs) run.state = { waiting: { reason: 'CreateContainerConfigError', message } };
    await this.flush();
    await delay(200);
  }

  /** The process environment of a container (pod env rewritten for mounts, plus kubelet variables). */
  #processEnv(c: V1Container): NodeJS.ProcessEnv {
    const podEnv = containerEnv(this.#view(), c, this.#ctx.sources);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? this.#dir,
      TMPDIR: os.tmpdir(),
      HOSTNAME: this.pod.spec?.hostname ?? this.pod.metadata?.name ?? '',
      KUBECONFIG: this.#ctx.kubeconfigPath,
      KUBE_MOUNT_ROOT: this.#root,
      KUBE_POD_NAMESPACE: this.pod.metadata?.namespace ?? 'default',
      KUBE_POD_IP: this.#ip ?? '',
    };
    if (this.#ctx.hostsFile !== undefined) {
      env.KUBE_HOSTS_FILE = this.#ctx.hostsFile;
      env.NODE_OPTIONS = `--import=${DNS_PRELOAD}`;
    }
    for (const [k, v] of Object.entries(podEnv)) env[k] = this.#rewrite(v);
    if (podEnv.NODE_OPTIONS !== undefined && this.#ctx.hostsFile !== undefined) {
      env.NODE_OPTIONS = `--import=${DNS_PRELOAD} ${env.NODE_OPTIONS ?? ''}`;
    }
    return env;
  }

  #target(c: V1Container, env: NodeJS.ProcessEnv): ActionTarget {
    return {
      ip: this.#ip ?? '127.0.0.1',
      ports: c.ports ?? [],
      env,
      cwd: this.#cwd(c),
      rewrite: this.#rewrite,
    };
  }

  #cwd(c: V1Container): string {
    if (c.workingDir !== undefined && c.workingDir !== '') return this.#rewrite(c.workingDir);
    return this.#entries.get(c.name)?.workingDir ?? this.#ctx.repoRoot;
  }

  /** Spawns a container's process; false when its configuration is not available yet. */
  #spawn(run: ContainerRun): boolean {
    let env: NodeJS.ProcessEnv;
    try {
      env = this.#processEnv(run.spec);
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      run.state = { waiting: { reason: 'CreateContainerConfigError', message: err.message } };
      return false;
    }
    const entry = this.#entries.get(run.spec.name) ?? { command: [] };
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) vars[k] = v;
    // Mount paths are rewritten in what the pod spec wrote, never in the host program the image maps
    // to (its path may itself lie under a mount path, e.g. a checkout in /tmp with an emptyDir on /tmp).
    const hostOwned = new Set<string>([process.execPath, ...entry.command, ...(entry.args ?? [])]);
    const argv = containerArgv(entry, run.spec, vars).map((a) => (hostOwned.has(a) ? a : this.#rewrite(a)));
    run.start(argv, env, this.#cwd(run.spec), this.#ctx.logs.buffer(this.key, this.uid), this.#ctx.children);
    this.#startProbes(run, env);
    return true;
  }

  async #runInitContainers(): Promise<boolean> {
    for (const spec of this.pod.spec?.initContainers ?? []) {
      const run = new ContainerRun(spec);
      for (;;) {
        if (this.#deleting) return false;
        if (!this.#spawn(run)) {
          await this.flush();
          await delay(200);
          continue;
        }
        const exit = await run.exited();
        if (exit !== undefined && exit.exitCode === 0) break;
        if (this.pod.spec?.restartPolicy === 'Never') {
          this.#phase = 'Failed';
          this.#reason = 'InitContainerFailed';
          this.#message = `init container ${spec.name} exited with ${exit?.exitCode ?? -1}`;
          await this.flush();
          return false;
        }
        await delay(this.#ctx.backoff.initialMs);
      }
    }
    return true;
  }

  async #startContainer(run: ContainerRun): Promise<void> {
    if (this.#deleting || this.#ctx.stopping()) return;
    while (!this.#spawn(run)) {
      await this.flush();
      await delay(200);
      if (this.#deleting || this.#ctx.stopping()) return;
    }
    void run.exited().then((exit) => {
      if (exit !== undefined) this.#onExit(run, exit);
    });
    await this.flush();
  }

  #startProbes(run: ContainerRun, env: NodeJS.ProcessEnv): void {
    const spec = run.spec;
    const target = this.#target(spec, env);
    const scale = this.#ctx.timeScale;
    const main = (): void => {
      run.started = true;
      run.ready = spec.readinessProbe === undefined;
      if (spec.readinessProbe !== undefined) {
        run.probes.push(
          startProbe(spec.readinessProbe, target, probeTiming(spec.readinessProbe, scale), (ok) => {
            run.ready = ok;
            void this.flush();
          }),
        );
      }
      if (spec.livenessProbe !== undefined) {
        run.probes.push(
          startProbe(spec.livenessProbe, target, probeTiming(spec.livenessProbe, scale), (ok) => {
            if (ok || this.#deleting) return;
            this.#ctx.logs
              .buffer(this.key, this.uid)
              .append(`kubelet: liveness probe of ${spec.name} failed; restarting\n`);
            void this.#stopContainer(run, this.#graceMs());
          }),
        );
      }
      void this.flush();
    };
    if (spec.startupProbe === undefined) return main();
    run.probes.push(
      startProbe(spec.startupProbe, target, probeTiming(spec.startupProbe, scale), (ok) => {
        if (ok) main();
        else if (!this.#deleting) void this.#stopContainer(run, this.#graceMs());
      }),
    );
  }

  #onExit(run: ContainerRun, exit: Exit): void {
    run.stopProbes();
    run.recordExit(exit);
    if (this.#deleting || this.#ctx.stopping()) {
      void this.flush();
      return;
    }
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Always' || (policy === 'OnFailure' && exit.exitCode !== 0)) {
      const { initialMs, maxMs } = this.#ctx.backoff;
      const ranMs = Date.parse(exit.finishedAt) - Date.parse(exit.startedAt);
      run.backoffMs =
        ranMs > maxMs * 2 || run.backoffMs === 0 ? initialMs : Math.min(maxMs, run.backoffMs * 2);
      run.lastState = run.state;
      run.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${run.backoffMs}ms restarting container ${run.spec.name}`,
        },
      };
      run.restartTimer = setTimeout(() => {
        run.restartTimer = undefined;
        run.restartCount++;
        void this.#startContainer(run);
      }, run.backoffMs);
      void this.flush();
      return;
    }
    if (this.#runs.every((r) => r.state.terminated !== undefined)) {
      this.#phase = this.#runs.every((r) => r.state.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
    }
    void this.flush();
  }

  #graceMs(): number {
    const seconds =
      this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    return Math.round(seconds * 1000 * this.#ctx.timeScale);
  }

  /** preStop, SIGTERM, up to `graceMs` in all, then SIGKILL; resolves when the process is gone. */
  async #stopContainer(run: ContainerRun, graceMs: number): Promise<void> {
    const child = run.child;
    if (child === undefined || !run.running()) return;
    const deadline = Date.now() + graceMs;
    const exited = run.exited();
    const preStop = run.spec.lifecycle?.preStop;
    if (preStop !== undefined && graceMs > 0) {
      await runAction(preStop, this.#target(run.spec, run.env), graceMs).catch(() => false);
    }
    if (!run.running()) return;
    signalGroup(child, 'SIGTERM');
    const remaining = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), remaining);
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
    if (timedOut) signalGroup(child, 'SIGKILL');
    await exited;
  }

  /**
   * Terminates the pod: `api` (deletionTimestamp set: graceful, then the final DELETE), `removed`
   * (the object is already gone: graceful, no API calls) or `shutdown` (the kubelet stops: SIGKILL).
   */
  terminate(source: 'api' | 'removed' | 'shutdown'): Promise<void> {
    if (source === 'removed') this.#removed = true;
    if (source === 'shutdown') {
      this.#deleting = true;
      for (const run of this.#runs) if (run.child !== undefined) void this.#stopContainer(run, 0);
    }
    this.#terminated ??= this.#terminate(source === 'shutdown' ? 0 : undefined);
    return this.#terminated;
  }

  async #terminate(graceOverride: number | undefined): Promise<void> {
    this.#deleting = true;
    await this.#started;
    for (const run of this.#runs) {
      if (run.restartTimer !== undefined) clearTimeout(run.restartTimer);
      run.stopProbes();
      run.ready = false;
    }
    const graceMs = graceOverride ?? this.#graceMs();
    await Promise.all(this.#runs.map((run) => this.#stopContainer(run, graceMs)));
    if (this.#phase === 'Running' || this.#phase === 'Pending') {
      const clean = this.#runs.length > 0 && this.#runs.every((r) => r.state.terminated?.exitCode === 0);
      this.#phase = clean ? 'Succeeded' : 'Failed';
    }
    this.#finalWrite = true;
    await this.flush();
    if (this.#ip !== undefined) this.#ctx.pool.release(this.#ip);
    fs.rmSync(this.#dir, { recursive: true, force: true });
    if (this.#removed || this.#ctx.stopping()) return;
    const namespace = this.pod.metadata?.namespace ?? 'default';
    const name = this.pod.metadata?.name ?? '';
    // No status write may follow: a new pod of the same name (a StatefulSet's) could receive it.
    this.#removed = true;
    try {
      await this.#ctx.core.deleteNamespacedPod({
        namespace,
        name,
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
      });
    } catch (err) {
      const code = statusOf(err);
      if (code !== 404 && code !== 409) this.#ctx.onError(err);
    }
  }

  #condition(type: string, ok: boolean): { type: string; status: string; lastTransitionTime: Date } {
    const status = ok ? 'True' : 'False';
    const prev = this.#transitions.get(type);
    if (prev === undefined || prev.status !== status) this.#transitions.set(type, { status, at: new Date() });
    return { type, status, lastTransitionTime: this.#transitions.get(type)?.at ?? new Date() };
  }

  /** The pod's status as this kubelet sees it (nulls clear fields in the merge patch). */
  status(): Record<string, unknown> {
    const ready = this.#phase === 'Running' && !this.#deleting && this.#runs.every((r) => r.ready);
    const ip = this.#ip;
    return {
      phase: this.#phase,
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      podIP: ip ?? null,
      podIPs: ip === undefined ? null : [{ ip }],
      startTime: this.#startTime,
      qosClass: 'BestEffort',
      reason: this.#reason ?? null,
      message: this.#message ?? null,
      conditions: [
        this.#condition('PodScheduled', true),
        this.#condition('Initialized', this.#initialized),
        this.#condition('ContainersReady', ready),
        this.#condition('Ready', ready),
      ],
      containerStatuses: this.#runs.map((r) => r.status()),
    };
  }

  /** Writes the status (merge patch on `pods/status`), coalescing writes that overlap. */
  flush(): Promise<void> {
    if (this.#removed || this.#ctx.stopping()) return Promise.resolve();
    // While terminating, only the final status is written: some API servers (test/kube's, for now)
    // remove a terminating pod on any write, which would cut the grace period short.
    if (this.#deleting && !this.#finalWrite) return Promise.resolve();
    if (this.#writing !== undefined) {
      this.#writeAgain = true;
      return this.#writing;
    }
    this.#writing = (async () => {
      do {
        this.#writeAgain = false;
        await this.#writeStatus();
      } while (this.#writeAgain && !this.#removed && !this.#ctx.stopping());
    })().finally(() => {
      this.#writing = undefined;
    });
    return this.#writing;
  }

  async #writeStatus(): Promise<void> {
    const namespace = this.pod.metadata?.namespace ?? 'default';
    const name = this.pod.metadata?.name ?? '';
    const status = this.status();
    const text = JSON.stringify(status);
    if (text === this.#lastWritten) return;
    try {
      await this.#ctx.core.patchNamespacedPodStatus({ namespace, name, body: { status } }, mergePatch);
      this.#lastWritten = text;
    } catch (err) {
      if (statusOf(err) === 404) this.#removed = true;
      else if (!this.#ctx.stopping()) this.#ctx.onError(err);
    }
  }
}
