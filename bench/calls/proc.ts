/**
 * /proc readings for the calls benchmark: CPU time and memory of a process tree, busy time per CPU.
 * Linux only; clock ticks are USER_HZ = 100 (`getconf CLK_TCK`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

const TICKS_PER_SECOND = 100;

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Fields of /proc/PID/stat after the `(comm)` part: index 0 is field 3 (state). */
function statFields(pid: number): string[] | undefined {
  const text = readOr(`/proc/${pid}/stat`, '');
  const close = text.lastIndexOf(')');
  return close === -1 ? undefined : text.slice(close + 2).split(' ');
}

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  if (f === undefined) return 0;
  // fields 14 (utime) and 15 (stime) are at 11 and 12 once state is index 0
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
}

/** CPU seconds of several processes together. */
export function cpuSecondsOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/** The direct children of a process (Kamailio's workers). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f !== undefined && Number(f[1]) === pid) out.push(Number(entry));
  }
  return out;
}

function kbField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** Resident set size in bytes (VmRSS); 0 when the process is gone. */
export function rssBytes(pid: number): number {
  return kbField(readOr(`/proc/${pid}/status`, ''), 'VmRSS');
}

/**
 * Proportional set size in bytes (smaps_rollup Pss): shared pages divided among the processes that map
 * them, so the sum over Kamailio's processes counts its shared memory once.
 */
export function pssBytes(pid: number): number {
  return kbField(readOr(`/proc/${pid}/smaps_rollup`, ''), 'Pss');
}

/** Jiffies per CPU from /proc/stat: busy and total. */
export type CoreTimes = Record<string, { busy: number; total: number }>;

/** A snapshot of /proc/stat per CPU (`cpu0`, `cpu1`, ...). */
export function coreTimes(): CoreTimes {
  const out: CoreTimes = {};
  for (const line of readOr('/proc/stat', '').split('\n')) {
    const m = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const v = (m[2] ?? '').split(/\s+/).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out[m[1] ?? ''] = { busy: total - idle, total };
  }
  return out;
}

/** Busy % per CPU between two snapshots (all processes: shows load from outside the benchmark). */
export function coreBusy(before: CoreTimes, after: CoreTimes): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [cpu, a] of Object.entries(after)) {
    const b = before[cpu];
    if (b === undefined || a.total === b.total) continue;
    out[cpu] = ((a.busy - b.busy) / (a.total - b.total)) * 100;
  }
  return out;
}

/** Waits (up to `maxMs`) for a second in which every CPU is under `pct` busy; returns the last reading. */
export async function waitForQuiet(pct: number, maxMs: number): Promise<Record<string, number>> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const before = coreTimes();
    await sleep(1000);
    const busy = coreBusy(before, coreTimes());
    if (Object.values(busy).every((b) => b < pct) || Date.now() >= deadline) return busy;
  }
}

/** setTimeout as a promise. */
export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** UDP ports already handed out by `freeUdpPort`, so two callers never get the same one. */
const handedOut = new Set<number>();

/**
 * A UDP port on 127.0.0.1 in [7000, 10000) that is free now: below the pbx's media range (20000+), the
 * kernel's ephemeral range and rtpengine's usual 10000-19999, above SIPp's default media port 6000.
 */
export async function freeUdpPort(): Promise<number> {
  for (let port = 7000 + Math.floor(Math.random() * 1000); port < 10000; port++) {
    if (handedOut.has(port) || !(await udpPortFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free UDP port in 7000-9999');
}

/** A TCP port on 127.0.0.1 that is free now. */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise((done) => server.close(done));
  return port;
}

/** Whether a UDP port on 127.0.0.1 can be bound now. */
export async function udpPortFree(port: number): Promise<boolean> {
  const socket = createSocket('udp4');
  const ok = await new Promise<boolean>((done) => {
    socket.once('error', () => done(false));
    socket.bind(port, '127.0.0.1', () => done(true));
  });
  if (ok) await new Promise<void>((done) => socket.close(() => done()));
  return ok;
}
