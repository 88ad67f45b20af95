/**
 * Calls through the pbx: calls-per-second and concurrent-call benchmarks with SIPp, the sippbx B2BUA and
 * Kamailio (transaction-stateful proxy, bench/calls/kamailio.cfg) side by side in the same run, plus
 * memory per held call. See docs/benchmarks.md "Calls through the pbx (bench/calls)".
 *
 * Usage: node dist/bench/calls/run.js [--rates 200,400,600,800,1000] [--seconds 20] [--hold-ms 1000]
 *          [--servers pbx,kamailio] [--concurrency 1000,2500,4500] [--concurrency-rate 250]
 *          [--concurrency-servers pbx,kamailio] [--concurrency-sdp none|offer] [--server-cpus 1] [--load-cpus 0]
 *          [--media-ports 20000-32760] [--stop-fail-pct 5] [--profile-rate auto|none|N] [--profile-dir DIR] [--pbx-node-flags '--perf-basic-prof']
 *          [--latency-rates 200,500] [--latency-servers pbx,kamailio]
 *          [--overload-rate none|2x|N] [--overload-seconds 30] [--overload-servers pbx]
 *          [--budget-minutes 14] [--quiet-pct 20] [--quiet-wait-s 60] [--json FILE]
 *
 * Load: SIPp UAC and UAS (bench/calls/uac.xml, uas.xml: INVITE with SDP, 100, 180, 200 with SDP, ACK,
 * `--hold-ms` pause, BYE, 200; no RTP) pinned to --load-cpus; the server under test to --server-cpus.
 * Each (server, rate) runs on a fresh server and UAS, rates interleaved pbx, kamailio, pbx, ...
 * `--hold-ms 0` hangs up right after the ACK (sipp.ts: SIPp waits 1 ms for a late 100/180).
 * Latency (`--latency-rates`) and overload (`--overload-rate`) runs place the calls with bench/calls/uac.ts
 * instead of SIPp (same call flow, INVITE->200 timed with process.hrtime: SIPp's rtt moves in 4 ms steps).
 * Overload offers `2x` the highest rate the pbx sustained in this run's rate table (or N calls/s) for
 * `--overload-seconds` and reports goodput, 503s and time to 503, p99 setup of admitted calls, and
 * `sippbx_calls_active` from /metrics 10-35 s after the offered load stopped (must come back to 0).
 * The concurrency run is signaling-only by default (`--concurrency-sdp none`: the same scenarios with
 * their SDP bodies removed, so calls hold no relay ports); `offer` keeps the SDP.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coreBusy, coreTimes, cpuSeconds, freeUdpPort, sleep, waitForQuiet } from './proc.js';
import { selfByArea, topFrames } from '../common/profile.js';
import type { Frame } from '../common/profile.js';
import { captureOutput, startKamailio, startPbx } from './servers.js';
import type { Memory, RunningServer, ServerOptions, ServerPaths } from './servers.js';
import {
  killAll,
  num,
  spawnPinned,
  signalingOnlyPaths,
  readStat,
  sippControl,
  startUac,
  startUas,
  stopOwned,
  uacArgs,
  uacResult,
} from './sipp.js';
import type { Owned, SippPaths, UacOptions, UacResult } from './sipp.js';
import type { UacReport } from './uac.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '../../..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

const list = (s: string): string[] => s.split(',').filter((x) => x !== '');
const rates = list(arg('rates', '200,400,600,800,1000')).map(Number);
const seconds = Number(arg('seconds', '20'));
const holdMs = Number(arg('hold-ms', '1000'));
const serverNames = list(arg('servers', 'pbx,kamailio'));
const concurrencySteps = list(arg('concurrency', '1000,2500,4500')).map(Number);
const concurrencyRate = Number(arg('concurrency-rate', '250'));
const concurrencyServers = list(arg('concurrency-servers', 'pbx,kamailio'));
const concurrencySdp = ((v: string): 'none' | 'offer' => {
  if (v !== 'none' && v !== 'offer') throw new Error(`--concurrency-sdp: none | offer (got ${v})`);
  return v;
})(arg('concurrency-sdp', 'none'));
const serverCpus = arg('server-cpus', '1');
const loadCpus = arg('load-cpus', '0');
const stopFailPct = Number(arg('stop-fail-pct', '5'));
const profileRate = arg('profile-rate', 'auto');
const profileDir = arg('profile-dir', join(tmpdir(), 'sippbx-calls-prof'));
const budgetMs = Number(arg('budget-minutes', '14')) * 60_000;
const quietPct = Number(arg('quiet-pct', '20'));
const quietWaitMs = Number(arg('quiet-wait-s', '60')) * 1000;
/**
 * The pbx's `media.portRange`. The default stays below Linux's ephemeral ports (32768-60999): a block whose
 * ports another process's ephemeral socket holds fails to bind and is quarantined, and runs of such blocks
 * end in 503 (seen with other jobs on the machine).
 */
