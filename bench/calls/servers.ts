/**
 * The servers under test: the sippbx B2BUA (`node dist/pbx/main.js`) and Kamailio as a transaction-stateful
 * proxy (`bench/calls/kamailio.cfg`), each started fresh, pinned to the server CPUs, and read through
 * /proc (CPU, RSS, PSS) and, for the pbx, its Prometheus metrics.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf, cpuSecondsOf, freeTcpPort, freeUdpPort, pssBytes, rssBytes, sleep } from './proc.js';
import { spawnPinned, stopOwned } from './sipp.js';
import type { Owned } from './sipp.js';

/** Memory of a server: RSS summed over its processes, PSS (shared pages counted once), pbx heap. */
export interface Memory {
  readonly rssBytes: number;
  readonly pssBytes: number;
  /** `nodejs_heap_size_used_bytes` (pbx only). */
  readonly heapUsedBytes?: number;
  /** `sippbx_calls_active` (pbx only). */
  readonly callsActive?: number;
}

/** A started server. */
export interface RunningServer {
  readonly name: string;
  /** UDP port it takes SIP on (127.0.0.1). */
  readonly sipPort: number;
  /** The exact command line, for the docs. */
  readonly command: string;
  /** Its processes now (Kamailio forks workers). */
  pids(): number[];
  cpuSeconds(): number;
  /** RSS and PSS from /proc only (cheap: no metrics scrape that would load the server). */
  procMemory(): Memory;
  memory(): Promise<Memory>;
  /** pbx: `sippbx_calls_total` by result. */
  callsTotal?(): Promise<Record<string, number>>;
  /** pbx started with `--expose-gc`: a full GC now (SIGUSR2, see pbx/main.ts). */
  collectGarbage?(): Promise<void>;
  stop(): Promise<void>;
  /** The tail of its stderr (for failures). */
  stderrTail(): string;
}

/** How to start a server. */
export interface ServerOptions {
  readonly uasPort: number;
  readonly cpus: string;
  readonly dir: string;
  /** pbx: write a V8 CPU profile into this directory on exit. */
  readonly cpuProfileDir?: string;
  /** pbx: `--expose-gc`, so `collectGarbage()` works. */
  readonly exposeGc?: boolean;
  /** pbx: `media.portRange` as [start, end). */
  readonly mediaPorts: readonly [number, number];
  /** pbx: `media.maxCalls`. */
  readonly maxCalls: number;
  /** pbx: extra Node flags (e.g. `--perf-basic-prof` for `perf record` of JS frames). */
  readonly nodeFlags?: readonly string[];
  /** pbx: `media.relayEngine`; absent: the default (auto, native when built). */
  readonly relayEngine?: 'native' | 'node';
}

/** Where things are. */
export interface ServerPaths {
  readonly repoRoot: string;
  readonly kamailioCfg: string;
}

/** The last 8 KB of a process's stderr and stdout (Kamailio prints "Listening on" to stdout). */
export function captureOutput(p: Owned): () => string {
  let tail = '';
  const add = (c: string): void => {
    tail = (tail + c).slice(-8000);
  };
  p.child.stderr?.setEncoding('utf8').on('data', add);
  p.child.stdout?.setEncoding('utf8').on('data', add);
  return () => tail;
}

/** Parses Prometheus text into `name{labels}` -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** Polls `ok` until it holds; on timeout or error stops `proc` (never leave a server behind) and throws. */
async function waitFor(
  proc: Owned,
  what: string,
  ms: number,
  ok: () => Promise<boolean>,
  tail: () => string,
): Promise<void> {
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      if (await ok()) return;
      await sleep(200);
    }
    throw new Error(`${what} did not become ready in ${ms} ms\n${tail()}`);
  } catch (err) {
    await stopOwned(proc);
    throw err;
  }
}

function procMemory(pids: readonly number[]): Memory {
  return {
    rssBytes: pids.reduce((sum, pid) => sum + rssBytes(pid), 0),
    pssBytes: pids.reduce((sum, pid) => sum + pssBytes(pid), 0),
  };
}

/** The pbx config for a benchmark: loopback only, one route to the UAS, limits lifted, no webhooks. */
export function pbxConfig(sipPort: number, httpPort: number, metricsPort: number, o: ServerOptions): string {
  return [
    `sip: { listen: 127.0.0.1, port: ${sipPort}, transports: [udp] }`,
    `media: { listen: 127.0.0.1, advertisedAddress: 127.0.0.1, portRange: { start: ${o.mediaPorts[0]}, end: ${o.mediaPorts[1]} }, maxCalls: ${o.maxCalls}${o.relayEngine === undefined ? '' : `, relayEngine: ${o.relayEngine}`} }`,
    `routing: { routes: [{ match: ".*", target: "sip:127.0.0.1:${o.uasPort}" }] }`,
    'limits: { invitesPerSecondPerIp: 100000 }',
    'events: { webhooks: [] }',
    `http: { listen: 127.0.0.1, port: ${httpPort} }`,
    `metrics: { port: ${metricsPort} }`,
    'logging: { level: warning }',
    'shutdown: { drainTimeoutSeconds: 2 }',
    '',
  ].join('\n');
}

