/** One container of a pod as a child process: start, signals, exit, restart bookkeeping and probes. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { V1Container, V1ContainerState, V1ContainerStatus } from '@kubernetes/client-node';
import type { LogBuffer } from './logs.js';
import type { ProbeWorker } from './probes.js';

/** How a container process ended. */
export interface Exit {
  readonly exitCode: number;
  readonly signal: NodeJS.Signals | null;
  readonly startedAt: string;
  readonly finishedAt: string;
}

/** Tracks the live child processes of a kubelet, so nothing outlives it. */
export interface ChildRegistry {
  add(child: ChildProcess): void;
  delete(child: ChildProcess): void;
}

/** Sends `signal` to the child's process group (the child leads one; see `spawn(..., detached)`). */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** A container: the process of its current run, its state and restart count. */
export class ContainerRun {
  readonly spec: V1Container;
  readonly image: string;
  child: ChildProcess | undefined;
  state: V1ContainerState = { waiting: { reason: 'ContainerCreating' } };
  lastState: V1ContainerState = {};
  restartCount = 0;
  ready = false;
  started = false;
  backoffMs = 0;
  restartTimer: NodeJS.Timeout | undefined;
  probes: ProbeWorker[] = [];
  /** The environment of the current run (hooks run with it). */
  env: NodeJS.ProcessEnv = {};
  #exited: Promise<Exit> | undefined;

  constructor(spec: V1Container) {
    this.spec = spec;
    this.image = spec.image ?? '';
  }

  /** Starts the process; resolves its exit through `exited()`. */
  start(
    argv: readonly string[],
    env: NodeJS.ProcessEnv,
    cwd: string,
    log: LogBuffer,
    children: ChildRegistry,
  ): void {
    const [file, ...args] = argv;
    this.env = env;
    const startedAt = new Date().toISOString();
    const child = spawn(file ?? 'false', args, {
      env,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    children.add(child);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => log.append(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => log.append(d));
    this.state = { running: { startedAt: new Date(startedAt) } };
    this.#exited = new Promise<Exit>((resolve) => {
      let spawnError: Error | undefined;
      child.once('error', (err) => {
        spawnError = err;
        log.append(`kubelet: cannot start ${file ?? ''}: ${err.message}\n`);
        if (child.pid === undefined) finish(127, null);
      });
      let finished = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (finished) return;
        finished = true;
        children.delete(child);
        const exit: Exit = {
          exitCode:
            code ?? (signal === null ? (spawnError === undefined ? 0 : 127) : 128 + signalNumber(signal)),
          signal,
          startedAt,
          finishedAt: new Date().toISOString(),
        };
        resolve(exit);
      };
      // 'close' follows the last stdout/stderr bytes; a grandchild holding the pipes must not stall it.
      child.once('exit', (code, signal) => {
        const timer = setTimeout(() => finish(code, signal), 200);
        child.once('close', () => {
          clearTimeout(timer);
          finish(code, signal);
        });
      });
    });
  }

  /** The current run's exit (resolved immediately when nothing runs). */
  exited(): Promise<Exit | undefined> {
    return this.#exited ?? Promise.resolve(undefined);
  }

  /** True while the process runs. */
  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Records an exit as the container's terminated state. */
  recordExit(exit: Exit): void {
    this.state = {
      terminated: {
        exitCode: exit.exitCode,
        reason: exit.exitCode === 0 ? 'Completed' : 'Error',
        startedAt: new Date(exit.startedAt),
        finishedAt: new Date(exit.finishedAt),
        ...(exit.signal === null ? {} : { signal: signalNumber(exit.signal) }),
      },
    };
    this.ready = false;
    this.child = undefined;
  }

  stopProbes(): void {
    for (const p of this.probes) p.stop();
    this.probes = [];
  }

  /** The `containerStatuses[]` entry. */
  status(): V1ContainerStatus {
    const pid = this.child?.pid;
    return {
      name: this.spec.name,
      image: this.image,
      imageID: `sippbx-kubelet://${this.image}`,
      ...(pid === undefined ? {} : { containerID: `process://${pid}` }),
      ready: this.ready,
      started: this.started,
      restartCount: this.restartCount,
      state: this.state,
      lastState: this.lastState,
    };
  }
}

const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGTERM: 15,
  SIGUSR1: 10,
  SIGUSR2: 12,
};

function signalNumber(signal: NodeJS.Signals): number {
  return SIGNALS[signal] ?? 0;
}
