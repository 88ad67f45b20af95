// Runs a SIPp caller (UAC) and a SIPp callee (UAS) as a pair, either through the pbx or directly to each other
// (the self-test: a transparent B2BUA must look exactly like that from both ends). Scenarios live in
// e2e/scenarios/call/ (see its README.md for what each checks and what each logs).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { REPO_ROOT } from './pbx.js';
import { freeLocalPort, parseSippStats, sippBinary } from './sipp.js';
import type { SippResult } from './sipp.js';

/** Folder of the call scenarios. */
export const CALL_SCENARIOS = join(REPO_ROOT, 'e2e', 'scenarios', 'call');

/** `u1` (UDP, one socket) or `t1` (TCP, one connection). */
export type CallTransport = 'u1' | 't1';

/** One SDP a side received, as its scenario logged it (`sdp <where> c=<ip> m=<port>`). */
export interface SdpSeen {
  /** Which message carried it: `invite`, `200-invite`, `200-hold`, `reinvite-hold`, `update`, `200-update`… */
  where: string;
  /** The connection address of the `c=` line. */
  ip: string;
  /** The port of the `m=audio` line. */
  port: number;
}

/** The outcome of one SIPp process of the pair. */
export interface SideResult extends SippResult {
  /** The local SIP port this SIPp used. */
  port: number;
  /** Every `<log>` line the scenario wrote (`-trace_logs`), in order, all calls mixed. */
  logLines: string[];
  /** The SDPs this side received, parsed from `logLines`. */
  sdp: SdpSeen[];
  /** Milliseconds from spawn to exit. */
  elapsedMs: number;
}

/** What `runCall` returns. `ok` is true when every SIPp process of the run exited 0. */
export interface CallResult {
  ok: boolean;
  uac: SideResult;
  uas: SideResult;
  /** The stand-in registrar of a direct `register` run (self-test only). */
  registrar?: SideResult;
  /** The UAS's SIP port (the target of the pbx's route, or of the UAC in a direct run). */
  uasPort: number;
}

/** Options of `runCall`. Scenario names: see `scenarioPath`. */
export interface RunCallOptions {
  /** Caller scenario: `basic` (-> basic-uac.xml), `uac-load`, `flood`… */
  uac: string;
  /**
   * Callee scenario: `basic` (-> basic-uas.xml), `uas-load`, `noanswer-timeout`…; `register` runs register-uas.xml
   * with `-oocsf register-incoming-uas.xml`: it REGISTERs first (to the pbx, or in a direct run to a stand-in
   * registrar the harness starts) and the UAC starts only once it logged "registered".
   */
  uas: string;
  /** The pbx to call through; undefined = the UAC calls the UAS directly (self-test). */
  pbx?: { sipPort: number } | undefined;
  /** Default `u1`. */
  transport?: CallTransport;
  /** Calls the UAC places (`-m`), and the UAS expects; default 1. */
  calls?: number;
  /** UAC calls per second (`-r`); default SIPp's 10. */
  rate?: number;
  /** UAC concurrent calls limit (`-l`); default SIPp's. */
  limit?: number;
  /** Request-URI user (`-s`) of the UAC (and the AOR of `register`); default `bob`. */
  service?: string;
  /** `-d` on both sides: the length of every `<pause/>` (hold time, ring time…); default 200 ms. */
  pauseMs?: number;
  /** Extra SIPp arguments for both sides, e.g. `['-lost', '10']`. */
  extraArgs?: string[];
  /** Address the UAC sends from (default 127.0.0.1): another loopback address is another client IP. */
  uacIp?: string;
  /** Extra SIPp arguments for the UAC only. */
  uacArgs?: string[];
  /** Extra SIPp arguments for the UAS only. */
  uasArgs?: string[];
  /** The UAS's SIP port; default a free one (pick it first with `freeLocalPort` to route a pbx at it). */
  uasPort?: number;
  /** `-timeout` of each SIPp (`-timeout_error`: reaching it fails); they are killed 5 s later. Default 15 s. */
  timeoutS?: number;
  /** Keep `-trace_msg` (every message); default on up to 100 calls, off above (big files). */
  traceMessages?: boolean;
  /** How long to wait for the UAS to be ready (bound, or registered); default 5 s. */
  readyTimeoutMs?: number;
  /**
   * A party that vanishes: once `when` resolves (e.g. the pbx saw the ACK), that side's SIPp is SIGKILLed, as
   * a crashed phone would be; its result then has exit code null.
   */
  kill?: { side: 'uac' | 'uas'; when: () => Promise<void> };
}

