// Starts the real pbx (`node dist/pbx/main.js --config FILE`) as a child process for whole-system tests.
// Every process started here is tracked so `stopAllPbx()` (afterEach/afterAll) and process exit reap it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { leaseMediaPorts } from './port-lease.js';

/** Repository root (this file lives in `e2e/harness/`). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** A parsed pino log line (or `{ raw }` for a stdout line that is not JSON). */
export type LogLine = Record<string, unknown>;

/** Options for `startPbx`. */
export interface StartOptions {
  /** Start node with `--expose-gc` so SIGUSR2 can run a full GC and log the heap. */
  exposeGc?: boolean;
  /** Extra environment variables; inherited `SIPPBX_*` variables are removed first. */
  env?: Record<string, string>;
  /** How long to wait for the "pbx ready" log line (default 15 s). */
  readyTimeoutMs?: number;
}

/** A running pbx process and the ports it listens on. */
export interface PbxProcess {
  /** OS process id. */
  readonly pid: number;
  /** SIP port (UDP and TCP share it) on `sipAddress`. */
  readonly sipPort: number;
  /** SIP listen address as reported by the pbx. */
  readonly sipAddress: string;
  /** Health / management HTTP port. */
  readonly httpPort: number;
  /** Prometheus metrics port. */
  readonly metricsPort: number;
  /** The temporary config file the process was started with. */
  readonly configPath: string;
  /** The media port range this pbx relays on (leased per process unless the test set one). */
  readonly mediaPorts: { readonly start: number; readonly end: number };
  /** Every stdout log line so far, parsed. */
  logs(): LogLine[];
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the first log line (at index >= `since`, default 0) matching `predicate`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs: number, since?: number): Promise<LogLine>;
  /** The Prometheus text from `GET /metrics`. */
  metrics(): Promise<string>;
  /** Sum of the samples of `name` whose labels include `labels`; 0 when there is none. */
  metricValue(name: string, labels?: Record<string, string>): Promise<number>;
  /** Sends SIGUSR2 (needs `exposeGc`) and resolves with `heapUsed` from the next "heap after gc" line. */
  heapAfterGc(timeoutMs?: number): Promise<number>;
  /** True while the process has not exited. */
  isRunning(): boolean;
  /** Resolves with the exit code once the process exits (128 + signal number when killed by a signal). */
  exited(): Promise<number>;
  /** Sends `signal` (default SIGTERM), escalates to SIGKILL after `timeoutMs`, resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number>;
}

/** Raised when the pbx exits before it is ready or is not ready in time; carries its output. */
export class PbxStartError extends Error {
  /** Exit code, or null when the process was still running (not ready in time) and was killed. */
  readonly exitCode: number | null;
  /** Everything the process wrote to stderr. */
  readonly stderr: string;
  /** The stdout log lines received before the failure. */
  readonly logs: readonly LogLine[];

  constructor(message: string, exitCode: number | null, stderr: string, logs: readonly LogLine[]) {
    const tail = logs
      .slice(-20)
      .map((l) => JSON.stringify(l))
      .join('\n');
    super(
      `${message}\n--- stderr ---\n${stderr.trim() || '(empty)'}\n--- last stdout lines ---\n${tail || '(none)'}`,
    );
    this.name = 'PbxStartError';
    this.exitCode = exitCode;
    this.stderr = stderr;
    this.logs = logs;
  }
}

const BASE_CONFIG = {
  sip: { listen: '127.0.0.1', port: 0 },
  http: { listen: '127.0.0.1', port: 0 },
  metrics: { port: 0 },
  logging: { level: 'info' },
};

const STDERR_CAP = 256 * 1024;
// Each live child with the promise of its exit (which also removes its temp config directory).
const live = new Map<ChildProcess, Promise<number>>();
let exitHookInstalled = false;

