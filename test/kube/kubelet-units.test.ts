// Pure kubelet pieces: image map, argv, env, volumes and mount-path rewriting, probe ports, address leases.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ContainerConfigError, containerEnv, fieldRefValue } from './kubelet/env.js';
import { containerArgv, expandVars, imageRepository, resolveImage } from './kubelet/images.js';
import { createIpPool } from './kubelet/ip-pool.js';
import { probeTiming, resolvePort } from './kubelet/probes.js';
import { mountsOf, rewritePaths, volumeFiles, writeVolume } from './kubelet/volumes.js';
import { Balancer } from './proxy/balancer.js';

const pod: V1Pod = {
  metadata: {
    name: 'sip-0',
    namespace: 'voice',
    uid: 'u1',
    labels: { app: 'sip', 'a.b/c': 'x' },
    annotations: { note: 'n' },
  },
  spec: { nodeName: 'node', containers: [] },
  status: { podIP: '127.0.1.9', hostIP: '127.0.0.1' },
};
const sources = {
  configMap: (ns: string, name: string) =>
    ns === 'voice' && name === 'cfg'
      ? { level: 'debug', 'config.yaml': 'file: /etc/sippbx/plan/plan.json\n' }
      : undefined,
  secret: (ns: string, name: string) => (ns === 'voice' && name === 'sec' ? { token: 's3cret' } : undefined),
};

describe('image map', () => {
  it('matches by repository, any tag or digest', () => {
    expect(imageRepository('ghcr.io/sippbx/sippbx:1.2.3')).toBe('ghcr.io/sippbx/sippbx');
    expect(imageRepository('ghcr.io/sippbx/sippbx@sha256:abc')).toBe('ghcr.io/sippbx/sippbx');
    expect(imageRepository('localhost:5000/x/y')).toBe('localhost:5000/x/y');
    expect(imageRepository('localhost:5000/x/y:t')).toBe('localhost:5000/x/y');
    const map = { 'ghcr.io/sippbx/sippbx': ['node', 'pbx.js'], node: { command: ['node'] } };
    expect(resolveImage(map, 'ghcr.io/sippbx/sippbx:9')).toEqual({ command: ['node', 'pbx.js'] });
    expect(resolveImage(map, 'node:24')).toEqual({ command: ['node'] });
    expect(resolveImage(map, 'redis:7')).toBeUndefined();
    expect(resolveImage(map, 'docker.io/library/node:24')).toEqual({ command: ['node'] });
    expect(resolveImage({ 'docker.io/library/redis': ['r'] }, 'redis')).toEqual({ command: ['r'] });
  });

  it('applies Kubernetes command/args rules and $(VAR) expansion; node is this Node', () => {
    const entry = { command: ['node', 'main.js'], args: ['--default'] };
    expect(containerArgv(entry, {}, {})).toEqual([process.execPath, 'main.js', '--default']);
    expect(containerArgv(entry, { args: ['--config', '$(CFG)'] }, { CFG: '/c.yaml' })).toEqual([
      process.execPath,
      'main.js',
      '--config',
      '/c.yaml',
    ]);
    expect(containerArgv(entry, { command: ['sh', '-c'], args: ['echo'] }, {})).toEqual(['sh', '-c', 'echo']);
    expect(containerArgv(entry, { command: ['x'] }, {})).toEqual(['x']);
    expect(expandVars('$(A)-$(B)-$$(A)-$$', { A: '1' })).toBe('1-$(B)-$(A)-$');
  });
});

describe('env', () => {
  it('resolves values, $(VAR) references, fieldRefs, ConfigMap and Secret keys, envFrom', () => {
    const env = containerEnv(
      pod,
      {
        name: 'c',
        envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CM_' }],
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          { name: 'ABC', valueFrom: { fieldRef: { fieldPath: "metadata.labels['a.b/c']" } } },
          { name: 'LISTEN', value: '$(POD_IP):5060' },
          { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'level' } } },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'sec', key: 'token' } } },
          { name: 'OPT', valueFrom: { secretKeyRef: { name: 'missing', key: 'k', optional: true } } },
        ],
      },
      sources,
    );
    expect(env).toMatchObject({
      CM_level: 'debug',
      POD_NAME: 'sip-0',
      POD_NAMESPACE: 'voice',
      POD_IP: '127.0.1.9',
      APP: 'sip',
      ABC: 'x',
      LISTEN: '127.0.1.9:5060',
      LEVEL: 'debug',
      TOKEN: 's3cret',
    });
    expect(env).not.toHaveProperty('OPT');
    expect(fieldRefValue(pod, { fieldPath: "metadata.annotations['note']" })).toBe('n');
  });

  it('refuses a missing non-optional reference (CreateContainerConfigError)', () => {
    const missing = {
      name: 'c',
      env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'nope' } } }],
    };
    expect(() => containerEnv(pod, missing, sources)).toThrow(ContainerConfigError);
    expect(() => containerEnv(pod, missing, sources)).toThrow(/key "nope" not found in ConfigMap "cfg"/);
  });
});

