// The container image's invariants (issue 5, deliverable 7), checked by reading the Dockerfile and
// .dockerignore: there is no Docker engine on the CI machines, so `docker build` cannot run here.
// prod-tree.test.ts starts the production tree these files describe.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PRODUCTION_TREE,
  PROD_INSTALL,
  REPO_ROOT,
  effectiveInstructions,
  execForm,
  instructions,
  isIgnored,
  last,
  parseCopy,
  parseDockerfile,
  parseDockerignore,
  readDockerfile,
  stage,
} from './dockerfile.js';
import type { Instruction } from './dockerfile.js';

const dockerfile = readDockerfile();
const pbx = dockerfile.stages.at(-1);
const pbxChain = pbx === undefined ? [] : effectiveInstructions(dockerfile, pbx);
const ignoreRules = parseDockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));

function pinnedNode(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const version = pkg.devDependencies?.['node'];
  if (version === undefined) throw new Error('package.json has no pinned `node` devDependency');
  return version;
}

function runs(list: readonly Instruction[]): string[] {
  return list.filter((i) => i.keyword === 'RUN').map((i) => i.args);
}

function labels(list: readonly Instruction[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const ins of list.filter((i) => i.keyword === 'LABEL')) {
    for (const m of ins.args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
      out.set(m[1] as string, (m[2] as string).replace(/^"|"$/g, ''));
    }
  }
  return out;
}

describe('Dockerfile parser', () => {
  it('joins continuations, drops comments (also inside a continuation) and splits stages', () => {
    const file = parseDockerfile(
      [
        '# syntax=docker/dockerfile:1',
        'ARG V=1.2.3',
        'FROM base:${V} AS one',
        'RUN a \\',
        '  # a comment inside',
        '  && b',
        'FROM one',
        'CMD ["x"]',
      ].join('\n'),
    );
    expect(file.globalArgs.get('V')).toBe('1.2.3');
    expect(file.stages.map((s) => [s.name, s.from])).toEqual([
      ['one', 'base:${V}'],
      [null, 'one'],
    ]);
    expect(file.stages[0]?.instructions).toEqual([{ keyword: 'RUN', args: 'a && b', line: 4 }]);
    expect(instructions('run x').map((i) => i.keyword)).toEqual(['RUN']);
  });

  it('matches .dockerignore rules like moby: last match wins, parents count, ** spans folders', () => {
    const rules = parseDockerignore('*\n!pbx\n**/*.test.ts\n!keep/\n');
    expect(isIgnored(rules, 'README.md')).toBe(true);
    expect(isIgnored(rules, 'pbx/sip/parser.ts')).toBe(false);
    expect(isIgnored(rules, 'pbx/sip/parser.test.ts')).toBe(true);
    expect(isIgnored(rules, 'keep/a/b')).toBe(false);
    expect(isIgnored(rules, 'test/x.ts')).toBe(true);
  });
});

