/**
 * The cost of the Redis registry on call setup (issue 6): INVITE -> 200 latency at the caller with
 * `registry.backend: memory` vs `redis`, and Redis commands per call. See docs/benchmarks.md
 * "Redis registry (bench/redis)".
 *
 * Usage: node dist/bench/redis/run.js [--calls 500] [--rate 50] [--hold-ms 1000] [--rounds 2]
 *
 * Each round runs the memory backend, then the Redis backend, each on a fresh pbx (`dist/pbx/main.js`)
 * with a SIPp callee (e2e/scenarios/call/uas-load.xml; no RTP) and a paced UDP caller (bench/redis/uac.ts):
 * latency is from the INVITE sent to the 200 received, timed with `performance.now()`.
 * Redis commands are `INFO commandstats` deltas over the Redis run (commands run by Lua scripts are
 * counted there too), divided by the calls; heartbeats (one per 10 s) are included.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { runCaller } from './uac.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '../../..');
const scenarios = join(repoRoot, 'e2e', 'scenarios', 'call');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

const calls = Number(arg('calls', '500'));
const rate = Number(arg('rate', '50'));
const holdMs = Number(arg('hold-ms', '1000'));
const rounds = Number(arg('rounds', '2'));

/** A UDP port nobody uses right now on 127.0.0.1. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  await exited(child);
}

/** Resolves with the first stdout line matching `pattern`. */
function lineMatching(child: ChildProcess, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    if (child.stdout === null) return reject(new Error(`${what}: no stdout`));
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${what}: not ready in 15 s`)), 15_000);
    rl.on('line', (line) => {
      if (!pattern.test(line)) return;
      clearTimeout(timer);
      resolve(line);
    });
    child.once('close', () => reject(new Error(`${what} exited`)));
  });
}

async function startRedis(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freeUdpPort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await lineMatching(child, /Ready to accept connections/, 'redis-server');
  child.stdout?.resume();
  return { child, url: `redis://127.0.0.1:${port}` };
}

async function startPbx(
  dir: string,
  uasPort: number,
  registry: Record<string, unknown>,
): Promise<{ child: ChildProcess; port: number }> {
  const config = {
    sip: { listen: '127.0.0.1', port: 0 },
    media: { listen: '127.0.0.1', portRange: { start: 12000, end: 20000 } },
    http: { listen: '127.0.0.1', port: 0 },
    metrics: { port: 0 },
    logging: { level: 'warning' },
    limits: { invitesPerSecondPerIp: 100_000 },
    events: { webhooks: [] },
    routing: { routes: [{ match: '.*', target: `sip:127.0.0.1:${uasPort}` }] },
    registry,
  };
  const file = join(dir, `pbx-${Date.now()}.yaml`);
  writeFileSync(file, stringify(config));
  // `logging.level: warning` hides "pbx ready"; the level flag would too, so raise it for that line only.
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'pbx', 'main.js'), '--config', file], {
    cwd: repoRoot,
    env: { ...process.env, SIPPBX_LOGGING_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await lineMatching(child, /"msg":"pbx ready"/, 'pbx');
  child.stdout?.resume();
  const port = (JSON.parse(ready) as { sip: { port: number } }).sip.port;
  return { child, port };
}

/** Sum of `calls=` per command in `INFO commandstats` (the INFO calls themselves left out). */
async function commandStats(url: string): Promise<Map<string, number>> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const text = await client.info('commandstats');
    const out = new Map<string, number>();
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (m[1] !== 'info') out.set(m[1] ?? '', Number(m[2]));
    }
    return out;
  } finally {
    client.disconnect();
  }
}

interface RunResult {
  latenciesMs: number[];
  failed: number;
  commands?: Map<string, number>;
}

async function runOnce(backend: 'memory' | 'redis', redisUrl: string): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), `sippbx-bench-redis-${backend}-`));
  const uasPort = await freeUdpPort();
  const registry =
    backend === 'memory' ? { backend } : { backend, redis: { url: redisUrl, keyPrefix: 'bench:' } };
  const before = backend === 'redis' ? await commandStats(redisUrl) : undefined;
  const pbx = await startPbx(dir, uasPort, registry);
  const sippCommon = ['-t', 'u1', '-i', '127.0.0.1', '-nostdin', '-d', String(holdMs)];
  const uas = spawn('sipp', ['-sf', join(scenarios, 'uas-load.xml'), '-p', String(uasPort), ...sippCommon], {
    cwd: dir,
    stdio: 'ignore',
  });
  await new Promise((r) => setTimeout(r, 300)); // SIPp prints nothing when bound
  const caller = await runCaller({ target: { host: '127.0.0.1', port: pbx.port }, calls, rate, holdMs });
  await stop(uas);
  const after = backend === 'redis' ? await commandStats(redisUrl) : undefined;
  await stop(pbx.child, 'SIGINT');
  const latenciesMs = caller.setupMs;
  if (caller.failed > 0) console.log(`${backend}: final responses ${JSON.stringify([...caller.statuses])}`);
  rmSync(dir, { recursive: true, force: true });
  const result: RunResult = { latenciesMs, failed: caller.failed };
  if (before !== undefined && after !== undefined) {
    const delta = new Map<string, number>();
    for (const [cmd, n] of after)
      if (n - (before.get(cmd) ?? 0) > 0) delta.set(cmd, n - (before.get(cmd) ?? 0));
    result.commands = delta;
  }
  return result;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const fmt = (v: number): string => v.toFixed(3);

async function main(): Promise<void> {
  const redisDir = mkdtempSync(join(tmpdir(), 'sippbx-bench-redis-'));
  const redis = await startRedis(redisDir);
  const all: Record<'memory' | 'redis', number[]> = { memory: [], redis: [] };
  const commands = new Map<string, number>();
  let redisCalls = 0;
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const backend of ['memory', 'redis'] as const) {
        const r = await runOnce(backend, redis.url);
        const sorted = [...r.latenciesMs].sort((a, b) => a - b);
        all[backend].push(...r.latenciesMs);
        console.log(
          `round ${round} ${backend}: ${r.latenciesMs.length} calls, failed ${r.failed}, ` +
            `p50 ${fmt(percentile(sorted, 50))} ms, p99 ${fmt(percentile(sorted, 99))} ms`,
        );
        if (r.commands !== undefined) {
          redisCalls += calls;
          for (const [cmd, n] of r.commands) commands.set(cmd, (commands.get(cmd) ?? 0) + n);
        }
      }
    }
  } finally {
    await stop(redis.child);
    rmSync(redisDir, { recursive: true, force: true });
  }
  console.log(
    `\n| backend | calls | p50 ms | p90 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- |`,
  );
  for (const backend of ['memory', 'redis'] as const) {
    const s = [...all[backend]].sort((a, b) => a - b);
    console.log(
      `| ${backend} | ${s.length} | ${fmt(percentile(s, 50))} | ${fmt(percentile(s, 90))} | ` +
        `${fmt(percentile(s, 99))} | ${fmt(s.at(-1) ?? NaN)} |`,
    );
  }
  const total = [...commands.values()].reduce((a, b) => a + b, 0);
  console.log(`\nRedis commands per call (${redisCalls} calls): ${(total / redisCalls).toFixed(2)}`);
  console.log('| command | per call |\n| --- | --- |');
  for (const [cmd, n] of [...commands].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${cmd} | ${(n / redisCalls).toFixed(2)} |`);
  }
  const cpu = cpus();
  console.log(`\nmachine: ${cpu.length} x ${cpu[0]?.model ?? '?'}; node ${process.version}`);
}

await main();