const mediaPorts = ((v: string): [number, number] => {
  const [start, end] = v.split('-').map(Number);
  if (start === undefined || end === undefined || !(start < end))
    throw new Error(`--media-ports START-END (got ${v})`);
  return [start, end];
})(arg('media-ports', '20000-32760'));
/** Extra Node flags for the pbx, space-separated (e.g. `--perf-basic-prof` to `perf record` its JS frames). */
const pbxNodeFlags = list(arg('pbx-node-flags', '').replaceAll(' ', ','));
const latencyRates = list(arg('latency-rates', '')).map(Number);
const latencyServers = list(arg('latency-servers', 'pbx,kamailio'));
const overloadRate = arg('overload-rate', 'none');
const overloadSeconds = Number(arg('overload-seconds', '30'));
const overloadServers = list(arg('overload-servers', 'pbx'));
const jsonFile = process.argv.includes('--json') ? arg('json', 'calls.json') : undefined;

const sippPaths: SippPaths = {
  uasScenario: join(repoRoot, 'bench/calls/uas.xml'),
  uacScenario: join(repoRoot, 'bench/calls/uac.xml'),
};
const serverPaths: ServerPaths = {
  repoRoot,
  kamailioCfg: arg('kamailio-cfg', join(repoRoot, 'bench/calls/kamailio.cfg')),
};
const startedAt = Date.now();
const overBudget = (): boolean => Date.now() - startedAt > budgetMs;

/** The sustained-rate target of issue 4 (calls/s with < 0.1% failures on one core). */
const TARGET_CPS = 500;
const MAX_FAIL_PCT = 0.1;

/** One (server, rate) measurement. */
interface RateRow {
  server: string;
  rate: number;
  uac: UacResult;
  failPct: number;
  /** Server CPU over the `--seconds` window in which calls are offered, % of one core. */
  serverCpuPct: number;
  /** Server CPU for the whole run divided by calls created. */
  serverCpuMsPerCall: number;
  uacCpuPct: number;
  uasCpuPct: number;
  /** Peak over the run: RSS summed over the server's processes, and PSS (shared pages once). */
  peakRssMB: number;
  peakPssMB: number;
  /** pbx only: calls still active 1 s after SIPp finished, and `sippbx_calls_total` by result. */
  activeAfter?: number;
  callsTotal?: Record<string, number>;
  coreBusyPct: Record<string, number>;
  profiled: boolean;
}

/** One plateau of the concurrency run. */
interface PlateauRow {
  server: string;
  label: string;
  /** Calls up at the plateau: the pbx's `sippbx_calls_active`, else SIPp's current calls. */
  active: number;
  sippCurrent: number;
  rssMB: number;
  pssMB: number;
  heapMB: number | undefined;
  rssPerCallKB: number | undefined;
  heapPerCallKB: number | undefined;
  marginalRssKB: number | undefined;
  marginalHeapKB: number | undefined;
}

const MB = 1024 * 1024;

function startServer(name: string, o: ServerOptions): Promise<RunningServer> {
  if (name === 'pbx') return startPbx(serverPaths, o);
  if (name === 'pbx-node') return startPbx(serverPaths, { ...o, relayEngine: 'node' });
  if (name === 'kamailio') return startKamailio(serverPaths, o);
  throw new Error(`unknown server ${name} (pbx | pbx-node | kamailio)`);
}

