/**
 * What the generator's packets go through: the sippbx relay (relay-server.ts in its own process),
 * rtpengine in userspace (driven over ng), or nothing (direct: the generator's floor).
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { JsonChild } from './lines.js';
import { NgClient } from './ng.js';

/** Generator ports of one call: [party A, party B]. */
export type CallPorts = readonly [number, number];

/** A CPU reading of the relay process. */
export interface CpuSample {
  /** User + system CPU of the whole process (all threads), µs. */
  readonly cpuUs: number;
  /** When it was taken, on run.ts's clock, ms. */
  readonly atMs: number;
  /** Event-loop utilisation since the sessions opened (Node relay only). */
  readonly elu?: number;
}

/** A relay under test. */
export interface RelayTarget {
  readonly name: string;
  /** Allocates one relayed call per entry; returns where each party must send ([A's target, B's target]). */
  open(calls: readonly CallPorts[]): Promise<CallPorts[]>;
  /** Reads the relay's CPU time; undefined when there is no relay process. */
  sample(): Promise<CpuSample | undefined>;
  /** Frees the calls and stops the process; idempotent. */
  close(): Promise<void>;
}

/** No relay: each party sends straight to the other; measures the generator and kernel alone. */
export function directTarget(): RelayTarget {
  return {
    name: 'direct',
    open: (calls) => Promise.resolve(calls.map(([a, b]) => [b, a] as const)),
    sample: () => Promise.resolve(undefined),
    close: () => Promise.resolve(),
  };
}

/** Options for the sippbx relay process. */
export interface SippbxOptions {
  /** `taskset -c` CPU list. */
  readonly cpus: string;
  /** Directory for `node --cpu-prof`, or undefined for no profile. */
  readonly profileDir: string | undefined;
  /** Path of the compiled relay-server.js. */
  readonly script: string;
  /** Run the bare node:dgram relay (`--minimal`) instead of sippbx's. */
  readonly minimal?: boolean;
  /** Run sippbx's Node relay engine without connected flows (`--unconnected`). */
  readonly unconnected?: boolean;
  /** Relay engine; default native (`--engine`). */
  readonly engine?: 'native' | 'node';
}

