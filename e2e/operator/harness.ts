// Whole-system harness for the operator e2e tests: the in-process Kubernetes (test/kube) with real pbx
// processes, the operator (installed from the rendered Helm chart and run as a pod by the kubelet, or
// in-process with runOperator), a real redis-server, kubectl, and SIPp callers/callees on 127.0.0.0/8.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { getCondition, type SipPbxStatus } from '../../operator/api/index.js';
import { readEnv, runOperator, type RunningOperator } from '../../operator/main.js';
import { startCluster, type Cluster, REPO_ROOT } from '../../test/kube/cluster.js';
import type { KubeObject } from '../../test/kube/index.js';
import { startRedis, type TestRedis } from '../../test/registry/redis-server.js';
import { isLocalPortBound, scenarioPath } from '../harness/calls.js';
import { freeLocalPort, parseSippStats, sippBinary, type SippStats } from '../harness/sipp.js';

const run = promisify(execFile);

export const SIPPBX = 'sippbx.dev/v1alpha1/sippbxes';
export const OPERATOR_NS = 'sippbx-system';
export const RELEASE = 'sippbx';
/** The Deployment, Lease and label prefix the chart gives the operator for release `sippbx`. */
export const OPERATOR_NAME = 'sippbx-sippbx-operator';

export type SipPbxObject = KubeObject & {
  spec: Record<string, unknown> & { replicas?: number };
  status?: SipPbxStatus;
};

export interface PodObject extends KubeObject {
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount?: number }[];
  };
}

/** Resolves when `check` returns a value other than undefined; re-checked on every watch event of
 * `resources` (and every `pollMs`, for conditions outside the API: logs, processes). */
export async function until<T>(
  cluster: Cluster,
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  opts: { timeoutMs?: number; resources?: string[]; pollMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const resources = opts.resources ?? [SIPPBX, 'v1/pods', 'apps/v1/statefulsets'];
  let wake: () => void = () => undefined;
  const stops = resources.map((r) => cluster.api.store.watch(r, undefined, () => wake()));
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, opts.pollMs ?? 250));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    for (const s of stops) s();
  }
}

export interface OperatorOptions {
  /** 'chart' (default): render the chart and apply it; 'in-process': runOperator in this process. */
  mode?: 'chart' | 'in-process';
  /** Operator replicas of the chart's Deployment (default 1). */
  replicas?: number;
}