/** A fresh work dir, UAS and server; `body` runs the load; everything is stopped afterwards. */
async function withServer<T>(
  name: string,
  extra: Partial<ServerOptions>,
  body: (server: RunningServer, uas: Owned, dir: string, paths: SippPaths) => Promise<T>,
  signaling: 'offer' | 'none' = 'offer',
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `sippbx-calls-${name}-`));
  const paths = signaling === 'none' ? signalingOnlyPaths(sippPaths, dir) : sippPaths;
  const uasPort = await freeUdpPort();
  const uas = startUas(paths, uasPort, loadCpus, dir);
  let server: RunningServer | undefined;
  try {
    const base = { uasPort, cpus: serverCpus, dir, maxCalls: 6000, mediaPorts, nodeFlags: pbxNodeFlags };
    server = await startServer(name, { ...base, ...extra });
    return await body(server, uas, dir, paths);
  } catch (err) {
    if (server !== undefined) process.stderr.write(`${name} stderr:\n${server.stderrTail()}\n`);
    throw err;
  } finally {
    await server?.stop();
    await stopOwned(uas);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the UAC to completion (killed `timeoutS` + 15 s after start at the latest). */
async function runUac(
  o: UacOptions,
  during?: (uac: Owned) => Promise<void>,
  paths: SippPaths = sippPaths,
): Promise<Owned> {
  const uac = startUac(paths, o);
  const stderr = captureOutput(uac);
  const killer = setTimeout(() => uac.child.kill('SIGKILL'), (o.timeoutS + 15) * 1000);
  await during?.(uac);
  const code = await uac.exited;
  clearTimeout(killer);
  // SIPp exits 0 (all calls ok) or 1 (some failed); anything else is its own trouble
  if (code !== 0 && code !== 1)
    console.error(`  sipp UAC exited ${String(code)}: ${stderr().trim().slice(-600)}`);
  return uac;
}

async function rateRun(name: string, rate: number, profile: boolean): Promise<RateRow> {
  const quiet = await waitForQuiet(quietPct, quietWaitMs);
  if (Object.values(quiet).some((b) => b >= quietPct)) {
    console.error(`warning: CPUs busy before ${name} @ ${rate}/s: ${JSON.stringify(quiet)}`);
  }
  const extra = profile ? { cpuProfileDir: profileDir } : {};
  return withServer(name, extra, async (server, uas, dir) => {
    const o: UacOptions = {
      target: `127.0.0.1:${server.sipPort}`,
      localPort: await freeUdpPort(),
      controlPort: await freeUdpPort(),
      rate,
      calls: rate * seconds,
      holdMs,
      limit: rate * (holdMs / 1000 + 40),
      timeoutS: seconds + Math.ceil(holdMs / 1000) + 20,
      cpus: loadCpus,
      dir,
    };
    let peakRss = 0;
    let peakPss = 0;
    let window: { server: number; uac: number; uas: number; cores: Record<string, number> } | undefined;
    const serverCpu0 = server.cpuSeconds();
    let started: { t0: number; s0: number; c0: ReturnType<typeof coreTimes> } | undefined;
    await runUac(o, async (uac) => {
      const t0 = Date.now();
      const [s0, a0, b0, c0] = [server.cpuSeconds(), cpuSeconds(uac.pid), cpuSeconds(uas.pid), coreTimes()];
      started = { t0, s0, c0 };
      let done = false;
      void uac.exited.then(() => (done = true));
      while (!done) {
        const m = server.procMemory();
        peakRss = Math.max(peakRss, m.rssBytes);
        peakPss = Math.max(peakPss, m.pssBytes);
        if (window === undefined && Date.now() - t0 >= seconds * 1000) {
          const s = (Date.now() - t0) / 1000;
          window = {
            server: ((server.cpuSeconds() - s0) / s) * 100,
            uac: ((cpuSeconds(uac.pid) - a0) / s) * 100,
            uas: ((cpuSeconds(uas.pid) - b0) / s) * 100,
            cores: coreBusy(c0, coreTimes()),
          };
        }
        await Promise.race([sleep(500), uac.exited]);
      }
    });
    // Hold 0: SIPp can finish right at --seconds, before the loop above took its window.
    if (window === undefined && started !== undefined) {
      const s = (Date.now() - started.t0) / 1000;
      const cpu = ((server.cpuSeconds() - started.s0) / s) * 100;
      window = { server: cpu, uac: NaN, uas: NaN, cores: coreBusy(started.c0, coreTimes()) };
    }
    const serverCpuTotal = server.cpuSeconds() - serverCpu0;
    await sleep(1000);
    const uacRes = uacResult(dir);
    const after = await server.memory();
    const callsTotal = await server.callsTotal?.();
    return {
      server: name,
      rate,
      uac: uacRes,
      failPct: (uacRes.failed / Math.max(1, uacRes.created)) * 100,
      serverCpuPct: window?.server ?? NaN,
      serverCpuMsPerCall: (serverCpuTotal * 1000) / Math.max(1, uacRes.created),
      uacCpuPct: window?.uac ?? NaN,
      uasCpuPct: window?.uas ?? NaN,
      peakRssMB: peakRss / MB,
      peakPssMB: peakPss / MB,
      ...(after.callsActive === undefined ? {} : { activeAfter: after.callsActive }),
      ...(callsTotal === undefined ? {} : { callsTotal }),
      coreBusyPct: window?.cores ?? {},
      profiled: profile,
    };
  });
}

/** Memory after a full GC when the server can do one (pbx with --expose-gc). */
async function settledMemory(server: RunningServer): Promise<Memory> {
  await server.collectGarbage?.();
  return server.memory();
}

function sippCurrentCalls(dir: string): number {
  return num(readStat(join(dir, 'stat.csv')).at(-1), 'CurrentCall');
}

function plateauRow(
  server: string,
  label: string,
  m: Memory,
  sippCurrent: number,
  idle: Memory,
  prev: { active: number; m: Memory } | undefined,
): PlateauRow {
  const active = m.callsActive ?? sippCurrent;
  const perCall = (now: number | undefined, then: number | undefined, calls: number): number | undefined =>
    now === undefined || then === undefined || calls <= 0 ? undefined : (now - then) / 1024 / calls;
  const base = server === 'kamailio' ? 'pssBytes' : 'rssBytes';
  return {
    server,
    label,
    active,
    sippCurrent,
    rssMB: m.rssBytes / MB,
    pssMB: m.pssBytes / MB,
    heapMB: m.heapUsedBytes === undefined ? undefined : m.heapUsedBytes / MB,
    rssPerCallKB: perCall(m[base], idle[base], active),
    heapPerCallKB: perCall(m.heapUsedBytes, idle.heapUsedBytes, active),
    marginalRssKB: prev === undefined ? undefined : perCall(m[base], prev.m[base], active - prev.active),
    marginalHeapKB:
      prev === undefined ? undefined : perCall(m.heapUsedBytes, prev.m.heapUsedBytes, active - prev.active),
  };
}

/** Waits until `count()` reaches `target` or `maxMs` passes. */
async function until(count: () => Promise<number>, target: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline && (await count()) < target) await sleep(250);
}

