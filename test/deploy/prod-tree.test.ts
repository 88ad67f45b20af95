// The CI check for the container image (issue 5, deliverable 7): scripts/prod-tree.sh builds the
// production tree the Dockerfile's runtime stage holds (package files, `npm ci --omit=dev`, dist/),
// and the pbx is started from it on the project's Node 24. A resolve hook records every module the
// process loads, so a devDependency (or anything from the repo's own node_modules) used at run time
// fails the test instead of passing by accident.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PRODUCTION_TREE, REPO_ROOT } from './dockerfile.js';

const run = promisify(execFile);
const PBX_MAIN = join(REPO_ROOT, 'dist', 'pbx', 'main.js');
const PROJECT_NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');

// Loaded with --import before the pbx: logs the URL of every module resolved (ESM and require).
const RESOLVE_HOOK = `
import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
const out = process.env.PROD_TREE_MODULE_LOG;
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    appendFileSync(out, result.url + '\\n');
    return result;
  },
});
`;

const CONFIG = {
  sip: { listen: '127.0.0.1', port: 0 },
  media: { listen: '127.0.0.1' },
  http: { listen: '127.0.0.1', port: 0 },
  metrics: { port: 0 },
  events: { webhooks: [] },
  logging: { level: 'info' },
};

type LogLine = Record<string, unknown>;

interface Started {
  readonly child: ChildProcess;
  readonly ready: LogLine;
  readonly exited: Promise<number | NodeJS.Signals>;
  readonly output: () => string;
}

/** Environment for the child: no SIPPBX_* overrides, no NODE_OPTIONS/NODE_PATH, HOME inside the temp dir. */
function childEnv(home: string, moduleLog: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SIPPBX_') && key !== 'NODE_OPTIONS' && key !== 'NODE_PATH') env[key] = value;
  }
  return { ...env, HOME: home, PROD_TREE_MODULE_LOG: moduleLog };
}

/** Starts `node dist/pbx/main.js --config FILE` in `tree` and resolves at the "pbx ready" log line. */
async function startFromTree(tree: string, root: string): Promise<Started> {
  const configPath = join(root, 'pbx.yaml');
  const hookPath = join(root, 'resolve-hook.mjs');
  await writeFile(configPath, stringify(CONFIG));
  await writeFile(hookPath, RESOLVE_HOOK);
  const child = spawn(
    PROJECT_NODE,
    ['--import', pathToFileURL(hookPath).href, 'dist/pbx/main.js', '--config', configPath],
    { cwd: tree, env: childEnv(root, join(root, 'modules.log')), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | NodeJS.Signals>((done) => {
    child.once('close', (code, signal) => done(code ?? signal ?? -1));
  });
  const ready = new Promise<LogLine>((resolveReady, rejectReady) => {
    const timer = setTimeout(() => rejectReady(new Error('no "pbx ready" line within 15 s')), 15_000);
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (text) => {
      output += `${text}\n`;
      try {
        const line = JSON.parse(text) as LogLine;
        if (line['msg'] === 'pbx ready') {
          clearTimeout(timer);
          resolveReady(line);
        }
      } catch {
        // not a log line; kept in `output` for the failure message
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      rejectReady(new Error(`pbx exited (${code}) before it was ready`));
    });
  });
  try {
    return { child, ready: await ready, exited, output: () => output };
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- output ---\n${output}`, { cause: error });
  }
}

function portOf(line: LogLine, key: string): number {
  const section = line[key] as { port?: unknown } | undefined;
  const port = Number(section?.port);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`"pbx ready" line without ${key}.port`);
  return port;
}

/** Lockfile paths (`node_modules/...`) of packages only devDependencies need. */
function devOnlyPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages ?? {})
    .filter(([path, entry]) => path !== '' && entry.dev === true)
    .map(([path]) => path);
}

function ancestorsWithNodeModules(dir: string): string[] {
  const found: string[] = [];
  for (let d = dirname(dir); ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(join(d, 'node_modules'));
    if (dirname(d) === d) return found;
  }
}

describe('production tree (scripts/prod-tree.sh, mirrors the Dockerfile)', () => {
  let root = '';
  let tree = '';
  let started: Started | undefined;

  beforeAll(async () => {
    if (!existsSync(PBX_MAIN)) {
      throw new Error(`${PBX_MAIN} is missing: build first (make build, or tsc -p tsconfig.build.json)`);
    }
    if (!existsSync(PROJECT_NODE)) {
      throw new Error(`${PROJECT_NODE} is missing: run npm ci (make deps) to install the project's Node 24`);
    }
    root = await mkdtemp(join(tmpdir(), 'sippbx-prod-tree-'));
    tree = join(root, 'tree');
    const path = `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env['PATH'] ?? ''}`;
    try {
      await run('bash', [join(REPO_ROOT, 'scripts', 'prod-tree.sh'), tree], {
        env: { ...process.env, PATH: path },
        timeout: 50_000,
      });
    } catch (error) {
      const e = error as Error & { stdout?: string; stderr?: string };
      throw new Error(`scripts/prod-tree.sh failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
        cause: error,
      });
    }
  }, 60_000);

  afterAll(async () => {
    if (started !== undefined && started.child.exitCode === null && started.child.signalCode === null) {
      started.child.kill('SIGKILL');
      await started.exited;
    }
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  it('holds exactly the Dockerfile runtime stage entries, without devDependencies', () => {
    expect(readdirSync(tree).toSorted()).toEqual([...PRODUCTION_TREE]);
    // Every package the lockfile marks dev-only (the `node` binary, typescript, vitest, ...) is absent.
    const devOnly = devOnlyPackages();
    expect(devOnly).toContain('node_modules/node');
    expect(devOnly.filter((path) => existsSync(join(tree, path)))).toEqual([]);
    for (const dep of ['fastify', 'pino', 'prom-client', 'yaml', 'zod', 'opusscript']) {
      expect(existsSync(join(tree, 'node_modules', dep, 'package.json')), dep).toBe(true);
    }
    // Module resolution walks up from the tree; nothing above it may supply packages.
    expect(
      ancestorsWithNodeModules(tree),
      'node_modules above the temp dir would feed the pbx: point TMPDIR outside any Node project',
    ).toEqual([]);
  });

  it('starts the pbx on production dependencies: ready, live, metrics, then SIGTERM exits 0', async () => {
    started = await startFromTree(tree, root);
    const { ready } = started;
    const http = `http://127.0.0.1:${portOf(ready, 'http')}`;
    expect((await fetch(`${http}/health/live`)).status).toBe(200);
    expect((await fetch(`${http}/health/ready`)).status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${portOf(ready, 'metrics')}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^sippbx_calls_active \d+$/m);
    // dist/native/sippbx-relay.node travels with dist/: the image relays on the native engine.
    expect(ready['relayEngine']).toBe('native');

    started.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((done) => {
      timer = setTimeout(() => done('no exit within 15 s of SIGTERM'), 15_000);
    });
    const code = await Promise.race([started.exited, timeout]).finally(() => clearTimeout(timer));
    expect(code, started.output()).toBe(0);

    const treeUrl = `${pathToFileURL(tree).href}/`;
    const modules = [...new Set((await readFile(join(root, 'modules.log'), 'utf8')).split('\n'))].filter(
      (url) => url !== '',
    );
    expect(modules.filter((url) => !url.startsWith('node:') && !url.startsWith(treeUrl))).toEqual([]);
    expect(modules.some((url) => url.startsWith(`${treeUrl}node_modules/fastify/`))).toBe(true);
    expect(modules).toContain(`${treeUrl}dist/pbx/main.js`);
  }, 30_000);
});