export interface Env {
  cluster: Cluster;
  redis: TestRedis;
  work: string;
  kubectl(...args: string[]): Promise<string>;
  /** kubectl without throwing: exit code, stdout, stderr. */
  kubectlResult(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The in-process operators (mode 'in-process'), by identity. */
  inProcess: Map<string, RunningOperator>;
  startInProcessOperator(identity: string): Promise<RunningOperator>;
  stop(): Promise<void>;
}

/** Renders charts/sippbx-operator with scripts/render-chart.sh (Go text/template + sprig). */
export async function renderOperatorChart(...args: string[]): Promise<string> {
  const { stdout } = await run(
    'bash',
    [join(REPO_ROOT, 'scripts/render-chart.sh'), join(REPO_ROOT, 'charts/sippbx-operator'), ...args],
    { maxBuffer: 32 * 1024 * 1024 },
  );
  return stdout;
}

/** Options of useOperatorEnv: those of startEnv, plus what the file's tests need before they run. */
export interface UseOperatorEnvOptions extends OperatorOptions {
  /** Operator replicas to wait for (one of them leading) before the tests; 0: do not wait. Default 1. */
  readonly waitForOperators?: number;
  /** More set-up once the environment is up (and the operator leads). */
  readonly setup?: (env: Env) => Promise<void>;
}

/**
 * Starts one environment for a test file (beforeAll, 60 s) and stops it after the file (afterAll);
 * `onStarted` receives it for the file's `env` variable.
 */
export function useOperatorEnv(opts: UseOperatorEnvOptions, onStarted: (env: Env) => void): void {
  let started: Env | undefined;
  beforeAll(async () => {
    started = await startEnv(opts);
    onStarted(started);
    const operators = opts.waitForOperators ?? 1;
    if (operators > 0) await waitForOperator(started, operators);
    await opts.setup?.(started);
  }, 60_000);
  afterAll(async () => {
    await started?.stop();
  });
}

/** Starts the cluster, a redis-server and the operator. */
export async function startEnv(opts: OperatorOptions = {}): Promise<Env> {
  const work = await mkdtemp(join(tmpdir(), 'sippbx-e2e-operator-'));
  const cluster = await startCluster({ timeScale: 0.1 });
  const redis = await startRedis();
  const kubectlResult = async (
    ...args: string[]
  ): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const r = await run(
        'kubectl',
        ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', join(work, 'kube-cache'), ...args],
        { maxBuffer: 16 * 1024 * 1024 },
      );
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return {
        code: typeof e.code === 'number' ? e.code : 1,
        stdout: e.stdout ?? '',
        stderr: e.stderr ?? '',
      };
    }
  };
  const kubectl = async (...args: string[]): Promise<string> => {
    const r = await kubectlResult(...args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const inProcess = new Map<string, RunningOperator>();
  const startInProcessOperator = async (identity: string): Promise<RunningOperator> => {
    const env = readEnv({
      POD_NAME: identity,
      POD_NAMESPACE: OPERATOR_NS,
      SIPPBX_OPERATOR_METRICS_PORT: '0',
      SIPPBX_OPERATOR_HEALTH_PORT: '0',
      SIPPBX_OPERATOR_LEASE_NAME: OPERATOR_NAME,
    });
    const log = pino({ level: 'silent' });
    const op = await runOperator(env, cluster.kc, log, () => undefined);
    inProcess.set(identity, op);
    return op;
  };
  const stop = async (): Promise<void> => {
    for (const op of inProcess.values()) await op.stop().catch(() => undefined);
    await cluster.stop();
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  };
  try {
    cluster.api.store.create('v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: OPERATOR_NS },
    });
    const mode = opts.mode ?? 'chart';
    const values: Record<string, unknown> = {
      replicas: mode === 'chart' ? (opts.replicas ?? 1) : 0,
      logLevel: 'debug',
    };
    const valuesFile = join(work, 'values.yaml');
    await writeFile(valuesFile, stringify(values));
    const rendered = await renderOperatorChart(
      '--namespace',
      OPERATOR_NS,
      '--release',
      RELEASE,
      '--values',
      valuesFile,
    );
    const manifest = join(work, 'operator.yaml');
    await writeFile(manifest, rendered);
    await kubectl('apply', '-f', manifest);
    if (mode === 'in-process') await startInProcessOperator('operator-0');
  } catch (err) {
    await stop();
    throw err;
  }
  return { cluster, redis, work, kubectl, kubectlResult, inProcess, startInProcessOperator, stop };
}

/** Operator pods of the chart's Deployment. */
export function operatorPods(env: Env): PodObject[] {
  return env.cluster.api.store
    .list('v1/pods', OPERATOR_NS, { labelSelector: 'app.kubernetes.io/name=sippbx-operator' })
    .filter((p) => p.metadata.deletionTimestamp === undefined) as PodObject[];
}

/** `list[i]`, failing clearly when it is missing. */
export function nth<T>(list: readonly T[], i: number): T {
  const v = list[i];
  if (v === undefined) throw new Error(`no element ${i} (of ${list.length})`);
  return v;
}

