// Runs the real SIPp (Debian sip-tester 3.6.x) against a target, bounded by a timeout, and collects its traces.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { REPO_ROOT } from './pbx.js';
import { findOnPath } from './which.js';

/** What to run: a scenario file (relative to the repo root or absolute) or a built-in SIPp scenario name. */
export interface SippOptions {
  /** `e2e/scenarios/x.xml` (any path ending in `.xml`) or a built-in name such as `uac`. */
  scenario: string;
  /** `host:port` of the system under test. */
  target: string;
  /** `u1` (UDP, one socket) or `t1` (TCP, one connection). */
  transport: 'u1' | 't1';
  /** Calls to run before exiting (`-m`); default 1. */
  calls?: number;
  /** Calls per second (`-r`); default SIPp's 10. */
  rate?: number;
  /** Global timeout in seconds (`-timeout … -timeout_error`); the process is killed 5 s later regardless. */
  timeoutS: number;
  /** Request-URI user (`-s`); default `pbx`. */
  /** Local address SIPp binds and sends from (another 127.0.0.0/8 address is another "client IP"). */
  localIp?: string;
  service?: string;
  /** Further SIPp arguments, e.g. `['-nr']`. */
  extraArgs?: string[];
}

/** Final statistics from SIPp's `-trace_stat` file (cumulative columns of its last line). */
export interface SippStats {
  /** Calls started. */
  created: number;
  /** Calls that completed the scenario. */
  successful: number;
  /** Calls that failed (unexpected message, timeout, failed check…). */
  failed: number;
  /** Retransmissions SIPp sent. */
  retransmissions: number;
  /** Every cumulative column `Name(C)` of the last line, by name. */
  columns: Record<string, string>;
}

/** Outcome of one SIPp run. Exit code 0 means every call succeeded. */
export interface SippResult {
  /** SIPp's exit code (0 all calls succeeded, 1 some failed, 97/99/255 see `sipp -h`); null if killed. */
  exitCode: number | null;
  /** SIPp's stdout (its statistics screens). */
  stdout: string;
  /** SIPp's stderr. */
  stderr: string;
  /** Parsed `-trace_stat` output when SIPp wrote one. */
  stats?: SippStats;
  /** Contents of the `-trace_err` log (unexpected messages), '' when none. */
  errors: string;
  /** Contents of the `-trace_msg` log (every message sent and received). */
  messages: string;
  /** The exact command line, for failure reports. */
  command: string;
}

/** Absolute path of the `sipp` binary; throws with the install hint when it is missing. */
export function sippBinary(): string {
  const found = findOnPath('sipp');
  if (found === undefined) {
    throw new Error('sipp not found: install Debian package sip-tester (make test does this)');
  }
  return found;
}

/** Parses a `-trace_stat` CSV (`;`-separated, header line first) into the last line's cumulative counters. */
export function parseSippStats(csv: string): SippStats | undefined {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]?.split(';');
  const last = lines.at(-1)?.split(';');
  if (header === undefined || last === undefined || lines.length < 2) return undefined;
  const columns: Record<string, string> = {};
  header.forEach((name, i) => {
    if (name.endsWith('(C)')) columns[name.slice(0, -3)] = last[i] ?? '';
  });
  const num = (name: string): number => Number(columns[name] ?? NaN);
  return {
    created: num('TotalCallCreated'),
    successful: num('SuccessfulCall'),
    failed: num('FailedCall'),
    retransmissions: num('Retransmissions'),
    columns,
  };
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** A port free for both TCP and UDP on 127.0.0.1 (SIPp binds both; without `-p` it grabs 5060 when it can). */
export async function freeLocalPort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const server = createServer();
    await new Promise<void>((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const udp = createSocket('udp4');
    const udpOk = await new Promise<boolean>((done) => {
      udp.once('error', () => done(false));
      udp.bind(port, '127.0.0.1', () => done(true));
    });
    try {
      udp.close();
    } catch {
      // never bound
    }
    await new Promise((done) => server.close(done));
    if (udpOk || attempt >= 20) return port;
  }
}

function sippArgs(o: SippOptions, dir: string, localPort: number): string[] {
  const scenario = o.scenario.endsWith('.xml')
    ? ['-sf', isAbsolute(o.scenario) ? o.scenario : join(REPO_ROOT, o.scenario)]
    : ['-sn', o.scenario];
  return [
    o.target,
    ...scenario,
    ...['-t', o.transport, '-i', o.localIp ?? '127.0.0.1', '-p', String(localPort), '-s', o.service ?? 'pbx'],
    ...['-m', String(o.calls ?? 1)],
    ...(o.rate === undefined ? [] : ['-r', String(o.rate)]),
    ...['-timeout', `${o.timeoutS}s`, '-timeout_error', '-nostdin'],
    ...['-trace_err', '-error_file', join(dir, 'errors.log')],
    ...['-trace_stat', '-stf', join(dir, 'stat.csv')],
    ...['-trace_msg', '-message_file', join(dir, 'messages.log')],
    ...(o.extraArgs ?? []),
  ];
}

/** Runs SIPp to completion (never longer than `timeoutS` + 5 s) and returns its exit code, output and traces. */
export async function runSipp(o: SippOptions): Promise<SippResult> {
  const binary = sippBinary();
  const dir = await mkdtemp(join(tmpdir(), 'sippbx-sipp-'));
  const args = sippArgs(o, dir, await freeLocalPort());
  try {
    const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout = (stdout + c).slice(-200_000)));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-200_000)));
    const killer = setTimeout(() => child.kill('SIGKILL'), (o.timeoutS + 5) * 1000);
    const exitCode = await new Promise<number | null>((done, fail) => {
      child.once('error', fail);
      child.once('close', (code) => done(code));
    }).finally(() => clearTimeout(killer));
    const stats = parseSippStats(await readOptional(join(dir, 'stat.csv')));
    return {
      exitCode,
      stdout,
      stderr,
      ...(stats === undefined ? {} : { stats }),
      errors: await readOptional(join(dir, 'errors.log')),
      messages: await readOptional(join(dir, 'messages.log')),
      command: ['sipp', ...args].join(' '),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A readable failure report of a SIPp run: command, exit code, counters, error log and the last messages. */
export function describeSipp(r: SippResult): string {
  const counters =
    r.stats === undefined
      ? '(no statistics)'
      : `successful=${r.stats.successful} failed=${r.stats.failed} retransmissions=${r.stats.retransmissions}`;
  return [
    `$ ${r.command}`,
    `exit code ${String(r.exitCode)}; ${counters}`,
    `--- stderr ---\n${r.stderr.trim().slice(-4000)}`,
    `--- unexpected messages (-trace_err) ---\n${r.errors.trim().slice(-6000)}`,
    `--- last messages (-trace_msg) ---\n${r.messages.trim().slice(-6000)}`,
  ].join('\n');
}
