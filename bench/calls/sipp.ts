/**
 * SIPp (Debian sip-tester 3.6) as the load of the calls benchmark: a UAS that answers every INVITE and a
 * UAC that places calls at a fixed rate, both from this folder's scenarios, pinned with `taskset`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A spawned process we own: its pid and a promise of its exit code. */
export interface Owned {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
}

/** Every process this benchmark started and that is still running. */
const live = new Set<ChildProcess>();

/** Terminates every process still running (on SIGINT/SIGTERM of the benchmark itself). */
export function killAll(): void {
  // SIGTERM, not SIGKILL: Kamailio's main process takes its workers down only when it can handle it
  for (const child of live) child.kill('SIGTERM');
}

/** Spawns `taskset -c CPUS BINARY ARGS` (taskset execs, so the pid is the binary's own). */
export function spawnPinned(
  cpus: string,
  binary: string,
  args: string[],
  cwd: string,
  stdout: 'ignore' | 'pipe' = 'ignore',
): Owned {
  const child = spawn('taskset', ['-c', cpus, binary, ...args], { cwd, stdio: ['ignore', stdout, 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${binary}`);
  live.add(child);
  child.once('close', () => live.delete(child));
  const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  return { pid: child.pid, exited, child };
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopOwned(p: Owned, graceMs = 5000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const killer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(killer);
}

/** Where the UAS and UAC listen and which scenarios they run. */
export interface SippPaths {
  readonly uasScenario: string;
  readonly uacScenario: string;
}

/**
 * A signaling-only copy of a scenario: every SDP body (Content-Type: application/sdp, the body lines)
 * becomes `Content-Length: 0`, so the calls carry no media description and hold no relay ports.
 */
export function withoutSdp(xml: string): string {
  const out = xml.replace(
    /Content-Type: application\/sdp\s*\n\s*Content-Length: \[len\]\n(?:\s*\n)?(?:\s*[a-z]=.*\n)+/g,
    (m) => {
      const indent = /\n(\s*)Content-Length/.exec(m)?.[1] ?? '';
      return `Content-Length: 0\n${indent}\n`;
    },
  );
  if (out.includes('application/sdp')) throw new Error('withoutSdp: an SDP body was left in the scenario');
  return out;
}

/** Scenario paths for signaling-only calls: stripped copies of `paths` written into `dir`. */
export function signalingOnlyPaths(paths: SippPaths, dir: string): SippPaths {
  const uas = join(dir, 'uas-nosdp.xml');
  const uac = join(dir, 'uac-nosdp.xml');
  writeFileSync(uas, withoutSdp(readFileSync(paths.uasScenario, 'utf8')));
  writeFileSync(uac, withoutSdp(readFileSync(paths.uacScenario, 'utf8')));
  return { uasScenario: uas, uacScenario: uac };
}

/** Starts the answering side on 127.0.0.1:`port`. */
export function startUas(paths: SippPaths, port: number, cpus: string, dir: string): Owned {
  return spawnPinned(
    cpus,
    'sipp',
    ['-sf', paths.uasScenario, '-i', '127.0.0.1', '-p', String(port), '-t', 'u1', '-nostdin'],
    dir,
  );
}

/** What the UAC is asked to do. */
export interface UacOptions {
  /** `127.0.0.1:port` of the server under test. */
  readonly target: string;
  readonly localPort: number;
  readonly controlPort: number;
  /** New calls per second (`-r`). */
  readonly rate: number;
  /** Calls to place in all (`-m`). */
  readonly calls: number;
  /** Hold between ACK and BYE, ms (written over HOLD_MS in the scenario); 0 = BYE right after the ACK. */
  readonly holdMs: number;
  /** Most simultaneous calls SIPp allows itself (`-l`). */
  readonly limit: number;
  /** SIPp's global timeout (`-timeout`), s: it exits then with whatever calls are left failed. */
  readonly timeoutS: number;
  readonly cpus: string;
  /** Working directory: the stat, rtt and error files land here. */
  readonly dir: string;
}

/** The command line of a UAC run, without `taskset` (for the docs). */
export function uacArgs(paths: SippPaths, o: UacOptions): string[] {
  return [
    o.target,
    ...['-sf', paths.uacScenario, '-i', '127.0.0.1', '-p', String(o.localPort), '-t', 'u1'],
    ...['-s', '1000', '-r', String(o.rate), '-m', String(o.calls)],
    ...['-l', String(o.limit), '-timeout', `${o.timeoutS}s`, '-nostdin', '-cp', String(o.controlPort)],
    ...['-trace_stat', '-fd', '1', '-stf', join(o.dir, 'stat.csv')],
    ...['-trace_rtt', '-rtt_freq', '1', '-trace_err', '-error_file', join(o.dir, 'errors.log')],
  ];
}

/** Starts the calling side from a copy of the UAC scenario with the hold written in; the pid is SIPp's. */
export function startUac(paths: SippPaths, o: UacOptions): Owned {
  const scenario = join(o.dir, 'uac.xml');
  // A recv timeout of 0 means "no timeout" to SIPp (the call would never hang up): hold 0 waits 1 ms,
  // which still absorbs a 100/180 overtaken by the 200 and sends the BYE right after the ACK.
  const hold = String(Math.max(1, Math.round(o.holdMs)));
  writeFileSync(scenario, readFileSync(paths.uacScenario, 'utf8').replaceAll('HOLD_MS', hold));
  return spawnPinned(o.cpus, 'sipp', uacArgs({ ...paths, uacScenario: scenario }, o), o.dir);
}

/** Sends a control command to a running SIPp (`-cp`): a key such as `p` (pause/resume) or `cset rate 10`. */
export async function sippControl(port: number, command: string): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((done, fail) =>
    socket.send(command, port, '127.0.0.1', (err) => (err ? fail(err) : done())),
  );
  socket.close();
}

/** The columns of one line of a `-trace_stat` file, by name. */
export type StatLine = Record<string, string>;

/** Every data line of a `-trace_stat` CSV, as records keyed by the header's column names. */
export function readStat(file: string): StatLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]?.split(';') ?? [];
  return lines.slice(1).map((line) => {
    const values = line.split(';');
    return Object.fromEntries(header.map((name, i) => [name, values[i] ?? '']));
  });
}

/** The epoch seconds of a SIPp time column (`date\ttime\tepoch`). */
export function epochOf(value: string | undefined): number {
  return Number(value?.split('\t').at(-1) ?? NaN);
}

/** A number column of a stat line (NaN when missing). */
export function num(line: StatLine | undefined, column: string): number {
  return Number(line?.[column] ?? NaN);
}

/** Final outcome of a UAC run. */
export interface UacResult {
  readonly created: number;
  readonly successful: number;
  /** Calls created that did not complete the scenario (failed, or still open when SIPp stopped). */
  readonly failed: number;
  readonly retransmissions: number;
  /** Non-zero `Failed…` counters, e.g. `{FailedMaxUDPRetrans: 12}`. */
  readonly failureKinds: Record<string, number>;
  /** Calls per second SIPp actually started: calls / time until the last one was created. */
  readonly achievedRate: number;
  /** The first lines of SIPp's `-trace_err` log (unexpected messages), '' when none. */
  readonly errorSample: string;
  /** INVITE -> 200 in ms; SIPp 3.6 measures in steps of 4 ms here (its clock ticks), use uac.ts for finer. */
  readonly inviteTo200Ms: { p50: number; p90: number; p99: number; max: number; samples: number };
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** Response times from the `*_rtt.csv` file SIPp writes in its working directory. */
function readRtt(dir: string): number[] {
  const file = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
  if (file === undefined) return [];
  return readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => Number(l.split(';')[1]))
    .filter((v) => Number.isFinite(v));
}

/** The first real errors of a `-trace_err` log: the hold's "receive timeout … jumping to label" is normal. */
function errorSample(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  return text
    .split(/(?=\d{4}-\d\d-\d\d\t)/)
    .filter((event) => !event.includes('jumping to label') && !event.startsWith('The following events'))
    .join('')
    .slice(0, 1500);
}

/** Reads the stat and rtt files of a finished UAC run in `dir`. */
export function uacResult(dir: string): UacResult {
  const lines = readStat(join(dir, 'stat.csv'));
  const last = lines.at(-1);
  const created = num(last, 'TotalCallCreated');
  const successful = num(last, 'SuccessfulCall(C)');
  const failureKinds: Record<string, number> = {};
  for (const [name, value] of Object.entries(last ?? {})) {
    const m = /^(Failed\w+)\(C\)$/.exec(name);
    if (m !== null && Number(value) > 0) failureKinds[m[1] ?? name] = Number(value);
  }
  const start = epochOf(last?.['StartTime']);
  const allCreated = lines.find((l) => num(l, 'TotalCallCreated') >= created) ?? last;
  const creationS = epochOf(allCreated?.['CurrentTime']) - start;
  const rtt = readRtt(dir).sort((a, b) => a - b);
  return {
    created,
    successful,
    failed: created - successful,
    retransmissions: num(last, 'Retransmissions(C)'),
    failureKinds,
    achievedRate: creationS > 0 ? created / creationS : NaN,
    errorSample: errorSample(join(dir, 'errors.log')),
    inviteTo200Ms: {
      p50: percentile(rtt, 0.5),
      p90: percentile(rtt, 0.9),
      p99: percentile(rtt, 0.99),
      max: rtt.at(-1) ?? NaN,
      samples: rtt.length,
    },
  };
}