export function isPodReady(p: PodObject): boolean {
  return p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/** The Lease holder of the operator. */
export function leaseHolder(env: Env): string | undefined {
  const lease = env.cluster.api.store.find('coordination.k8s.io/v1/leases', OPERATOR_NS, OPERATOR_NAME) as
    (KubeObject & { spec?: { holderIdentity?: string } }) | undefined;
  const h = lease?.spec?.holderIdentity;
  return h === undefined || h === '' ? undefined : h;
}

/** Waits for `n` Ready operator pods (chart mode) and a Lease holder. */
export async function waitForOperator(env: Env, n = 1, timeoutMs = 30_000): Promise<string> {
  return withDiagnostics(
    env,
    until(
      env.cluster,
      `${n} Ready operator pod(s) and a Lease holder`,
      () => {
        const ready = operatorPods(env).filter(isPodReady);
        const holder = leaseHolder(env);
        return ready.length >= n && holder !== undefined ? holder : undefined;
      },
      { timeoutMs, resources: ['v1/pods', 'coordination.k8s.io/v1/leases'] },
    ),
  );
}

/** What the cluster looks like, for failure messages: pods, their states and the last log lines. */
export function diagnose(env: Env): string {
  const lines: string[] = [];
  for (const p of env.cluster.api.store.list('v1/pods') as PodObject[]) {
    const ns = p.metadata.namespace ?? 'default';
    const name = p.metadata.name ?? '';
    lines.push(
      `--- pod ${ns}/${name} phase=${p.status?.phase ?? '?'} ready=${String(isPodReady(p))} ip=${p.status?.podIP ?? ''} deleting=${String(p.metadata.deletionTimestamp !== undefined)} restarts=${String(p.status?.containerStatuses?.[0]?.restartCount ?? 0)}`,
      env.cluster.logs(name, ns).split('\n').slice(-15).join('\n'),
    );
  }
  for (const e of env.cluster.errors.slice(-10)) lines.push(`component error ${e.where}: ${String(e.err)}`);
  return lines.join('\n');
}

/** Re-throws a failure of `p` with `diagnose(env)` appended. */
export async function withDiagnostics<T>(env: Env, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${diagnose(env)}`, { cause: err });
  }
}

// ------------------------------------------------------------------------------------------------
// SipPbx helpers

export interface SipPbxOptions {
  name: string;
  namespace?: string;
  replicas: number;
  /** Media range start (a multiple of 8); each pod gets maxCallsPerPod * 8 ports. */
  portStart: number;
  maxCallsPerPod?: number;
  /** pbx routes: every call to this UAS port on 127.0.0.1. */
  uasPort?: number;
  redisUrl?: string;
  drainTimeoutSeconds?: number;
  onDelete?: 'Drain' | 'Immediate';
  image?: string;
  logLevel?: string;
  extraSpec?: Record<string, unknown>;
}

/** A SipPbx manifest. */
export function sipPbxManifest(o: SipPbxOptions): Record<string, unknown> {
  const maxCalls = o.maxCallsPerPod ?? 40;
  return {
    apiVersion: 'sippbx.dev/v1alpha1',
    kind: 'SipPbx',
    metadata: { name: o.name, namespace: o.namespace ?? 'default' },
    spec: {
      replicas: o.replicas,
      image: o.image ?? 'ghcr.io/sippbx/sippbx:0.1.0',
      media: {
        portRange: { start: o.portStart, end: o.portStart + 3 * maxCalls * 8 },
        maxCallsPerPod: maxCalls,
      },
      ...(o.redisUrl === undefined ? {} : { redis: { url: o.redisUrl } }),
      drain: { timeoutSeconds: o.drainTimeoutSeconds ?? 120, onDelete: o.onDelete ?? 'Drain' },
      config: {
        ...(o.uasPort === undefined
          ? {}
          : { routes: [{ match: '.*', target: `sip:127.0.0.1:${o.uasPort}` }] }),
        limits: { invitesPerSecondPerIp: 1000 },
        logLevel: o.logLevel ?? 'info',
      },
      ...(o.extraSpec ?? {}),
    },
  };
}

/** `kubectl apply -f` of one manifest (written to the work dir). */
export async function kubectlApply(env: Env, manifest: unknown): Promise<string> {
  const file = join(env.work, `manifest-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, stringify(manifest));
  return env.kubectl('apply', '-f', file);
}