async function concurrencyRun(name: string, steps: readonly number[]): Promise<PlateauRow[]> {
  const maxCalls = Math.max(...steps);
  const settleS = 4;
  const rampS = maxCalls / concurrencyRate + steps.length * (settleS + 3);
  const hold = Math.ceil(rampS + 15) * 1000;
  await waitForQuiet(quietPct, quietWaitMs);
  const extra = { exposeGc: true, maxCalls: maxCalls + 500 };
  return withServer(
    name,
    extra,
    async (server, _uas, dir, paths) => {
      const rows: PlateauRow[] = [];
      await sleep(1000);
      const idle = await settledMemory(server);
      rows.push(plateauRow(name, 'idle', idle, 0, idle, undefined));
      const o: UacOptions = {
        target: `127.0.0.1:${server.sipPort}`,
        localPort: await freeUdpPort(),
        controlPort: await freeUdpPort(),
        rate: concurrencyRate,
        calls: maxCalls,
        holdMs: hold,
        limit: maxCalls + 100,
        timeoutS: Math.ceil(hold / 1000 + maxCalls / concurrencyRate + 30),
        cpus: loadCpus,
        dir,
      };
      // the pbx counts its calls; for Kamailio (no dialog state) estimate from SIPp's rate and unpaused time
      let unpausedMs = 0;
      let resumedAt = Date.now();
      const count = async (): Promise<number> =>
        (await server.memory()).callsActive ??
        Math.min(maxCalls, ((unpausedMs + Date.now() - resumedAt) / 1000) * concurrencyRate);
      const pause = async (): Promise<void> => {
        await sippControl(o.controlPort, 'p');
        unpausedMs += Date.now() - resumedAt;
      };
      const resume = async (): Promise<void> => {
        await sippControl(o.controlPort, 'p');
        resumedAt = Date.now();
      };
      let prev: { active: number; m: Memory } | undefined;
      await runUac(
        o,
        async () => {
          resumedAt = Date.now();
          for (const step of steps) {
            await until(count, step, (step / concurrencyRate + 20) * 1000);
            if (step !== maxCalls) await pause();
            await sleep(settleS * 1000);
            const m = await settledMemory(server);
            const row = plateauRow(name, `${step}`, m, sippCurrentCalls(dir), idle, prev);
            rows.push(row);
            prev = { active: row.active, m };
            console.error(`  ${name} plateau ${step}: active ${row.active}, RSS ${row.rssMB.toFixed(1)} MB`);
            if (step !== maxCalls) await resume();
          }
        },
        paths,
      );
      await sleep(2000);
      const after = await settledMemory(server);
      rows.push(plateauRow(name, 'after all hung up', after, sippCurrentCalls(dir), idle, undefined));
      // ended calls' transactions linger for Timer J/D (64*T1 = 32 s, RFC 3261 §17): memory must return after
      await sleep(35_000);
      const expired = await settledMemory(server);
      rows.push(plateauRow(name, '35 s later', expired, sippCurrentCalls(dir), idle, undefined));
      const res = uacResult(dir);
      console.error(`  ${name} concurrency: ${res.successful}/${res.created} calls completed`);
      if (res.failed > 0) {
        console.error(`  failures: ${JSON.stringify(res.failureKinds)}`);
        if (res.errorSample !== '') console.error(res.errorSample.slice(0, 700));
      }
      return rows;
    },
    concurrencySdp,
  );
}