describe('Dockerfile', () => {
  it('builds on node:${NODE_VERSION}-bookworm-slim with the same Node major as the pinned devDependency', () => {
    const version = dockerfile.globalArgs.get('NODE_VERSION');
    expect(version, 'global `ARG NODE_VERSION=x.y.z` before the first FROM').toMatch(/^\d+\.\d+\.\d+$/);
    const pinned = pinnedNode();
    expect(
      version?.split('.')[0],
      `Dockerfile NODE_VERSION ${version} and package.json node ${pinned}: majors differ`,
    ).toBe(pinned.split('.')[0]);
    const named = new Set(dockerfile.stages.map((s) => s.name));
    for (const s of dockerfile.stages) {
      if (!named.has(s.from)) expect(s.from).toBe('node:${NODE_VERSION}-bookworm-slim');
    }
  });

  it('has build, prod-deps, runtime, operator and pbx stages; pbx is the default (last) target', () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual([
      'build',
      'prod-deps',
      'runtime',
      'operator',
      'pbx',
    ]);
    expect(stage(dockerfile, 'operator').from).toBe('runtime');
    expect(stage(dockerfile, 'pbx').from).toBe('runtime');
  });

  it('compiles with npm ci (all dependencies) and tsc -p tsconfig.build.json in the build stage', () => {
    const build = runs(stage(dockerfile, 'build').instructions);
    expect(build.some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(build.some((r) => /\btsc -p tsconfig\.build\.json\b/.test(r))).toBe(true);
    // The native relay is part of the image: built with a compiler the stage installs, failing without one.
    expect(build.some((r) => /apt-get install\b.*\bgcc\b/.test(r))).toBe(true);
    expect(build.some((r) => /REQUIRE_NATIVE=1 .*scripts\/build-native\.sh dist\/native\b/.test(r))).toBe(
      true,
    );
  });

  it('installs production dependencies only, with the same command as scripts/prod-tree.sh', () => {
    expect(runs(stage(dockerfile, 'prod-deps').instructions).some((r) => r.endsWith(PROD_INSTALL))).toBe(
      true,
    );
    const script = readFileSync(join(REPO_ROOT, 'scripts', 'prod-tree.sh'), 'utf8');
    const scriptLines = script.split('\n').filter((l) => !l.trimStart().startsWith('#'));
    expect(scriptLines.some((l) => l.includes(PROD_INSTALL))).toBe(true);
  });

  it('copies exactly the production tree into the runtime stage: package files, node_modules, dist', () => {
    const runtime = stage(dockerfile, 'runtime');
    expect(last(runtime.instructions, 'WORKDIR')?.args).toBe('/app');
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => parseCopy(i.args));
    const entries = copies.flatMap((c) => {
      expect(c.from, `runtime COPY ${c.sources.join(' ')} must come from a stage`).not.toBeNull();
      const root = c.from === 'build' ? '/src/' : '/app/';
      return c.sources.map((src) => {
        expect(src.startsWith(root), `${src} comes from ${c.from}'s WORKDIR ${root}`).toBe(true);
        return src.slice(root.length);
      });
    });
    expect(entries.toSorted()).toEqual([...PRODUCTION_TREE]);
    expect(last(stage(dockerfile, 'build').instructions, 'WORKDIR')?.args).toBe('/src');
    expect(last(stage(dockerfile, 'prod-deps').instructions, 'WORKDIR')?.args).toBe('/app');
  });

  it('runs as the non-root uid 10001', () => {
    const user = last(pbxChain, 'USER')?.args ?? 'root';
    expect(user.split(':')[0]).toBe('10001');
    expect(runs(pbxChain).some((r) => /useradd\b.*--uid 10001/.test(r))).toBe(true);
  });

  it('runs tini (the Debian package) as PID 1 and node dist/pbx/main.js as its child', () => {
    expect(runs(pbxChain).some((r) => /apt-get install\b.*\btini\b/.test(r))).toBe(true);
    expect(execForm(last(pbxChain, 'ENTRYPOINT')?.args ?? 'null')).toEqual(['/usr/bin/tini', '--']);
    expect(execForm(last(pbxChain, 'CMD')?.args ?? 'null')).toEqual(['node', 'dist/pbx/main.js']);
    expect(last(pbxChain, 'STOPSIGNAL')?.args).toBe('SIGTERM');
  });

  it('checks health on /health/live with node itself (no curl in slim images)', () => {
    const check = last(pbxChain, 'HEALTHCHECK')?.args ?? '';
    const cmd = /\bCMD (\[.*\])$/.exec(check)?.[1];
    expect(cmd, `HEALTHCHECK ... CMD [exec form]: ${check}`).toBeDefined();
    const argv = execForm(cmd as string);
    expect(argv.slice(0, 2)).toEqual(['node', '-e']);
    expect(argv[2]).toMatch(/http:\/\/127\.0\.0\.1:.*8080.*\/health\/live/);
  });

  it('exposes SIP on 5060/udp and 5060/tcp, HTTP 8080 and metrics 9090', () => {
    const ports = pbxChain.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(' '));
    const normal = ports.map((p) => (p.includes('/') ? p : `${p}/tcp`)).toSorted();
    expect(normal).toEqual(['5060/tcp', '5060/udp', '8080/tcp', '9090/tcp']);
  });

  it('sets NODE_ENV=production and the OCI labels', () => {
    expect(pbxChain.some((i) => i.keyword === 'ENV' && /^NODE_ENV[= ]production$/.test(i.args))).toBe(true);
    const all = labels(pbxChain);
    for (const key of ['title', 'description', 'version', 'revision', 'licenses', 'base.name']) {
      expect(all.has(`org.opencontainers.image.${key}`), key).toBe(true);
    }
    expect(all.get('org.opencontainers.image.licenses')).toBe('Apache-2.0');
  });

  it('builds the operator image with --target operator: same runtime, operator entry, no pbx ports', () => {
    const operator = stage(dockerfile, 'operator');
    const chain = effectiveInstructions(dockerfile, operator);
    expect(execForm(last(chain, 'CMD')?.args ?? 'null')).toEqual(['node', 'dist/operator/main.js']);
    expect(execForm(last(chain, 'ENTRYPOINT')?.args ?? 'null')).toEqual(['/usr/bin/tini', '--']);
    expect(last(chain, 'USER')?.args.split(':')[0]).toBe('10001');
    expect(chain.some((i) => i.keyword === 'EXPOSE' || i.keyword === 'HEALTHCHECK')).toBe(false);
  });
});

describe('.dockerignore', () => {
  it('keeps out node_modules, dist, coverage, .git, tests, testdata and local kube/env files', () => {
    for (const path of [
      'node_modules/fastify/package.json',
      'dist/pbx/main.js',
      'coverage/index.html',
      '.git/HEAD',
      'testdata/torture/valid/a.sip',
      'test/deploy/dockerfile.test.ts',
      'test/sip/parser.test.ts',
      'e2e/harness/pbx.ts',
      '.kube/config',
      '.env',
      'pbx/node_modules/x.js',
      'pbx/sip/parser.test.ts',
    ]) {
      expect(isIgnored(ignoreRules, path), path).toBe(true);
    }
  });

  it('keeps every file the build stage copies or compiles', () => {
    const copied = stage(dockerfile, 'build')
      .instructions.filter((i) => i.keyword === 'COPY')
      .map((i) => parseCopy(i.args))
      .filter((c) => c.from === null)
      .flatMap((c) => c.sources)
      .filter((s) => s !== '.');
    const tsconfig = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as {
      extends?: string;
      include?: string[];
    };
    const required = [
      ...copied,
      'tsconfig.build.json',
      'scripts/build-native.sh',
      'pbx/media/relay/native/relay.c',
      ...(tsconfig.extends === undefined ? [] : [tsconfig.extends.replace(/^\.\//, '')]),
      ...(tsconfig.include ?? []),
    ];
    for (const path of required) expect(isIgnored(ignoreRules, path), path).toBe(false);

    // What tsc actually reads (follows imports, so a stray import of test/ or e2e/ would show here).
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const listed = execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--listFilesOnly'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    const sources = listed
      .split('\n')
      .filter((f) => f.trim() !== '')
      .map((f) => relative(REPO_ROOT, resolve(f)))
      .filter((f) => !f.startsWith(`..${sep}`) && !f.split(sep).includes('node_modules'));
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.filter((f) => isIgnored(ignoreRules, f.split(sep).join('/')))).toEqual([]);
    expect(existsSync(join(REPO_ROOT, 'package-lock.json'))).toBe(true);
  });
});