export async function kubectlApplyResult(
  env: Env,
  manifest: unknown,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(env.work, `manifest-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, stringify(manifest));
  return env.kubectlResult('apply', '-f', file);
}

export function getSipPbx(env: Env, name: string, namespace = 'default'): SipPbxObject | undefined {
  return env.cluster.api.store.find(SIPPBX, namespace, name) as SipPbxObject | undefined;
}

/** Pods of a SipPbx (not yet deleted unless `all`). */
export function pbxPods(env: Env, name: string, namespace = 'default', all = false): PodObject[] {
  return (
    env.cluster.api.store.list('v1/pods', namespace, {
      labelSelector: `app.kubernetes.io/instance=${name},app.kubernetes.io/name=sippbx`,
    }) as PodObject[]
  )
    .filter((p) => all || p.metadata.deletionTimestamp === undefined)
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
}

/** Waits until the SipPbx is Ready=True at its current generation with `replicas` Ready pods. */
export async function waitForReady(
  env: Env,
  name: string,
  replicas: number,
  timeoutMs = 40_000,
): Promise<SipPbxObject> {
  return until(
    env.cluster,
    `SipPbx ${name} Ready=True with ${replicas} ready replicas`,
    () => {
      const obj = getSipPbx(env, name);
      const ready = getCondition(obj?.status?.conditions, 'Ready');
      const pods = pbxPods(env, name).filter(isPodReady);
      return obj !== undefined &&
        ready?.status === 'True' &&
        ready.observedGeneration === obj.metadata.generation &&
        obj.status?.observedGeneration === obj.metadata.generation &&
        obj.status?.readyReplicas === replicas &&
        pods.length === replicas
        ? obj
        : undefined;
    },
    { timeoutMs },
  );
}

/** The admin token of a SipPbx (its Secret). */
export function adminToken(env: Env, name: string, namespace = 'default'): string {
  const secret = env.cluster.api.store.get('v1/secrets', namespace, `${name}-admin-token`) as KubeObject & {
    data: { token: string };
  };
  return Buffer.from(secret.data.token, 'base64').toString();
}

/** GET a pbx pod's management API. */
export async function pbxApi<T>(env: Env, pod: PodObject, path: string, name: string): Promise<T> {
  const ip = pod.status?.podIP ?? '';
  const res = await fetch(`http://${ip}:8080${path}`, {
    headers: { authorization: `Bearer ${adminToken(env, name)}` },
    signal: AbortSignal.timeout(3000),
  });
  if (!res.ok) throw new Error(`GET ${path} on ${pod.metadata.name ?? ''}: ${res.status}`);
  return (await res.json()) as T;
}

