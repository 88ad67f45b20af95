/**
 * RTP relay benchmark: the same generator load through the sippbx relay and through rtpengine (userspace),
 * in the same run, generator and relay pinned to different cores. See docs/benchmarks.md "RTP relay".
 * Usage: node dist/bench/rtp-relay/run.js [--streams 500,1000,2000] [--seconds 20] [--warmup 2]
 *          [--targets direct,sippbx,rtpengine[,sippbx-node,sippbx-unconnected,node-floor]] [--relay-cpus 1]
 *          [--generator c|node] [--tick-ms MS] [--generator-cpus 0]
 *          [--rtpengine-threads 1|default] [--repeat 1] [--budget-minutes 9.5] [--quiet-pct 15]
 *          [--profile DIR] [--json FILE]
 * Before each measurement it waits (up to 20 s) for a second with every CPU under --quiet-pct busy; with
 * --repeat R each case runs R times (while the budget lasts) and the table keeps the quietest run.
 * A stream is one direction of a call: N streams = N/2 two-way calls, 50 packets/s each way.
 * The generator is generator.c by default (compiled here with cc when its binary is missing or older than
 * the source; kernel receive timestamps, 0.1 ms send ticks: a latency floor far below the relays'), or
 * generator.ts with --generator node; both speak the same JSON lines and report the same fields.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonChild } from './lines.js';
import {
  coreBusy,
  coreTimes,
  directTarget,
  findExecutable,
  rtpengineTarget,
  sippbxTarget,
} from './targets.js';
import type { CallPorts, CpuSample, RelayTarget, SippbxOptions } from './targets.js';

const here = dirname(fileURLToPath(import.meta.url));

const USAGE = `Usage: node dist/bench/rtp-relay/run.js [options]
  --streams 500,1000,2000     one-way streams per case (even; N/2 two-way calls at 50 packets/s each way)
  --seconds 20 --warmup 2     measured window and warm-up per case
  --targets direct,sippbx,rtpengine
                              sippbx is the native relay engine; also: sippbx-node (the Node engine),
                              sippbx-unconnected (Node engine without connected flows), node-floor
  --relay-cpus 1 --generator-cpus 0
                              taskset CPU lists of the relay and the generator
  --generator c               c: generator.c, built with cc (Debian package gcc) into dist/ when stale;
                              node: generator.ts (its floor is ~1 ms p99 at 2,000 streams)
  --tick-ms MS                the generator's send tick (default: c 0.1, node 1)
  --rtpengine-threads 1       rtpengine --num-threads, or "default"
  --repeat 1                  rounds (1-5) while --budget-minutes 9.5 lasts; the table keeps the quietest
  --quiet-pct 15              wait (up to 20 s) for a second with every CPU under this busy % before a case
  --profile DIR               node --cpu-prof of the Node relays into DIR (profile-top.js reads it)
  --json FILE                 every row and the quietest ones as JSON`;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

const streamCounts = arg('streams', '500,1000,2000').split(',').map(Number);
const seconds = Number(arg('seconds', '20'));
const warmup = Number(arg('warmup', '2'));
const targetNames = arg('targets', 'direct,sippbx,rtpengine').split(',');
const relayCpus = arg('relay-cpus', '1');
const generatorCpus = arg('generator-cpus', '0');
const rtpengineThreadsArg = arg('rtpengine-threads', '1');
const rtpengineThreads = rtpengineThreadsArg === 'default' ? undefined : Number(rtpengineThreadsArg);
const profileDir = process.argv.includes('--profile') ? arg('profile', 'prof') : undefined;
const quietPct = Number(arg('quiet-pct', '15'));
const repeat = Number(arg('repeat', '1'));
const budgetMinutes = Number(arg('budget-minutes', '9.5'));
const jsonFile = process.argv.includes('--json') ? arg('json', 'rtp-relay.json') : undefined;
const generatorKind = arg('generator', 'c');
const tickMs = process.argv.includes('--tick-ms') ? arg('tick-ms', '1') : undefined;

/** One measured row. */
interface Row {
  target: string;
  /** Which round of --repeat measured it (0-based). */
  round: number;
  /** Which load generator measured it: "c" (generator.c) or "node" (generator.ts). */
  generator: string;
  streams: number;
  scheduled: number;
  sent: number;
  lost: number;
  lossPct: number;
  reordered: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  relayCpuPct: number | undefined;
  relayUsPerPacket: number | undefined;
  relayElu: number | undefined;
  relayThreads: number | undefined;
  generatorCpuPct: number;
  generatorElu: number;
  sendLateP99Ms: number;
  /** Busy % per CPU over the window, all processes: shows load from outside the benchmark. */
  coreBusyPct: Record<string, number>;
}