/**
 * Resolves a scenario name for a role: a path ending in `.xml` (repo-relative or absolute) as is; else
 * `e2e/scenarios/call/<name>.xml` when it exists (`uac-load`, `uas-load`); else `<name>-<role>.xml`.
 */
export function scenarioPath(name: string, role: 'uac' | 'uas'): string {
  if (name.endsWith('.xml')) return isAbsolute(name) ? name : join(REPO_ROOT, name);
  const exact = join(CALL_SCENARIOS, `${name}.xml`);
  if (existsSync(exact)) return exact;
  const withRole = join(CALL_SCENARIOS, `${name}-${role}.xml`);
  if (!existsSync(withRole)) throw new Error(`no call scenario ${name} for the ${role}: ${withRole}`);
  return withRole;
}

/**
 * pbx config overrides that send every call to the UAS (`routing.routes: [{ match: '.*', target }]`), deep-merged
 * with `extra`. For TCP the target says `;transport=tcp`. Typical use:
 * `const uasPort = await freeLocalPort(); const pbx = await startPbx(routeAllTo(uasPort, { limits: {...} }));`.
 */
export function routeAllTo(
  uasPort: number,
  extra: Record<string, unknown> = {},
  transport: CallTransport = 'u1',
): Record<string, unknown> {
  const target = `sip:127.0.0.1:${uasPort}${transport === 't1' ? ';transport=tcp' : ''}`;
  return { ...extra, routing: { routes: [{ match: '.*', target }] } };
}

/** Parses `sdp <where> c=<ip> m=<port>` lines of a scenario log. */
export function parseSdpLog(lines: readonly string[]): SdpSeen[] {
  const out: SdpSeen[] = [];
  for (const line of lines) {
    const m = /^sdp (\S+) c=(\S+) m=(\d+)/.exec(line);
    if (m !== null) out.push({ where: m[1] ?? '', ip: m[2] ?? '', port: Number(m[3]) });
  }
  return out;
}

/** How many log lines of a side match `pattern` (e.g. `/^result 503/` for flood-uac). */
export function countLog(side: SideResult, pattern: RegExp): number {
  return side.logLines.filter((l) => pattern.test(l)).length;
}

// ---------------------------------------------------------------------------------------------------------------
// One SIPp process, started now and collected later.

interface Started {
  child: ChildProcess;
  port: number;
  dir: string;
  logFile: string;
  /** Resolves when the process exits, with everything it left behind (its temp dir removed). */
  result: Promise<SideResult>;
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

interface StartArgs {
  scenario: string;
  target?: string;
  port: number;
  transport: CallTransport;
  calls: number;
  timeoutS: number;
  traceMessages: boolean;
  args: string[];
  localIp?: string;
}

async function startSipp(o: StartArgs): Promise<Started> {
  const binary = sippBinary();
  const dir = await mkdtemp(join(tmpdir(), 'sippbx-call-'));
  const logFile = join(dir, 'logs.log');
  const args = [
    ...(o.target === undefined ? [] : [o.target]),
    ...['-sf', o.scenario, '-t', o.transport, '-i', o.localIp ?? '127.0.0.1', '-p', String(o.port)],
    ...['-m', String(o.calls), '-timeout', `${o.timeoutS}s`, '-timeout_error', '-nostdin'],
    ...['-trace_err', '-error_file', join(dir, 'errors.log')],
    ...['-trace_stat', '-stf', join(dir, 'stat.csv')],
    ...['-trace_logs', '-log_file', logFile],
    ...(o.traceMessages ? ['-trace_msg', '-message_file', join(dir, 'messages.log')] : []),
    // TCP: SIPp aborts (fails) every call of a connection the peer closes, including calls that only linger in
    // <timewait> after their last message; the peer closes when it exits, so keep such calls alive.
    ...(o.transport === 't1' ? ['-reconnect_close', 'false'] : []),
    ...o.args,
  ];
  const startedAt = performance.now();
  const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout = (stdout + c).slice(-200_000)));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-200_000)));
  const killer = setTimeout(() => child.kill('SIGKILL'), (o.timeoutS + 5) * 1000);
  const exited = new Promise<number | null>((done) => {
    child.once('error', (error) => {
      stderr += `\nspawn error: ${error.message}`;
      done(null);
    });
    child.once('close', (code) => done(code));
  }).finally(() => clearTimeout(killer));
  const result = exited.then(async (exitCode): Promise<SideResult> => {
    const elapsedMs = performance.now() - startedAt;
    const logLines = (await readOptional(logFile)).split('\n').filter((l) => l.trim() !== '');
    const stats = parseSippStats(await readOptional(join(dir, 'stat.csv')));
    const side: SideResult = {
      exitCode,
      stdout,
      stderr,
      ...(stats === undefined ? {} : { stats }),
      errors: await readOptional(join(dir, 'errors.log')),
      messages: await readOptional(join(dir, 'messages.log')),
      command: ['sipp', ...args].join(' '),
      port: o.port,
      logLines,
      sdp: parseSdpLog(logLines),
      elapsedMs,
    };
    await rm(dir, { recursive: true, force: true });
    return side;
  });
  return { child, port: o.port, dir, logFile, result };
}

