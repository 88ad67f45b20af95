// The API server against the real kubectl 1.32 as an independent client.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from './index.js';

const run = promisify(execFile);
const testdata = join(import.meta.dirname, 'apiserver/testdata');

let s: ApiServer;
let cacheDir: string;
beforeAll(async () => {
  s = await startApiServer();
  cacheDir = await mkdtemp(join(tmpdir(), 'kubectl-cache-'));
});
afterAll(async () => {
  await s.stop();
  await rm(cacheDir, { recursive: true, force: true });
});

const args = (a: string[]): string[] => ['--kubeconfig', s.kubeconfigPath, '--cache-dir', cacheDir, ...a];
const kubectl = async (...a: string[]): Promise<string> => (await run('kubectl', args(a))).stdout;

/** A spawned kubectl whose stdout lines can be awaited. */
function spawnKubectl(...a: string[]) {
  const child = spawn('kubectl', args(a), { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  createInterface(child.stdout).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const line = (test: (l: string) => boolean): Promise<string> => {
    const found = lines.find(test);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => waiters.push({ test, resolve }));
  };
  return { child, lines, line, exited, stderr: () => stderr };
}

describe('kubectl', () => {
  it('applies a CRD and an object of it, with default (strict) validation', async () => {
    expect(await kubectl('apply', '-f', join(testdata, 'widget-crd.yaml'))).toContain(
      'customresourcedefinition.apiextensions.k8s.io/widgets.example.sippbx.io created',
    );
    expect(await kubectl('apply', '-f', join(testdata, 'widget.yaml'))).toContain(
      'widget.example.sippbx.io/w1 created',
    );
    expect(await kubectl('apply', '-f', join(testdata, 'widget.yaml'))).toContain(
      'widget.example.sippbx.io/w1 unchanged',
    );
    const w = JSON.parse(await kubectl('get', 'wd', 'w1', '-o', 'json')) as { spec: Record<string, unknown> };
    expect(w.spec).toEqual({ size: 'small', replicas: 2, color: 'blue' });
  });

  it('shows printer columns in kubectl get', async () => {
    s.store.patch(
      'example.sippbx.io/v1/widgets',
      'default',
      'w1',
      { status: { conditions: [{ type: 'Ready', status: 'True' }] } },
      'merge',
      { subresource: 'status' },
    );
    const out = (await kubectl('get', 'widgets')).trim().split('\n');
    expect(out[0]?.split(/\s+/)).toEqual(['NAME', 'REPLICAS', 'READY', 'AGE']);
    expect(out[1]?.split(/\s+/).slice(0, 3)).toEqual(['w1', '2', 'True']);
  });

  it('scales a custom resource through its scale subresource', async () => {
    expect(await kubectl('scale', 'widget/w1', '--replicas=4')).toContain(
      'widget.example.sippbx.io/w1 scaled',
    );
    expect(s.store.get('example.sippbx.io/v1/widgets', 'default', 'w1').spec).toMatchObject({ replicas: 4 });
  });

  it('reports server-side validation errors (422) from kubectl apply', async () => {
    const bad =
      '{"apiVersion":"example.sippbx.io/v1","kind":"Widget","metadata":{"name":"bad"},"spec":{"size":"huge"}}';
    const child = spawn('kubectl', args(['apply', '-f', '-']), { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdin.end(bad);
    const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
    expect(code).not.toBe(0);
    expect(err).toContain('Unsupported value: "huge"');
  });

  it('streams changes with kubectl get pods -w', async () => {
    s.store.create('v1/pods', {
      metadata: { name: 'p0' },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    });
    const w = spawnKubectl('get', 'pods', '-w');
    try {
      expect((await w.line((l) => l.startsWith('NAME'))).split(/\s+/)).toContain('AGE');
      await w.line((l) => l.startsWith('p0 '));
      s.store.create('v1/pods', {
        metadata: { name: 'p1' },
        spec: { containers: [{ name: 'c', image: 'i' }] },
      });
      expect(await w.line((l) => l.startsWith('p1 '))).toContain('Pending');
      s.store.patch(
        'v1/pods',
        'default',
        'p1',
        { status: { phase: 'Running', podIP: '127.0.1.1' } },
        'merge',
        { subresource: 'status' },
      );
      expect(await w.line((l) => l.startsWith('p1 ') && l.includes('Running'))).toContain('127.0.1.1');
    } finally {
      w.child.kill();
      await w.exited;
    }
  });

  it('kubectl delete waits until the finalizer is removed', async () => {
    s.store.patch('example.sippbx.io/v1/widgets', 'default', 'w1', {
      metadata: { finalizers: ['example.sippbx.io/cleanup'] },
    });
    const terminating = new Promise<void>((resolve) => {
      const stop = s.store.watch('example.sippbx.io/v1/widgets', 'default', (ev) => {
        if (ev.object.metadata.deletionTimestamp) {
          stop();
          resolve();
        }
      });
    });
    const del = spawnKubectl('delete', 'widget', 'w1');
    await terminating;
    expect(s.store.find('example.sippbx.io/v1/widgets', 'default', 'w1')).toBeDefined();
    s.store.patch('example.sippbx.io/v1/widgets', 'default', 'w1', { metadata: { finalizers: null } });
    expect(await del.exited).toBe(0);
    expect(del.lines.join('\n')).toContain('widget.example.sippbx.io "w1" deleted');
    expect(s.store.find('example.sippbx.io/v1/widgets', 'default', 'w1')).toBeUndefined();
  });

  it('applies, labels and rolls a Deployment with strategic merge patches', async () => {
    const dep = (env: string) =>
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd1' },
        spec: {
          selector: { matchLabels: { app: 'd1' } },
          template: {
            metadata: { labels: { app: 'd1' } },
            spec: {
              containers: [
                { name: 'a', image: 'x', env: [{ name: 'A', value: env }] },
                { name: 'b', image: 'y' },
              ],
            },
          },
        },
      });
    const apply = async (body: string): Promise<void> => {
      const child = spawn('kubectl', args(['apply', '-f', '-']), { stdio: ['pipe', 'ignore', 'inherit'] });
      child.stdin.end(body);
      expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
    };
    await apply(dep('1'));
    await apply(dep('2'));
    const d = s.store.get('apps/v1/deployments', 'default', 'd1');
    expect(d.metadata.generation).toBe(2);
    expect((d.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers).toEqual([
      { name: 'a', image: 'x', env: [{ name: 'A', value: '2' }] },
      { name: 'b', image: 'y' },
    ]);
    await kubectl('label', 'deployment', 'd1', 'tier=edge');
    await kubectl('scale', 'deployment', 'd1', '--replicas=3');
    expect(s.store.get('apps/v1/deployments', 'default', 'd1')).toMatchObject({
      metadata: { labels: { tier: 'edge' } },
      spec: { replicas: 3 },
    });
    expect(await kubectl('get', 'deployments', '-l', 'tier=edge', '-o', 'name')).toBe('deployment.apps/d1\n');
  });
});