/** Starts the pbx and waits for `GET /health/ready` to answer 200. */
export async function startPbx(paths: ServerPaths, o: ServerOptions): Promise<RunningServer> {
  const [sipPort, httpPort, metricsPort] = [await freeUdpPort(), await freeTcpPort(), await freeTcpPort()];
  const configFile = join(o.dir, 'pbx.yaml');
  writeFileSync(configFile, pbxConfig(sipPort, httpPort, metricsPort, o));
  const nodeFlags = [
    ...(o.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', o.cpuProfileDir]),
    ...(o.exposeGc === true ? ['--expose-gc'] : []),
    ...(o.nodeFlags ?? []),
  ];
  const args = [...nodeFlags, join(paths.repoRoot, 'dist/pbx/main.js'), '--config', configFile];
  const proc = spawnPinned(o.cpus, process.execPath, args, o.dir);
  const tail = captureOutput(proc);
  const metrics = async (): Promise<Map<string, number>> => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    return parseMetrics(await res.text());
  };
  await waitFor(
    proc,
    'pbx',
    15_000,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`pbx exited at start\n${tail()}`);
      return fetch(`http://127.0.0.1:${httpPort}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
    },
    tail,
  );
  return {
    name: 'pbx',
    sipPort,
    command: `node ${nodeFlags.join(' ')} dist/pbx/main.js --config pbx.yaml`.replace(/ +/g, ' '),
    pids: () => [proc.pid],
    cpuSeconds: () => cpuSecondsOf([proc.pid]),
    procMemory: () => ({ rssBytes: rssBytes(proc.pid), pssBytes: pssBytes(proc.pid) }),
    memory: async () => {
      const m = await metrics();
      return {
        rssBytes: rssBytes(proc.pid),
        pssBytes: pssBytes(proc.pid),
        heapUsedBytes: m.get('nodejs_heap_size_used_bytes') ?? NaN,
        callsActive: m.get('sippbx_calls_active') ?? NaN,
      };
    },
    callsTotal: async () => {
      const out: Record<string, number> = {};
      for (const [key, value] of await metrics()) {
        const r = /^sippbx_calls_total\{result="([^"]+)"\}$/.exec(key);
        if (r !== null) out[r[1] ?? key] = value;
      }
      return out;
    },
    collectGarbage: async () => {
      proc.child.kill('SIGUSR2');
      await sleep(500);
    },
    stop: () => stopOwned(proc, 15_000),
    stderrTail: tail,
  };
}

/** Starts Kamailio in the foreground (`-DD -E`) and waits for its workers. */
export async function startKamailio(paths: ServerPaths, o: ServerOptions): Promise<RunningServer> {
  // bench/calls/kamailio.cfg has no listen=: the address comes from -l, on a port free now
  const cfg = paths.kamailioCfg;
  const port = await freeUdpPort();
  const uas = `sip:127.0.0.1:${o.uasPort}`;
  const args = [
    '-f',
    cfg,
    '-DD',
    '-E',
    '-A',
    `UAS_URI="${uas}"`,
    '-l',
    `udp:127.0.0.1:${port}`,
    '-m',
    '1024',
  ];
  const proc = spawnPinned(o.cpus, 'kamailio', args, o.dir, 'pipe');
  const tail = captureOutput(proc);
  // children=4 UDP workers plus timer, slow timer and main helpers
  await waitFor(
    proc,
    'kamailio',
    15_000,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`kamailio exited at start\n${tail()}`);
      return Promise.resolve(childrenOf(proc.pid).length >= 4 && tail().includes('Listening on'));
    },
    tail,
  );
  await sleep(1000);
  const pids = (): number[] => [proc.pid, ...childrenOf(proc.pid)];
  return {
    name: 'kamailio',
    sipPort: port,
    command: `kamailio ${args.map((a) => (a.includes('"') ? `'${a}'` : a)).join(' ')}`,
    pids,
    cpuSeconds: () => cpuSecondsOf(pids()),
    procMemory: () => procMemory(pids()),
    memory: () => Promise.resolve(procMemory(pids())),
    stop: () => stopOwned(proc, 10_000),
    stderrTail: tail,
  };
}