/** The pbx entry point; `E2E_PBX_MAIN` points the harness at another build (debugging only). */
export function pbxMainPath(): string {
  return process.env['E2E_PBX_MAIN'] ?? join(REPO_ROOT, 'dist', 'pbx', 'main.js');
}

/** The project's Node 24 (`node_modules/.bin/node`), falling back to the node running the tests. */
export function projectNode(): string {
  const local = join(REPO_ROOT, 'node_modules', '.bin', 'node');
  return existsSync(local) ? local : process.execPath;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge of plain objects; arrays and scalars in `override` replace those in `base`. */
export function deepMerge(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    out[key] = isObject(current) && isObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SIPPBX_') && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return { ...env, ...extra };
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : (osConstants.signals[signal] ?? 0));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last line of defence against orphans if a test file forgets stopAllPbx or the worker exits abruptly.
  process.once('exit', () => {
    for (const child of live.keys()) child.kill('SIGKILL');
  });
}

/** Stops every pbx this worker started and has not stopped yet; use in afterEach/afterAll. */
export async function stopAllPbx(): Promise<void> {
  await Promise.all(
    [...live].map(async ([child, exited]) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }),
  );
}

interface LogWaiter {
  predicate: (line: LogLine) => boolean;
  resolve: (line: LogLine) => void;
  reject: (error: Error) => void;
  since: number;
}

/** Collects stdout log lines and wakes waiters; fails them when the process exits. */
class LogCollector {
  readonly lines: LogLine[] = [];
  readonly #waiters = new Set<LogWaiter>();
  #exitReason: string | null = null;