interface GeneratorResult {
  scheduled: number;
  sent: number;
  lost: number;
  lossPct: number;
  reordered: number;
  latencyUs: { p50: number; p99: number; p999: number };
  sendLateMs: { p99: number };
  cpuPct: number;
  elu: number;
}

/** Where run.ts builds generator.c: next to this file in dist/. */
const generatorBinary = join(here, 'generator-c');
/** dist/bench/rtp-relay/run.js -> bench/rtp-relay/generator.c. */
const generatorSource = join(here, '..', '..', '..', 'bench', 'rtp-relay', 'generator.c');

/** The generator's command line before its own flags. */
function generatorCommand(): string[] {
  return generatorKind === 'node' ? [process.execPath, join(here, 'generator.js')] : [generatorBinary];
}

/** Compiles generator.c when its binary is missing or older than the source; never falls back to Node. */
function buildGenerator(): void {
  let sourceMs: number;
  try {
    sourceMs = statSync(generatorSource).mtimeMs;
  } catch {
    throw new Error(`--generator c needs ${generatorSource} (the source tree next to dist/)`);
  }
  const binaryMs = statSync(generatorBinary, { throwIfNoEntry: false })?.mtimeMs;
  if (binaryMs !== undefined && binaryMs >= sourceMs) return;
  const cc = findExecutable('cc');
  if (cc === undefined) {
    throw new Error(
      'cc not found: --generator c compiles bench/rtp-relay/generator.c; install Debian package gcc ' +
        '(apt-get install gcc), or choose --generator node explicitly',
    );
  }
  mkdirSync(dirname(generatorBinary), { recursive: true });
  // Built under a temporary name and renamed: a failed or concurrent build never leaves half a binary.
  const temporary = `${generatorBinary}.${process.pid}.tmp`;
  const flags = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror'];
  execFileSync(cc, [...flags, '-o', temporary, generatorSource, '-lm'], { stdio: 'inherit' });
  renameSync(temporary, generatorBinary);
  console.error(`built ${generatorBinary} from ${generatorSource}`);
}

async function makeTarget(name: string): Promise<RelayTarget & { threads?: () => number }> {
  const sippbx = (variant: Partial<SippbxOptions> = {}): RelayTarget =>
    sippbxTarget({ cpus: relayCpus, profileDir, script: join(here, 'relay-server.js'), ...variant });
  switch (name) {
    case 'direct':
      return directTarget();
    case 'sippbx':
      return sippbx();
    case 'sippbx-node':
      return sippbx({ engine: 'node' });
    case 'sippbx-unconnected':
      return sippbx({ unconnected: true });
    case 'node-floor':
      return sippbx({ minimal: true });
    case 'rtpengine':
      return rtpengineTarget({ cpus: relayCpus, threads: rtpengineThreads, ngPort: 2223 });
    default:
      throw new Error(
        `unknown target ${name} (direct, sippbx, sippbx-node, sippbx-unconnected, rtpengine, node-floor)`,
      );
  }
}

/** Waits (at most `maxMs`) for a second in which every CPU is under `limitPct` busy; returns the last reading. */
async function waitForQuiet(limitPct: number, maxMs: number): Promise<Record<string, number>> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const start = coreTimes();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const busy = coreBusy(start, coreTimes());
    if (Object.values(busy).every((pct) => pct < limitPct) || Date.now() >= deadline) return busy;
  }
}

async function measure(name: string, streams: number): Promise<Omit<Row, 'round'>> {
  const idle = await waitForQuiet(quietPct, 20_000);
  if (Object.values(idle).some((pct) => pct >= quietPct)) {
    console.error(`warning: other load on the machine before ${name} ${streams}: ${JSON.stringify(idle)}`);
  }
  const calls = streams / 2;
  const generator = new JsonChild('generator', 'taskset', [
    '-c',
    generatorCpus,
    ...generatorCommand(),
    '--calls',
    String(calls),
    '--seconds',
    String(seconds),
    '--warmup',
    String(warmup),
    ...(tickMs === undefined ? [] : ['--tick-ms', tickMs]),
  ]);
  const target = await makeTarget(name);
  try {
    const ports = (await generator.next('ports', 30_000)).ports as CallPorts[];
    const targets = await target.open(ports);
    generator.send({ cmd: 'start', targets });
    await generator.next('started', 30_000);
    await generator.next('measure-start', (warmup + 10) * 1000);
    const cores = coreTimes();
    const before = await target.sample();
    await generator.next('measure-end', (seconds + 30) * 1000);
    const after = await target.sample();
    const busy = coreBusy(cores, coreTimes());
    const threads = target.threads?.();
    const result = (await generator.next('result', 15_000)) as unknown as GeneratorResult;
    return {
      ...toRow(name, streams, result, before, after, threads),
      generator: generatorKind,
      coreBusyPct: busy,
    };
  } finally {
    await target.close();
    await generator.stop(5_000, 'SIGTERM');
  }
}