/** The sippbx relay: relay-server.js under taskset, one MediaSession per call. */
export function sippbxTarget(options: SippbxOptions): RelayTarget {
  const nodeArgs =
    options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`];
  const child = new JsonChild('sippbx relay', 'taskset', [
    '-c',
    options.cpus,
    process.execPath,
    ...nodeArgs,
    options.script,
    ...(options.minimal === true ? ['--minimal'] : []),
    ...(options.unconnected === true ? ['--unconnected'] : []),
    ...(options.engine === 'node' ? ['--engine', 'node'] : []),
  ]);
  let closed = false;
  return {
    name:
      options.minimal === true
        ? 'node-floor'
        : options.unconnected === true
          ? 'sippbx-unconnected'
          : options.engine === 'node'
            ? 'sippbx-node'
            : 'sippbx',
    async open(calls) {
      const reply = await child.request({ cmd: 'open', calls }, 'opened', 60_000);
      return reply.ports as CallPorts[];
    },
    async sample() {
      const reply = await child.request({ cmd: 'sample' }, 'sample', 5_000);
      return { cpuUs: reply.cpuUs as number, atMs: performance.now(), elu: reply.elu as number };
    },
    async close() {
      if (closed) return;
      closed = true;
      child.send({ cmd: 'close' });
      await child.stop(15_000);
    },
  };
}

/** Options for rtpengine. */
export interface RtpengineOptions {
  /** `taskset -c` CPU list. */
  readonly cpus: string;
  /** `--num-threads`, or undefined for rtpengine's default (one per core). */
  readonly threads: number | undefined;
  /** ng control port on 127.0.0.1. */
  readonly ngPort: number;
}

/** Finds an executable on PATH (or /usr/sbin, /usr/bin), or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin'];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      continue;
    }
  }
  return undefined;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a whole process (every thread), µs, from /proc/PID/stat (proc(5) fields 14 and 15). */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / CLOCK_TICKS) * 1e6;
}

/** Threads of a process (/proc/PID/status). */
export function processThreads(pid: number): number {
  const match = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return match === null ? 0 : Number(match[1]);
}

/** An SDP offer/answer for one party of a bench call: PCMU on 127.0.0.1:port. */
function sdp(port: number, session: number): string {
  return [
    'v=0',
    `o=- ${session} 1 IN IP4 127.0.0.1`,
    's=sippbx-bench',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

/** The media port and address rtpengine put in a rewritten SDP. */
export function relayPort(body: unknown): number {
  if (typeof body !== 'string') throw new Error('rtpengine reply has no sdp');
  const media = /^m=audio (\d+) /m.exec(body);
  const address = /^c=IN IP4 (\S+)/m.exec(body);
  if (media === null || address === null) throw new Error(`unexpected SDP from rtpengine: ${body}`);
  if (address[1] !== '127.0.0.1') throw new Error(`rtpengine offered address ${address[1]}, want 127.0.0.1`);
  return Number(media[1]);
}

/** rtpengine in userspace (`--table=-1`), calls allocated over ng the way a SIP proxy would. */
export async function rtpengineTarget(
  options: RtpengineOptions,
): Promise<RelayTarget & { threads(): number }> {
  const binary = findExecutable('rtpengine');
  if (binary === undefined) {
    throw new Error(
      'rtpengine not found: install Debian package rtpengine-daemon (apt-get install rtpengine-daemon)',
    );
  }
  const args = [
    '-c',
    options.cpus,
    binary,
    '--config-file=none',
    '--foreground',
    '--log-stderr',
    '--table=-1',
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${options.ngPort}`,
    '--port-min=10000',
    '--port-max=19999',
    '--log-level=4',
    '--timeout=120',
    '--delete-delay=0',
    ...(options.threads === undefined ? [] : [`--num-threads=${options.threads}`]),
  ];
  const child = new JsonChild('rtpengine', 'taskset', args);
  const ng = await NgClient.connect('127.0.0.1', options.ngPort, 300, 1);
  const callIds: string[] = [];
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (let i = 0; i < callIds.length; i += 64) {
      await Promise.allSettled(
        callIds
          .slice(i, i + 64)
          .map((id) => ng.request({ command: 'delete', 'call-id': id, 'from-tag': 'a' })),
      );
    }
    ng.close();
    await child.stop(5_000, 'SIGTERM');
  };
  try {
    await waitForPong(ng, child);
  } catch (error) {
    await close();
    throw error;
  }
  const control = await NgClient.connect('127.0.0.1', options.ngPort, 1000, 3);
  return {
    name: 'rtpengine',
    async open(calls) {
      const out: CallPorts[] = new Array<CallPorts>(calls.length);
      for (let first = 0; first < calls.length; first += 32) {
        await Promise.all(
          calls.slice(first, first + 32).map(async ([a, b], i) => {
            const call = first + i;
            const id = `sippbx-bench-${process.pid}-${call}`;
            callIds.push(id);
            const offer = await control.request({
              command: 'offer',
              'call-id': id,
              'from-tag': 'a',
              sdp: sdp(a, call),
            });
            const answer = await control.request({
              command: 'answer',
              'call-id': id,
              'from-tag': 'a',
              'to-tag': 'b',
              sdp: sdp(b, call),
            });
            // The offer goes to B (so B sends to its port), the answer to A.
            out[call] = [relayPort(answer.sdp), relayPort(offer.sdp)];
          }),
        );
      }
      return out;
    },
    sample: () => Promise.resolve({ cpuUs: processCpuUs(child.pid), atMs: performance.now() }),
    threads: () => processThreads(child.pid),
    async close() {
      control.close();
      await close();
    },
  };
}

async function waitForPong(ng: NgClient, child: JsonChild): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const reply = await ng.request({ command: 'ping' });
      if (reply.result === 'pong') return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`rtpengine did not answer ng ping within 10 s: ${child.stderrTail()}`);
}

/** Cumulative busy and total jiffies per CPU from /proc/stat (busy = all but idle and iowait). */
export function coreTimes(): Map<string, { busy: number; total: number; steal: number }> {
  const out = new Map<string, { busy: number; total: number; steal: number }>();
  for (const line of readFileSync('/proc/stat', 'latin1').split('\n')) {
    const match = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const values = (match[2] ?? '').split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
    const total = values.slice(0, 8).reduce((sum, v) => sum + v, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    out.set(match[1] ?? '', { busy: total - idle, total, steal: values[7] ?? 0 });
  }
  return out;
}

/** Busy % of each CPU between two coreTimes() readings, e.g. "cpu0 62% cpu1 48%". */
export function coreBusy(
  before: ReturnType<typeof coreTimes>,
  after: ReturnType<typeof coreTimes>,
): Record<string, number> {
  const busy: Record<string, number> = {};
  for (const [cpu, end] of after) {
    const start = before.get(cpu);
    if (start === undefined || end.total === start.total) continue;
    busy[cpu] = ((end.busy - start.busy) / (end.total - start.total)) * 100;
  }
  return busy;
}