const fmt = (v: number | undefined, digits = 1): string =>
  v === undefined || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits });

function sustained(rows: readonly RateRow[], server: string): RateRow | undefined {
  return rows
    .filter((r) => r.server === server && !r.profiled)
    .filter((r) => r.failPct < MAX_FAIL_PCT && r.uac.achievedRate >= r.rate * 0.95)
    .sort((a, b) => b.rate - a.rate)[0];
}

function printRates(rows: readonly RateRow[]): void {
  console.log(
    '\n| server | offered calls/s | achieved calls/s | attempted | successful | failed | failure % | retrans | INVITE→200 p50 / p99 / max ms | server CPU % | server CPU ms/call | server RSS MB (peak) | SIPp UAC / UAS CPU % | cpu0 / cpu1 busy % |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const u = r.uac;
    const kinds = Object.entries(u.failureKinds)
      .map(([k, v]) => `${k.replace(/^Failed/, '')} ${v}`)
      .join(', ');
    const mem = r.server === 'kamailio' ? `${fmt(r.peakRssMB)} (PSS ${fmt(r.peakPssMB)})` : fmt(r.peakRssMB);
    console.log(
      `| ${r.server}${r.profiled ? ' (profiling)' : ''} | ${r.rate} | ${fmt(u.achievedRate, 0)} | ${u.created} | ${u.successful} | ${u.failed} | ${fmt(r.failPct, 2)}${kinds === '' ? '' : ` (${kinds})`} | ${u.retransmissions} | ${fmt(u.inviteTo200Ms.p50, 0)} / ${fmt(u.inviteTo200Ms.p99, 0)} / ${fmt(u.inviteTo200Ms.max, 0)} | ${fmt(r.serverCpuPct, 0)} | ${fmt(r.serverCpuMsPerCall, 3)} | ${mem} | ${fmt(r.uacCpuPct, 0)} / ${fmt(r.uasCpuPct, 0)} | ${fmt(r.coreBusyPct['cpu0'], 0)} / ${fmt(r.coreBusyPct['cpu1'], 0)} |`,
    );
  }
  const best = new Map(serverNames.map((s) => [s, sustained(rows, s)]));
  console.log(
    '\n| server | sustained calls/s (< 0.1% failed) | server CPU % there | CPU ms/call there | meets ≥ 500/s |',
  );
  console.log('| --- | --- | --- | --- | --- |');
  for (const [s, r] of best) {
    console.log(
      `| ${s} | ${r?.rate ?? 'none'} | ${fmt(r?.serverCpuPct, 0)} | ${fmt(r?.serverCpuMsPerCall, 3)} | ${s === 'pbx' ? ((r?.rate ?? 0) >= TARGET_CPS ? 'yes' : 'no') : '–'} |`,
    );
  }
  const p = best.get('pbx');
  const k = best.get('kamailio');
  if (p !== undefined && k !== undefined) {
    console.log(`\nratio pbx / kamailio, sustained rate: ${fmt(p.rate / k.rate, 2)}`);
  }
  for (const rate of rates) {
    const pr = rows.find((r) => r.server === 'pbx' && r.rate === rate && !r.profiled);
    const kr = rows.find((r) => r.server === 'kamailio' && r.rate === rate);
    if (pr !== undefined && kr !== undefined) {
      console.log(
        `ratio pbx / kamailio at ${rate}/s: CPU ms per call ${fmt(pr.serverCpuMsPerCall / kr.serverCpuMsPerCall, 2)}, INVITE→200 p99 ${fmt(pr.uac.inviteTo200Ms.p99, 0)} vs ${fmt(kr.uac.inviteTo200Ms.p99, 0)} ms`,
      );
    }
  }
}