function toRow(
  target: string,
  streams: number,
  r: GeneratorResult,
  before: CpuSample | undefined,
  after: CpuSample | undefined,
  threads: number | undefined,
): Omit<Row, 'generator' | 'coreBusyPct' | 'round'> {
  const cpuUs = before !== undefined && after !== undefined ? after.cpuUs - before.cpuUs : undefined;
  const wallUs = before !== undefined && after !== undefined ? (after.atMs - before.atMs) * 1000 : undefined;
  return {
    target,
    streams,
    scheduled: r.scheduled,
    sent: r.sent,
    lost: r.lost,
    lossPct: r.lossPct,
    reordered: r.reordered,
    p50Ms: r.latencyUs.p50 / 1000,
    p99Ms: r.latencyUs.p99 / 1000,
    p999Ms: r.latencyUs.p999 / 1000,
    relayCpuPct: cpuUs === undefined || wallUs === undefined ? undefined : (cpuUs / wallUs) * 100,
    relayUsPerPacket: cpuUs === undefined || r.sent === 0 ? undefined : cpuUs / r.sent,
    relayElu: after?.elu,
    relayThreads: threads,
    generatorCpuPct: r.cpuPct,
    generatorElu: r.elu,
    sendLateP99Ms: r.sendLateMs.p99,
  };
}

const fmt = (v: number | undefined, digits: number): string => (v === undefined ? '-' : v.toFixed(digits));

/**
 * CPU busy in the window that is neither the relay nor the generator (other processes, unattributed kernel work).
 * With generator.c it runs negative: /proc/stat samples busy per tick and misses most of its ~10,000 short
 * wake-ups a second, while its own CPU (getrusage) counts them; compare it only between rows of one generator.
 */
function otherLoad(r: Row): number {
  const busy = Object.values(r.coreBusyPct).reduce((sum, pct) => sum + pct, 0);
  return busy - (r.relayCpuPct ?? 0) - r.generatorCpuPct;
}

function printTable(rows: readonly Row[]): void {
  const header = [
    'target',
    'generator',
    'streams',
    'packets sent',
    'loss %',
    'reordered',
    'p50 ms',
    'p99 ms',
    'p99.9 ms',
    'relay CPU % (1 core)',
    'relay µs/packet',
    'generator CPU %',
    'gen send late p99 ms',
    'CPU0 / CPU1 busy %',
    'other load %',
  ];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`| ${header.map(() => '---').join(' | ')} |`);
  for (const r of rows) {
    const name =
      r.target === 'rtpengine' && r.relayThreads !== undefined
        ? `rtpengine (${r.relayThreads} thr)`
        : r.target;
    console.log(
      `| ${[
        name,
        r.generator,
        r.streams,
        `${r.sent.toLocaleString('en-US')}${r.sent < r.scheduled ? ` (of ${r.scheduled.toLocaleString('en-US')})` : ''}`,
        r.lossPct.toFixed(4),
        r.reordered,
        fmt(r.p50Ms, 3),
        fmt(r.p99Ms, 3),
        fmt(r.p999Ms, 3),
        fmt(r.relayCpuPct, 1),
        fmt(r.relayUsPerPacket, 2),
        fmt(r.generatorCpuPct, 1),
        fmt(r.sendLateP99Ms, 1),
        `${fmt(r.coreBusyPct.cpu0, 0)} / ${fmt(r.coreBusyPct.cpu1, 0)}`,
        fmt(otherLoad(r), 0),
      ].join(' | ')} |`,
    );
  }
}

/**
 * Ratios between targets, each pair taken from the same round (a sippbx row of one round is never
 * compared with an rtpengine row of another), listed per round, with the p99 medians over the rounds.
 */
