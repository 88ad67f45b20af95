/**
 * Probes and lifecycle handlers: `httpGet` (2xx/3xx is success), `tcpSocket` and `exec`, against the
 * pod IP, and a worker that runs one probe on timers with Kubernetes' thresholds
 * (initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold, failureThreshold).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { V1Container, V1ContainerPort, V1Probe } from '@kubernetes/client-node';

/** A probe or handler action (`V1Probe`, `V1LifecycleHandler`). */
export interface Action {
  httpGet?: V1Probe['httpGet'];
  tcpSocket?: V1Probe['tcpSocket'];
  exec?: V1Probe['exec'];
}

/** Where the action runs: the pod's IP, the container's ports, env and working directory. */
export interface ActionTarget {
  readonly ip: string;
  readonly ports: readonly V1ContainerPort[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Rewrites mount paths in exec commands. */
  readonly rewrite: (s: string) => string;
}

/** A port given by number or by the name of a container port. */
export function resolvePort(
  port: number | string | undefined,
  ports: readonly V1ContainerPort[],
): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^[0-9]+$/.test(port)) return Number(port);
  return ports.find((p) => p.name === port)?.containerPort;
}

function httpGet(a: NonNullable<Action['httpGet']>, t: ActionTarget, timeoutMs: number): Promise<boolean> {
  const port = resolvePort(a.port, t.ports);
  if (port === undefined) return Promise.resolve(false);
  const headers: Record<string, string> = {};
  for (const h of a.httpHeaders ?? []) headers[h.name] = h.value;
  return new Promise((resolve) => {
    const req = http.get(
      { host: a.host ?? t.ip, port, path: a.path ?? '/', headers, timeout: timeoutMs, agent: false },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

function tcpSocket(
  a: NonNullable<Action['tcpSocket']>,
  t: ActionTarget,
  timeoutMs: number,
): Promise<boolean> {
  const port = resolvePort(a.port, t.ports);
  if (port === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    const sock = net.connect({ host: a.host ?? t.ip, port, timeout: timeoutMs });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('timeout', () => sock.destroy(new Error('timeout')));
    sock.once('error', () => resolve(false));
  });
}

/** Runs an exec action to completion (killed at the timeout); exit code 0 is success. */
export function execAction(command: readonly string[], t: ActionTarget, timeoutMs: number): Promise<boolean> {
  const argv = command.map(t.rewrite);
  const file = argv[0] === 'node' ? process.execPath : argv[0];
  if (file === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(file, argv.slice(1), { env: t.env, cwd: t.cwd, stdio: 'ignore', timeout: timeoutMs });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

/** Runs one probe or handler action once. */
export function runAction(a: Action, t: ActionTarget, timeoutMs: number): Promise<boolean> {
  if (a.httpGet !== undefined) return httpGet(a.httpGet, t, timeoutMs);
  if (a.tcpSocket !== undefined) return tcpSocket(a.tcpSocket, t, timeoutMs);
  if (a.exec !== undefined) return execAction(a.exec.command ?? [], t, timeoutMs);
  return Promise.resolve(true);
}

/** Probe timing in milliseconds after scaling. */
export interface ProbeTiming {
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

/**
 * Kubernetes' probe defaults, with the delays and periods multiplied by `scale` (floored at `minMs`). The
 * timeout is not scaled: it bounds how long the container takes to answer, which is machine time, not cluster
 * time (a 1 s timeout scaled to 100 ms failed probes of healthy pods on a busy 2-core machine, so kubelet
 * marked them unready and restarted them mid-call).
 */
export function probeTiming(probe: V1Probe, scale: number, minMs = 20): ProbeTiming {
  const ms = (seconds: number): number => Math.max(minMs, Math.round(seconds * 1000 * scale));
  return {
    initialDelayMs: probe.initialDelaySeconds === undefined ? 0 : ms(probe.initialDelaySeconds),
    periodMs: ms(probe.periodSeconds ?? 10),
    timeoutMs: Math.max(minMs, Math.round((probe.timeoutSeconds ?? 1) * 1000)),
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

/** A probe on timers; reports each change of its result (true = healthy). */
export interface ProbeWorker {
  stop(): void;
}

/** Starts probing; `onResult` fires when the thresholded result changes (first result included). */
export function startProbe(
  probe: V1Probe,
  target: ActionTarget,
  timing: ProbeTiming,
  onResult: (healthy: boolean) => void,
): ProbeWorker {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let result: boolean | undefined;
  let successes = 0;
  let failures = 0;
  const tick = (): void => {
    runAction(probe, target, timing.timeoutMs).then(
      (ok) => {
        if (stopped) return;
        successes = ok ? successes + 1 : 0;
        failures = ok ? 0 : failures + 1;
        if (ok && successes >= timing.successThreshold && result !== true) {
          result = true;
          onResult(true);
        } else if (!ok && failures >= timing.failureThreshold && result !== false) {
          result = false;
          onResult(false);
        }
        if (!stopped) timer = setTimeout(tick, timing.periodMs);
      },
      () => undefined,
    );
  };
  timer = setTimeout(tick, timing.initialDelayMs);
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

/** The container's ports, for resolving named probe ports. */
export function portsOf(container: V1Container): V1ContainerPort[] {
  return container.ports ?? [];
}