function printPlateaus(rows: readonly PlateauRow[]): void {
  console.log(
    '\n| server | plateau | calls active | SIPp current calls | RSS MB | PSS MB | heap used MB (after GC) | memory per call KB (vs idle) | heap per call KB (vs idle) | marginal memory KB/call (vs previous plateau) | marginal heap KB/call |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.server} | ${r.label} | ${r.active} | ${fmt(r.sippCurrent, 0)} | ${fmt(r.rssMB)} | ${fmt(r.pssMB)} | ${fmt(r.heapMB)} | ${fmt(r.rssPerCallKB)} | ${fmt(r.heapPerCallKB)} | ${fmt(r.marginalRssKB)} | ${fmt(r.marginalHeapKB)} |`,
    );
  }
  console.log('(memory per call: pbx from RSS, kamailio from PSS summed over its processes)');
}

function printProfile(file: string, row: RateRow): Frame[] {
  const { busyS, idleS, frames } = topFrames(file, 25);
  console.log(
    `\nCPU profile of ${row.server} at ${row.rate} calls/s (${fmt(row.failPct, 2)}% failed): busy ${fmt(busyS, 2)} s, idle ${fmt(idleS, 2)} s`,
  );
  console.log('\n| self % of busy | self ms | function |');
  console.log('| --- | --- | --- |');
  for (const f of frames) console.log(`| ${fmt(f.selfPct)} | ${fmt(f.selfMs, 0)} | \`${f.frame}\` |`);
  console.log('\n| area | self % of busy |');
  console.log('| --- | --- |');
  for (const a of selfByArea(file).slice(0, 15)) console.log(`| ${a.area} | ${fmt(a.selfPct)} |`);
  return frames;
}

function pickProfileRate(rows: readonly RateRow[]): number | undefined {
  if (profileRate === 'none') return undefined;
  if (profileRate !== 'auto') return Number(profileRate);
  const pbx = rows.filter((r) => r.server === 'pbx');
  const failing = pbx.filter((r) => r.failPct >= MAX_FAIL_PCT).sort((a, b) => b.rate - a.rate)[0];
  if (failing !== undefined) return failing.rate;
  const best = sustained(rows, 'pbx');
  return best === undefined || best.rate >= TARGET_CPS ? undefined : best.rate;
}

/** One run of our own UAC (bench/calls/uac.ts) against a server. */
interface OwnUacRow {
  server: string;
  rate: number;
  report: UacReport;
  serverCpuPct: number;
  serverCpuMsPerCall: number;
  /** pbx only: `sippbx_calls_active` at seconds after the offered load stopped. */
  activeAfter: { s: number; active: number }[];
}

/** Runs bench/calls/uac.js pinned to the load CPUs; `during` runs while it does. */
async function ownUac(args: string[], dir: string, during?: () => Promise<void>): Promise<UacReport> {
  const uac = spawnPinned(loadCpus, process.execPath, [join(here, 'uac.js'), ...args], dir, 'pipe');
  let out = '';
  uac.child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  const stderr = captureOutput(uac);
  const killer = setTimeout(
    () => uac.child.kill('SIGKILL'),
    (Number(args[args.indexOf('--seconds') + 1]) + 120) * 1000,
  );
  await during?.();
  await uac.exited;
  clearTimeout(killer);
  const line = out.trim().split('\n').at(-1) ?? '';
  if (!line.startsWith('{')) throw new Error(`uac.js gave no report: ${stderr().slice(-600)}`);
  return JSON.parse(line) as UacReport;
}