function printRatios(all: readonly Row[]): void {
  const find = (target: string, streams: number, round: number): Row | undefined =>
    all.find((r) => r.target === target && r.streams === streams && r.round === round);
  const cpu = (x: Row | undefined, y: Row | undefined): number | undefined =>
    x?.relayUsPerPacket !== undefined && y?.relayUsPerPacket !== undefined
      ? x.relayUsPerPacket / y.relayUsPerPacket
      : undefined;
  const p99 = (x: Row | undefined, y: Row | undefined): number | undefined =>
    x !== undefined && y !== undefined ? x.p99Ms / y.p99Ms : undefined;
  const pairs: [string, string, string, typeof cpu][] = [
    ['CPU/packet', 'sippbx', 'rtpengine', cpu],
    ['p99', 'sippbx', 'rtpengine', p99],
    ['CPU/packet', 'sippbx-node', 'rtpengine', cpu],
    ['CPU/packet', 'sippbx', 'sippbx-node', cpu],
    ['CPU/packet', 'sippbx', 'node-floor', cpu],
  ];
  const rounds = [...new Set(all.map((r) => r.round))].sort((x, y) => x - y);
  console.log(`\nratios within each round (rounds ${rounds.map((r) => r + 1).join(', ')}):`);
  console.log(
    `| streams | ${pairs.map(([what, x, y]) => `${what} ${x}/${y}`).join(' | ')} | median p99 ms sippbx / rtpengine |`,
  );
  console.log(`|${' --- |'.repeat(pairs.length + 2)}`);
  for (const streams of streamCounts) {
    const cells = pairs.map(([, x, y, ratio]) =>
      rounds.map((round) => fmt(ratio(find(x, streams, round), find(y, streams, round)), 2)).join(', '),
    );
    const medianP99 = (target: string): string =>
      fmt(median(all.filter((r) => r.target === target && r.streams === streams).map((r) => r.p99Ms)), 3);
    console.log(`| ${streams} | ${cells.join(' | ')} | ${medianP99('sippbx')} / ${medianP99('rtpengine')} |`);
  }
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  if (streamCounts.some((n) => !Number.isInteger(n) || n <= 0 || n % 2 !== 0 || n > 8000)) {
    throw new Error('--streams takes even counts up to 8000 (each call carries two streams)');
  }
  if (!(seconds > 0 && seconds <= 120) || !(warmup >= 0 && warmup <= 30) || !(repeat >= 1 && repeat <= 5)) {
    throw new Error('--seconds must be in (0, 120], --warmup in [0, 30] and --repeat in [1, 5]');
  }
  if (generatorKind !== 'c' && generatorKind !== 'node') throw new Error('--generator takes c or node');
  if (tickMs !== undefined && !(Number(tickMs) >= 0.01 && Number(tickMs) <= 100)) {
    throw new Error('--tick-ms takes a number of milliseconds in [0.01, 100]');
  }
  if (generatorKind === 'c') buildGenerator();
  if (targetNames.includes('rtpengine') && findExecutable('rtpengine') === undefined) {
    throw new Error(
      'rtpengine not found: install Debian package rtpengine-daemon (apt-get install rtpengine-daemon)',
    );
  }
  console.log(
    `node ${process.version}; ${seconds} s measured after ${warmup} s warm-up; relay on CPU ${relayCpus}, ` +
      `generator ${generatorKind === 'c' ? 'generator.c' : 'generator.ts'} on CPU ${generatorCpus}` +
      `${tickMs === undefined ? '' : ` (tick ${tickMs} ms)`}; rtpengine --num-threads=${rtpengineThreadsArg}; ` +
      `two-way calls, 50 packets/s per stream, 172-byte packets`,
  );
  const started = Date.now();
  const all: Row[] = [];
  for (let round = 0; round < repeat; round++) {
    for (const streams of streamCounts) {
      // Later rounds only while the time budget lasts (about seconds + warmup + 8 s per measurement).
      const left = budgetMinutes * 60_000 - (Date.now() - started);
      if (round > 0 && left < targetNames.length * (seconds + warmup + 8) * 1000) break;
      for (const name of targetNames) {
        try {
          const row = { ...(await measure(name, streams)), round };
          all.push(row);
          console.error(`done: ${name} ${streams} streams: ${JSON.stringify(row)}`);
        } catch (error) {
          if (name === 'rtpengine' && findExecutable('rtpengine') === undefined) throw error;
          console.error(
            `failed: ${name} ${streams} streams: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
  }
  if (repeat > 1) {
    console.log(`\nevery run (${all.length}):`);
    printTable(all);
    console.log(`\nquietest run of each (least "other load"):`);
  }
  const rows = quietest(all);
  printTable(rows);
  printRatios(all);
  if (jsonFile !== undefined) {
    writeFileSync(jsonFile, `${JSON.stringify({ generator: generatorKind, all, rows }, null, 2)}\n`);
  }
}

/** Per (target, streams), the run with the least load from outside the benchmark. */
function quietest(all: readonly Row[]): Row[] {
  const best = new Map<string, Row>();
  for (const row of all) {
    const key = `${row.streams}/${row.target}/${row.generator}`;
    const current = best.get(key);
    if (current === undefined || otherLoad(row) < otherLoad(current)) best.set(key, row);
  }
  return [...best.values()];
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