describe('volumes and mount-path rewriting', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('rewrites absolute paths that start at a mount path, and nothing else', () => {
    const mounts = mountsOf(
      {
        name: 'c',
        volumeMounts: [
          { name: 'cfg', mountPath: '/etc/sippbx' },
          { name: 'plan', mountPath: '/etc/sippbx/plan/' },
        ],
      },
      '/tmp/pod/root',
    );
    expect(mounts.map((m) => m.mountPath)).toEqual(['/etc/sippbx/plan', '/etc/sippbx']);
    expect(rewritePaths('--config=/etc/sippbx/config.yaml', mounts)).toBe(
      '--config=/tmp/pod/root/etc/sippbx/config.yaml',
    );
    expect(rewritePaths('/etc/sippbx/plan/plan.json', mounts)).toBe(
      '/tmp/pod/root/etc/sippbx/plan/plan.json',
    );
    expect(rewritePaths('/etc/sippbx', mounts)).toBe('/tmp/pod/root/etc/sippbx');
    expect(rewritePaths('/etc/sippbxx/a /usr/etc/sippbx/a http://h/etc/sippbx', mounts)).toBe(
      '/etc/sippbxx/a /usr/etc/sippbx/a http://h/etc/sippbx',
    );
    expect(rewritePaths('file: "/etc/sippbx/a"', mounts)).toBe('file: "/tmp/pod/root/etc/sippbx/a"');
  });

  it('writes ConfigMap items and swaps generations atomically', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vol-'));
    dirs.push(dir);
    const files = volumeFiles(
      pod,
      { name: 'v', configMap: { name: 'cfg', items: [{ key: 'level', path: 'sub/level.txt' }] } },
      sources,
    );
    expect([...(files ?? [])]).toEqual([['sub/level.txt', 'debug']]);
    writeVolume(dir, 'v', files, (t) => t.toUpperCase(), 0o644);
    expect(fs.readFileSync(path.join(dir, 'v/sub/level.txt'), 'utf8')).toBe('DEBUG');
    writeVolume(dir, 'v', new Map([['a', '1']]), undefined, 0o644);
    expect(fs.readdirSync(path.join(dir, 'v'))).toEqual(['a']);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('..'))).toHaveLength(1);
    expect(() => volumeFiles(pod, { name: 'v', secret: { secretName: 'none' } }, sources)).toThrow(
      ContainerConfigError,
    );
    expect(volumeFiles(pod, { name: 'v', emptyDir: {} }, sources)).toBeUndefined();
  });
});

describe('probes', () => {
  it('resolves ports by number or container port name, and scales delays and periods but not the timeout', () => {
    const ports = [{ name: 'http', containerPort: 8080 }];
    expect(resolvePort('http', ports)).toBe(8080);
    expect(resolvePort(81, ports)).toBe(81);
    expect(resolvePort('82', ports)).toBe(82);
    expect(resolvePort('nope', ports)).toBeUndefined();
    expect(probeTiming({ periodSeconds: 5, initialDelaySeconds: 2 }, 0.1)).toEqual({
      initialDelayMs: 200,
      periodMs: 500,
      timeoutMs: 1000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });
});

describe('address leases', () => {
  it('hands out unique addresses, next-fit, across pools sharing a lease folder', () => {
    const lockDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leases-'));
    const a = createIpPool({ prefix: '127.0.9', first: 1, last: 3, lockDir });
    const b = createIpPool({ prefix: '127.0.9', first: 1, last: 3, lockDir });
    expect(a.allocate()).toBe('127.0.9.1');
    expect(b.allocate()).toBe('127.0.9.2');
    expect(a.allocate()).toBe('127.0.9.3');
    expect(() => b.allocate()).toThrow(/no free address/);
    a.release('127.0.9.1');
    expect(b.allocate()).toBe('127.0.9.1');
    // A lease of a dead process is reclaimed.
    fs.writeFileSync(path.join(lockDir, '127.0.9.3'), '999999999');
    a.release('127.0.9.3');
    fs.writeFileSync(path.join(lockDir, '127.0.9.3'), '999999999');
    expect(b.allocate()).toBe('127.0.9.3');
    a.close();
    b.close();
    expect(fs.readdirSync(lockDir)).toEqual([]);
    fs.rmSync(lockDir, { recursive: true });
  });
});

describe('watchdog', () => {
  it('SIGKILLs the registered process groups when its stdin ends (the kubelet process died)', async () => {
    const victim = spawn(
      process.execPath,
      ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    const dog = spawn(process.execPath, [new URL('./kubelet/watchdog.ts', import.meta.url).pathname], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    const victimExit = once(victim, 'exit');
    const dogExit = once(dog, 'exit');
    dog.stdin.write(`+${victim.pid}\n`);
    dog.stdin.end();
    const [code, signal] = (await victimExit) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    await dogExit;
  });
});

describe('proxy balancer', () => {
  it('keeps client-IP affinity while the backend stays ready, bounded and timed out', () => {
    let now = 0;
    const bal = new Balancer({ clientIpAffinity: true, timeoutMs: 1000, maxClients: 2, now: () => now });
    const b1 = { ip: '127.0.1.1', port: 1, pod: 'a' };
    const b2 = { ip: '127.0.1.2', port: 1, pod: 'b' };
    expect(bal.pick('c1')).toBeUndefined();
    bal.setBackends([b1, b2]);
    const first = bal.pick('c1');
    for (let i = 0; i < 5; i++) expect(bal.pick('c1')).toEqual(first);
    expect(bal.pick('c2')).not.toEqual(first);
    bal.setBackends([first === b1 ? b2 : b1]);
    expect(bal.pick('c1')).not.toEqual(first);
    now += 5000;
    bal.setBackends([b1, b2]);
    const rr = new Balancer({ clientIpAffinity: false, timeoutMs: 0 });
    rr.setBackends([b1, b2]);
    expect([rr.pick('x'), rr.pick('x')]).toEqual([b1, b2]);
  });
});