/** A latency or overload run: fresh server and UAS, our UAC at `rate` for `secs`. */
async function ownUacRun(name: string, rate: number, secs: number, watchAfter: boolean): Promise<OwnUacRow> {
  await waitForQuiet(quietPct, quietWaitMs);
  return withServer(name, {}, async (server, _uas, dir) => {
    const args = [
      '--target',
      `127.0.0.1:${server.sipPort}`,
      '--rate',
      String(rate),
      '--seconds',
      String(secs),
    ];
    args.push('--hold-ms', String(holdMs), '--warmup-s', String(Math.min(3, secs / 5)));
    const c0 = server.cpuSeconds();
    const t0 = Date.now();
    let windowCpu = NaN;
    const activeAfter: { s: number; active: number }[] = [];
    const report = await ownUac(args, dir, async () => {
      await sleep(secs * 1000);
      windowCpu = ((server.cpuSeconds() - c0) / ((Date.now() - t0) / 1000)) * 100;
      if (!watchAfter) return;
      // The offered load has stopped: calls must drain to 0 (RFC 3261 timers bound what lingers to 32 s).
      const stoppedAt = Date.now();
      for (const s of [10, 15, 20, 25, 30, 35]) {
        await sleep(Math.max(0, stoppedAt + s * 1000 - Date.now()));
        activeAfter.push({ s, active: (await server.memory()).callsActive ?? NaN });
      }
    });
    const cpuTotal = server.cpuSeconds() - c0;
    return {
      server: name,
      rate,
      report,
      serverCpuPct: windowCpu,
      serverCpuMsPerCall: (cpuTotal * 1000) / Math.max(1, report.created),
      activeAfter,
    };
  });
}

const ms3 = (v: number | undefined): string => fmt(v, 3);