  push(raw: string): void {
    let line: LogLine;
    try {
      const parsed: unknown = JSON.parse(raw);
      line = isObject(parsed) ? parsed : { raw };
    } catch {
      line = { raw };
    }
    this.lines.push(line);
    for (const waiter of this.#waiters) {
      if (waiter.predicate(line)) {
        this.#waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  }

  closed(reason: string): void {
    this.#exitReason = reason;
    for (const waiter of this.#waiters)
      waiter.reject(new Error(`pbx ${reason} while waiting for a log line`));
    this.#waiters.clear();
  }

  wait(predicate: (line: LogLine) => boolean, timeoutMs: number, since: number): Promise<LogLine> {
    const found = this.lines.slice(since).find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    if (this.#exitReason !== null) {
      return Promise.reject(new Error(`pbx ${this.#exitReason}; no matching log line`));
    }
    return new Promise<LogLine>((resolvePromise, rejectPromise) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        rejectPromise(new Error(`no matching pbx log line within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: LogWaiter = {
        predicate,
        since,
        resolve: (line) => {
          clearTimeout(timer);
          resolvePromise(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          rejectPromise(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }
}

/** Parses Prometheus text and sums the samples of `name` whose label set includes `labels`. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== name) continue;
    const sampleLabels = parseLabels(match[3] ?? '');
    if (Object.entries(labels).every(([k, v]) => sampleLabels[k] === v)) total += Number(match[4]);
  }
  return total;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const m of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

interface ReadyInfo {
  sipAddress: string;
  sipPort: number;
  httpPort: number;
  metricsPort: number;
}

function readyInfo(line: LogLine): ReadyInfo {
  const sip = isObject(line['sip']) ? line['sip'] : {};
  const http = isObject(line['http']) ? line['http'] : {};
  const metrics = isObject(line['metrics']) ? line['metrics'] : {};
  const info = {
    sipAddress: typeof sip['address'] === 'string' ? sip['address'] : '127.0.0.1',
    sipPort: Number(sip['port']),
    httpPort: Number(http['port']),
    metricsPort: Number(metrics['port']),
  };
  for (const [key, value] of Object.entries(info)) {
    if (typeof value === 'number' && !(Number.isInteger(value) && value > 0)) {
      throw new Error(`"pbx ready" line has no valid ${key}: ${JSON.stringify(line)}`);
    }
  }
  return info;
}

/** Writes a temp config (defaults for tests deep-merged with `overrides`), starts the pbx, waits for "pbx ready". */
export async function startPbx(
  overrides: Record<string, unknown> = {},
  opts: StartOptions = {},
): Promise<PbxProcess> {
  const main = pbxMainPath();
  if (!existsSync(main)) throw new Error(`${main} not found: run \`make build\` first`);
  const dir = await mkdtemp(join(tmpdir(), 'sippbx-e2e-'));
  const configPath = join(dir, 'pbx.yaml');
  // Every pbx relays on its own leased port range (parallel test files must not share ports).
  const lease = leaseMediaPorts();
  const media = { listen: '127.0.0.1', portRange: { start: lease.start, end: lease.end } };
  const config = deepMerge(deepMerge(BASE_CONFIG, { media }), overrides) as { media: typeof media };
  await writeFile(configPath, stringify(config));

  const args = [...(opts.exposeGc === true ? ['--expose-gc'] : []), main, '--config', configPath];
  const child = spawn(projectNode(), args, {
    cwd: REPO_ROOT,
    env: childEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  installExitHook();

  const logs = new LogCollector();
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < STDERR_CAP) stderr += chunk;
  });
  const stdoutDone = new Promise<void>((done) => {
    createInterface({ input: child.stdout, crlfDelay: Infinity })
      .on('line', (line) => logs.push(line))
      .on('close', done);
  });
  const exited = new Promise<number>((done) => {
    // 'close' comes after 'exit' and after stdout/stderr have ended, so the last lines and stderr are in.
    child.once('close', (code, signal) => {
      live.delete(child);
      lease.release();
      const exitCode = exitCodeOf(code, signal);
      void stdoutDone
        .then(() => rm(dir, { recursive: true, force: true }))
        .then(() => {
          logs.closed(`exited with code ${exitCode}`);
          done(exitCode);
        });
    });
  });
  live.set(child, exited);
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new PbxStartError(`cannot spawn pbx: ${error.message}`, null, stderr, [])),
    );
  });

  void spawnError.catch(() => undefined); // observed through the race below; never an unhandled rejection
  let info: ReadyInfo;
  try {
    const ready = await Promise.race([
      logs.wait((l) => l['msg'] === 'pbx ready', opts.readyTimeoutMs ?? 15_000, 0),
      spawnError,
    ]);
    info = readyInfo(ready);
  } catch (error) {
    if (error instanceof PbxStartError) throw error;
    const running = child.exitCode === null && child.signalCode === null;
    if (running) child.kill('SIGKILL');
    const code = await exited;
    const why = running
      ? `pbx not ready: ${(error as Error).message}`
      : `pbx exited with code ${code} before it was ready`;
    throw new PbxStartError(why, running ? null : code, stderr, logs.lines);
  }

  const metrics = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${info.metricsPort}/metrics`);
    if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
    return res.text();
  };
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;

  return {
    pid: child.pid ?? -1,
    ...info,
    configPath,
    mediaPorts: config.media.portRange,
    logs: () => logs.lines,
    stderr: () => stderr,
    waitForLog: (predicate, timeoutMs, since = 0) => logs.wait(predicate, timeoutMs, since),
    metrics,
    metricValue: async (name, labels = {}) => sumMetric(await metrics(), name, labels),
    heapAfterGc: async (timeoutMs = 5_000) => {
      const since = logs.lines.length;
      const line = logs.wait((l) => l['msg'] === 'heap after gc', timeoutMs, since);
      child.kill('SIGUSR2');
      const heapUsed = (await line)['heapUsed'];
      if (typeof heapUsed !== 'number') throw new Error(`"heap after gc" line without heapUsed`);
      return heapUsed;
    },
    isRunning,
    exited: () => exited,
    stop: async (signal = 'SIGTERM', timeoutMs = 10_000) => {
      if (!isRunning()) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