// ---------------------------------------------------------------------------------------------------------------
// Readiness. SIPp prints nothing reliable when it is ready, so:
// - a plain UAS is ready when the kernel shows its SIP socket: /proc/net/udp (or /proc/net/tcp in LISTEN state)
//   lists 127.0.0.1:<port>. SIPp opens its sockets after loading the scenario and before it reads any message,
//   and the port was free a moment before, so the entry is this SIPp's. Nothing is sent to it (no probe traffic
//   that the scenario would have to ignore) and nothing binds the port (no race with SIPp's own bind).
// - `register` is ready when its -trace_logs file has the "registered" line (the 200 for its REGISTER came back).

/** `127.0.0.1:port` as /proc/net/{udp,tcp} writes it (little-endian IPv4 hex, port hex). */
function procAddress(port: number): string {
  return `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** True when a socket is bound on 127.0.0.1:port (UDP) or listening on it (TCP), per /proc/net. */
export async function isLocalPortBound(port: number, transport: CallTransport): Promise<boolean> {
  const table = await readOptional(transport === 't1' ? '/proc/net/tcp' : '/proc/net/udp');
  const address = procAddress(port);
  return table.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols[1] === address && (transport === 'u1' || cols[3] === '0A');
  });
}

async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  proc: Started,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      const side = await proc.result;
      throw new Error(
        `SIPp exited (${String(side.exitCode)}) before ${what}\n${side.stderr}\n${side.errors}`,
      );
    }
    if (performance.now() > deadline) {
      proc.child.kill('SIGKILL');
      const side = await proc.result;
      throw new Error(`SIPp not ${what} within ${timeoutMs} ms\n${side.stderr}\n${side.errors}`);
    }
    await new Promise((done) => setTimeout(done, 10));
  }
}

function waitForBind(proc: Started, transport: CallTransport, timeoutMs: number): Promise<void> {
  return waitUntil('bound', () => isLocalPortBound(proc.port, transport), proc, timeoutMs);
}

function waitForLogLine(proc: Started, pattern: RegExp, timeoutMs: number): Promise<void> {
  const check = async (): Promise<boolean> => pattern.test(await readOptional(proc.logFile));
  return waitUntil(`logging ${String(pattern)}`, check, proc, timeoutMs);
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Runs one caller/callee pair: starts the UAS and waits until it is ready, then runs the UAC towards the pbx
 * (or straight at the UAS), and waits for both to exit. Never throws for a failed call: check `ok` and the sides'
 * exit codes (`describeCall` formats everything for an assertion message). Throws only when the UAS cannot start.
 */
export async function runCall(o: RunCallOptions): Promise<CallResult> {
  const transport = o.transport ?? 'u1';
  const calls = o.calls ?? 1;
  const timeoutS = o.timeoutS ?? 15;
  const traceMessages = o.traceMessages ?? calls <= 100;
  const service = o.service ?? 'bob';
  const pause = ['-d', String(o.pauseMs ?? 200)];
  const readyMs = o.readyTimeoutMs ?? 5_000;
  const uasPort = o.uasPort ?? (await freeLocalPort());
  const common = { transport, timeoutS, traceMessages };

  let registrar: Started | undefined;
  let uas: Started;
  try {
    if (o.uas === 'register') {
      let registrarTarget: string;
      if (o.pbx === undefined) {
        registrar = await startSipp({
          ...common,
          scenario: scenarioPath('registrar-selftest', 'uas'),
          port: await freeLocalPort(),
          calls: 1,
          args: [],
        });
        await waitForBind(registrar, transport, readyMs);
        registrarTarget = `127.0.0.1:${registrar.port}`;
      } else {
        registrarTarget = `127.0.0.1:${o.pbx.sipPort}`;
      }
      uas = await startSipp({
        ...common,
        scenario: scenarioPath('register', 'uas'),
        target: registrarTarget,
        port: uasPort,
        calls: 1,
        args: ['-oocsf', scenarioPath('register-incoming', 'uas'), '-s', service, ...pause],
      });
      await waitForLogLine(uas, /^registered /m, readyMs);
    } else {
      uas = await startSipp({
        ...common,
        scenario: scenarioPath(o.uas, 'uas'),
        port: uasPort,
        calls,
        args: [...pause, ...(o.extraArgs ?? []), ...(o.uasArgs ?? [])],
      });
      await waitForBind(uas, transport, readyMs);
    }
  } catch (error) {
    registrar?.child.kill('SIGKILL');
    if (registrar !== undefined) await registrar.result;
    throw error;
  }

  const target = `127.0.0.1:${o.pbx === undefined ? uasPort : o.pbx.sipPort}`;
  const uac = await startSipp({
    ...common,
    scenario: scenarioPath(o.uac, 'uac'),
    target,
    port: await freeLocalPort(),
    calls,
    ...(o.uacIp === undefined ? {} : { localIp: o.uacIp }),
    args: [
      '-s',
      service,
      ...pause,
      ...(o.rate === undefined ? [] : ['-r', String(o.rate)]),
      ...(o.limit === undefined ? [] : ['-l', String(o.limit)]),
      ...(o.extraArgs ?? []),
      ...(o.uacArgs ?? []),
    ],
  });
  if (o.kill !== undefined) {
    const victim = o.kill.side === 'uac' ? uac : uas;
    o.kill.when().then(
      () => victim.child.kill('SIGKILL'),
      () => victim.child.kill('SIGKILL'),
    );
  }
  const [uacResult, uasResult, registrarResult] = await Promise.all([
    uac.result,
    uas.result,
    registrar?.result,
  ]);
  const ok =
    uacResult.exitCode === 0 &&
    uasResult.exitCode === 0 &&
    (registrarResult === undefined || registrarResult.exitCode === 0);
  return {
    ok,
    uac: uacResult,
    uas: uasResult,
    ...(registrarResult === undefined ? {} : { registrar: registrarResult }),
    uasPort,
  };
}

function describeSide(name: string, s: SideResult): string {
  const counters =
    s.stats === undefined
      ? '(no statistics)'
      : `successful=${s.stats.successful} failed=${s.stats.failed} retransmissions=${s.stats.retransmissions}`;
  return [
    `===== ${name}: exit ${String(s.exitCode)} after ${Math.round(s.elapsedMs)} ms; ${counters}`,
    `$ ${s.command}`,
    `--- logs ---\n${s.logLines.slice(-20).join('\n')}`,
    `--- stderr ---\n${s.stderr.trim().slice(-2000)}`,
    `--- unexpected messages (-trace_err) ---\n${s.errors.trim().slice(-4000)}`,
    `--- last messages (-trace_msg) ---\n${s.messages.trim().slice(-4000)}`,
  ].join('\n');
}

/** A readable report of both sides (and the stand-in registrar) for assertion messages. */
export function describeCall(r: CallResult): string {
  return [
    describeSide('UAC', r.uac),
    describeSide('UAS', r.uas),
    ...(r.registrar === undefined ? [] : [describeSide('registrar', r.registrar)]),
  ].join('\n');
}

/** How long `pollWhileRunning` polls, what for, and the SIPp run the awaited state depends on. */
export interface PollOptions {
  timeoutMs: number;
  /** The awaited state, for the error when the run ends first (`calls_active 0`). */
  what: string;
  /** The SIPp run whose calls make the state; when it ends (or fails) first, waiting longer is pointless. */
  running?: Promise<CallResult> | undefined;
}

/**
 * Reads `read` every 50 ms until `accept` takes a value or `timeoutMs` passes, and resolves with the last value
 * read (after a timeout, the caller's assertion shows it); rejects with both SIPp sides described as soon as
 * `running` ends before that. For states the pbx reaches by itself (gauges, API listings), never as a delay.
 */
export async function pollWhileRunning<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  o: PollOptions,
): Promise<T> {
  let ended = false;
  void o.running?.then(
    () => (ended = true),
    () => (ended = true),
  );
  const until = Date.now() + o.timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (ended && o.running !== undefined) {
      throw new Error(`the SIPp run ended before ${o.what}\n${describeCall(await o.running)}`);
    }
    if (Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