/** `sippbx_calls_total` summed over labels, from a pod's metrics port (9090). */
export async function callsTotal(pod: PodObject): Promise<number> {
  const ip = pod.status?.podIP ?? '';
  const text = await (await fetch(`http://${ip}:9090/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('sippbx_calls_total')) sum += Number(line.split(' ').at(-1));
  return sum;
}

/** The port plan ConfigMap of a SipPbx: pod name -> [start, end). */
export function portPlanOf(env: Env, name: string): Record<string, { start: number; end: number }> {
  const cm = env.cluster.api.store.get('v1/configmaps', 'default', `${name}-port-plan`) as KubeObject & {
    data: Record<string, string>;
  };
  return parse(cm.data['port-plan.yaml'] ?? '') as Record<string, { start: number; end: number }>;
}

/** A `call.ended` event the pbx logged. */
export interface CallEnded {
  pod: string;
  callId: string;
  endedBy: string;
  reason: string;
  result: string;
  endTime: string;
}

/** Every `call.ended` line of a pod's logs (all incarnations). */
export function callEnded(env: Env, pod: string): CallEnded[] {
  const out: CallEnded[] = [];
  for (const line of env.cluster.logs(pod).split('\n')) {
    if (!line.includes('"call.ended"')) continue;
    try {
      const j = JSON.parse(line) as {
        msg?: string;
        event?: { callId: string; endedBy: string; reason: string; result: string; endTime: string };
      };
      if (j.msg !== 'call.ended' || j.event === undefined) continue;
      const { callId, endedBy, reason, result, endTime } = j.event;
      out.push({ pod, callId, endedBy, reason, result, endTime });
    } catch {
      // not a JSON log line
    }
  }
  return out;
}

/** Records, per pod name, when (Date.now()) this process first saw it with a deletionTimestamp. */
export function watchPodDeletions(
  env: Env,
  namespace = 'default',
): { seen: Map<string, number>; stop(): void } {
  const seen = new Map<string, number>();
  const note = (p: KubeObject): void => {
    const name = p.metadata.name ?? '';
    if (p.metadata.deletionTimestamp !== undefined && !seen.has(name)) seen.set(name, Date.now());
  };
  for (const p of env.cluster.api.store.list('v1/pods', namespace)) note(p);
  const stop = env.cluster.api.store.watch('v1/pods', namespace, (ev) => {
    if (ev.type === 'DELETED' && !seen.has(ev.object.metadata.name ?? ''))
      seen.set(ev.object.metadata.name ?? '', Date.now());
    else note(ev.object);
  });
  return { seen, stop };
}

/** Every `call.started` of a pod's logs. */
export function callsStarted(env: Env, pod: string): number {
  return env.cluster
    .logs(pod)
    .split('\n')
    .filter((l) => l.includes('"msg":"call.started"')).length;
}

/** Keys of a redis-server. */
export async function redisKeys(url: string, pattern = '*'): Promise<string[]> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys.sort();
  } finally {
    r.disconnect();
  }
}

export async function redisSet(url: string, key: string, value: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    await r.set(key, value);
  } finally {
    r.disconnect();
  }
}

// ------------------------------------------------------------------------------------------------
// SIPp through the SIP Service

/** uac-load with `;rport` on its Via: the Service proxy forwards from its own address (source NAT), so
 * the pbx must answer to the request's source (RFC 3581), not to the Via's sent-by on 127.0.0.X. And
 * ACK/BYE go to the pod of the 2xx Contact (SIPp otherwise sends every message to the Service). */
let uacScenario: Promise<string> | undefined;
async function rportUacScenario(dir: string): Promise<string> {
  uacScenario ??= (async () => {
    const xml = await readFile(scenarioPath('uac-load', 'uac'), 'utf8');
    const file = join(dir, 'uac-load-rport.xml');
    const withRport = xml.replace(/(Via: SIP\/2\.0\/\[transport\] [^\n;]+;branch=[^\s]+)/g, '$1;rport');
    // In-dialog requests (ACK, BYE) go to the 2xx Contact (the pod), as a UA does, not to the Service.
    const setdest = [
      '<ereg regexp="Contact: *&lt;sip:([^>;:@]+@)?([^>;:]+):([0-9]+)" search_in="msg" check_it="true" assign_to="ct,cuser,chost,cport"/>',
      '<setdest host="[$chost]" port="[$cport]" protocol="udp"/>',
      '<log message="contact [$ct] user=[$cuser]"/>',
    ].join('\n      ');
    await writeFile(file, withRport.replace('</action>', `  ${setdest}\n    </action>`));
    return file;
  })();
  return uacScenario;
}

export interface SippProcess {
  child: ChildProcess;
  port: number;
  ip: string;
  /** Resolves at exit. */
  done: Promise<SippOutcome>;
}

export interface SippOutcome {
  exitCode: number | null;
  stats?: SippStats;
  stderr: string;
  errors: string;
  /** The tail of `-trace_msg` (when traced). */
  messages: string;
  /** When the process exited (Date.now()). */
  endedAt: number;
  command: string;
}

function spawnSipp(args: string[], dir: string, timeoutS: number): Omit<SippProcess, 'port' | 'ip'> {
  const child = spawn(sippBinary(), args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-20_000)));
  const killer = setTimeout(() => child.kill('SIGKILL'), (timeoutS + 5) * 1000);
  const done = new Promise<number | null>((resolve) => {
    child.once('error', (e) => {
      stderr += e.message;
      resolve(null);
    });
    child.once('close', (code) => resolve(code));
  }).then(async (exitCode): Promise<SippOutcome> => {
    clearTimeout(killer);
    const endedAt = Date.now();
    const read = (f: string): Promise<string> => readFile(join(dir, f), 'utf8').catch(() => '');
    const stats = parseSippStats(await read('stat.csv'));
    const errors = await read('errors.log');
    const messages = await read('messages.log');
    await rm(dir, { recursive: true, force: true });
    return {
      exitCode,
      ...(stats === undefined ? {} : { stats }),
      stderr,
      errors: errors.slice(-6000),
      messages: messages.slice(-200_000),
      endedAt,
      command: ['sipp', ...args].join(' '),
    };
  });
  return { child, done };
}

function commonArgs(dir: string, calls: number, timeoutS: number): string[] {
  return [
    ...['-m', String(calls), '-timeout', `${timeoutS}s`, '-timeout_error', '-nostdin'],
    ...['-trace_err', '-error_file', join(dir, 'errors.log')],
    ...['-trace_stat', '-stf', join(dir, 'stat.csv')],
  ];
}

/** A SIPp callee (uas-load) on 127.0.0.1 expecting `calls` calls; resolves once its socket is bound. */
export async function startUas(calls: number, timeoutS: number, port?: number): Promise<SippProcess> {
  const p = port ?? (await freeLocalPort());
  const dir = await mkdtemp(join(tmpdir(), 'sippbx-uas-'));
  const args = [
    ...['-sf', scenarioPath('uas-load', 'uas'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(p)],
    ...commonArgs(dir, calls, timeoutS),
  ];
  const s = spawnSipp(args, dir, timeoutS);
  const deadline = Date.now() + 5000;
  while (!(await isLocalPortBound(p, 'u1'))) {
    if (s.child.exitCode !== null || Date.now() > deadline) {
      s.child.kill('SIGKILL');
      const o = await s.done;
      throw new Error(`SIPp UAS did not bind 127.0.0.1:${p}: ${o.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { ...s, port: p, ip: '127.0.0.1' };
}

export interface UacOptions {
  target: { host: string; port: number };
  /** Local address (another 127.0.0.X is another client IP for the proxy's affinity). */
  ip: string;
  calls: number;
  holdMs: number;
  rate?: number;
  timeoutS: number;
}

/** A SIPp caller (uac-load + rport) towards the SIP Service. */
export async function startUac(o: UacOptions): Promise<SippProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'sippbx-uac-'));
  const port = await freeLocalPort();
  const args = [
    `${o.target.host}:${o.target.port}`,
    ...['-sf', await rportUacScenario(tmpdir()), '-t', 'u1', '-i', o.ip, '-p', String(port)],
    ...['-s', 'bob', '-d', String(o.holdMs), '-r', String(o.rate ?? 20)],
    ...commonArgs(dir, o.calls, o.timeoutS),
    ...['-trace_msg', '-message_file', join(dir, 'messages.log')],
  ];
  return { ...spawnSipp(args, dir, o.timeoutS), port, ip: o.ip };
}