function printLatency(rows: readonly OwnUacRow[]): void {
  console.log(
    `\n| server | offered calls/s | hold ms | attempted | completed | failed | INVITE→200 p50 / p90 / p99 / max ms | UAC send lag p99 ms | server CPU % | server CPU ms/call |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const u = r.report;
    const l = u.inviteTo200Ms;
    const failed = u.created - u.completed;
    console.log(
      `| ${r.server} | ${r.rate} | ${u.holdMs} | ${u.created} | ${u.completed} | ${failed} | ${ms3(l.p50)} / ${ms3(l.p90)} / ${ms3(l.p99)} / ${ms3(l.max)} | ${ms3(u.sendLagMs.p99)} | ${fmt(r.serverCpuPct, 0)} | ${fmt(r.serverCpuMsPerCall, 3)} |`,
    );
  }
}

function printOverload(rows: readonly OwnUacRow[]): void {
  console.log(
    '\n| server | offered calls/s | seconds | attempted | goodput calls/s | rejected (by status) | failed (by reason) | time to 503 p50 / p99 / max ms | admitted INVITE→200 p50 / p99 ms | server CPU % | calls active 10/15/20/25/30/35 s after |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const u = r.report;
    const t503 = u.inviteToRejectMs['503'];
    const kinds = (o: Record<string, number>): string =>
      Object.entries(o)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ') || '0';
    console.log(
      `| ${r.server} | ${r.rate} | ${u.seconds} | ${u.created} | ${fmt(u.goodput)} | ${kinds(u.rejected)} | ${kinds(u.failed)} | ${t503 === undefined ? '–' : `${ms3(t503.p50)} / ${ms3(t503.p99)} / ${ms3(t503.max)}`} | ${ms3(u.inviteTo200Ms.p50)} / ${ms3(u.inviteTo200Ms.p99)} | ${fmt(r.serverCpuPct, 0)} | ${r.activeAfter.map((a) => a.active).join(' / ')} |`,
    );
  }
}

/** The overload run's offered rate: `2x` the pbx's sustained rate in this run, or a number. */
function pickOverloadRate(rows: readonly RateRow[]): number | undefined {
  if (overloadRate === 'none') return undefined;
  const x = /^(\d+(?:\.\d+)?)x$/.exec(overloadRate);
  if (x === null) return Number(overloadRate);
  const best = sustained(rows, 'pbx') ?? sustained(rows, 'pbx-node');
  if (best === undefined) {
    console.error('--overload-rate Nx: no sustained pbx rate in this run; pass calls/s instead');
    return undefined;
  }
  return Math.round(best.rate * Number(x[1]));
}

async function main(): Promise<void> {
  const example: UacOptions = {
    target: '127.0.0.1:SERVER_PORT',
    localPort: 0,
    controlPort: 0,
    rate: rates[0] ?? 0,
    calls: (rates[0] ?? 0) * seconds,
    holdMs,
    limit: 0,
    timeoutS: 0,
    cpus: loadCpus,
    dir: '.',
  };
  console.log(`# bench/calls  ${new Date().toISOString()}`);
  console.log(`UAC: taskset -c ${loadCpus} sipp ${uacArgs(sippPaths, example).join(' ')}`);
  console.log(
    `UAS: taskset -c ${loadCpus} sipp -sf bench/calls/uas.xml -i 127.0.0.1 -p UAS_PORT -t u1 -nostdin`,
  );
  const rateRows: RateRow[] = [];
  const stopped = new Set<string>();
  for (const rate of rates) {
    for (const name of serverNames) {
      if (stopped.has(name) || overBudget()) continue;
      const row = await rateRun(name, rate, false);
      rateRows.push(row);
      console.error(
        `  ${name} @ ${rate}/s: ${row.uac.successful}/${row.uac.created} ok (${fmt(row.failPct, 2)}% failed), CPU ${fmt(row.serverCpuPct, 0)}%, p99 ${fmt(row.uac.inviteTo200Ms.p99, 0)} ms`,
      );
      if (row.uac.failed > 0 && row.uac.errorSample !== '') console.error(row.uac.errorSample.slice(0, 700));
      if (row.failPct >= stopFailPct) stopped.add(name);
    }
  }
  printRates(rateRows);

  const latencyRows: OwnUacRow[] = [];
  for (const rate of latencyRates) {
    for (const name of latencyServers) {
      if (overBudget()) continue;
      const row = await ownUacRun(name, rate, seconds, false);
      latencyRows.push(row);
      console.error(`  latency ${name} @ ${rate}/s: p99 ${ms3(row.report.inviteTo200Ms.p99)} ms`);
    }
  }
  if (latencyRows.length > 0) printLatency(latencyRows);

  const overloadRows: OwnUacRow[] = [];
  const overload = pickOverloadRate(rateRows);
  for (const name of overload === undefined ? [] : overloadServers) {
    if (overBudget() || overload === undefined) continue;
    const row = await ownUacRun(name, overload, overloadSeconds, name.startsWith('pbx'));
    overloadRows.push(row);
    console.error(`  overload ${name} @ ${overload}/s: goodput ${fmt(row.report.goodput)}/s`);
  }
  if (overloadRows.length > 0) printOverload(overloadRows);

  const plateaus: PlateauRow[] = [];
  for (const name of concurrencyServers) {
    if (overBudget() || concurrencySteps.length === 0) continue;
    plateaus.push(...(await concurrencyRun(name, concurrencySteps)));
  }
  if (plateaus.length > 0) printPlateaus(plateaus);

  const rate = pickProfileRate(rateRows);
  const profiles: { server: string; row: RateRow; frames: Frame[] }[] = [];
  // every pbx variant in --servers (pbx, pbx-node) is profiled at the same rate, so their shares compare
  for (const name of serverNames.filter((s) => s.startsWith('pbx'))) {
    if (rate === undefined || overBudget()) break;
    rmSync(profileDir, { recursive: true, force: true });
    const row = await rateRun(name, rate, true);
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) console.log(`\n(no CPU profile written in ${profileDir})`);
    else profiles.push({ server: name, row, frames: printProfile(join(profileDir, file), row) });
  }
  console.log(`\ntotal wall time ${fmt((Date.now() - startedAt) / 60_000)} min`);
  if (jsonFile !== undefined) {
    writeFileSync(
      jsonFile,
      JSON.stringify({ rateRows, latencyRows, overloadRows, plateaus, profiles }, null, 2),
    );
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

await main();