export function describeSipp(name: string, o: SippOutcome): string {
  const s = o.stats;
  return `${name}: exit ${String(o.exitCode)} ${
    s === undefined ? '(no stats)' : `created=${s.created} ok=${s.successful} failed=${s.failed}`
  }\n$ ${o.command}\n${o.stderr.slice(-1500)}\n${o.errors.slice(-3000)}\n--- messages (tail) ---\n${o.messages.slice(-5000)}`;
}

/** Active calls of a pod (GET /api/v1/stats). */
export async function activeCalls(env: Env, pod: PodObject, name: string): Promise<number> {
  const s = await pbxApi<{ activeCalls: number }>(env, pod, '/api/v1/stats', name);
  return s.activeCalls;
}

/** With E2E_DUMP=DIR set: writes every pod's logs (and extra texts) there, for a failing run's post-mortem. */
export async function dumpLogs(env: Env, extra: Record<string, string> = {}): Promise<void> {
  const dir = process.env['E2E_DUMP'];
  if (dir === undefined || dir === '') return;
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  for (const p of env.cluster.api.store.list('v1/pods')) {
    const ns = p.metadata.namespace ?? 'default';
    const name = p.metadata.name ?? '';
    await writeFile(join(dir, `${ns}_${name}.log`), env.cluster.logs(name, ns));
  }
  for (const [name, text] of Object.entries(extra)) await writeFile(join(dir, name), text);
}
