// The kubelet against the in-process API server: processes, env, volumes, probes, restarts, phases;
// plus the Deployment -> ReplicaSet -> pods controller.
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1Container, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from './cluster.js';
import type { Cluster } from './cluster.js';
import { ECHO_IMAGES, ECHO_SCRIPT, podReady, watch, watchPods } from './controllers/testing.js';
import type { Watcher } from './controllers/testing.js';

const NS = 'default';
let cluster: Cluster;
let core: CoreV1Api;
let apps: AppsV1Api;
let pods: Watcher<V1Pod>;
let scratch: string;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-test-'));
  cluster = await startCluster({ images: ECHO_IMAGES });
  core = cluster.kc.makeApiClient(CoreV1Api);
  apps = cluster.kc.makeApiClient(AppsV1Api);
  pods = await watchPods(cluster.kc);
});

afterAll(async () => {
  await pods?.stop();
  await cluster?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const POD_ENV = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
];

function echo(
  name: string,
  extra: Partial<V1Container> = {},
  spec: Partial<NonNullable<V1Pod['spec']>> = {},
): V1Pod {
  return {
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 10,
      ...spec,
      containers: [
        {
          name: 'echo',
          image: 'test/echo',
          ports: [{ name: 'http', containerPort: 8080 }],
          ...extra,
          env: [...POD_ENV, ...(extra.env ?? [])],
        },
      ],
    },
  };
}

const byName = (name: string) => (l: readonly V1Pod[]) => l.find((p) => p.metadata?.name === name);

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

describe('kubelet', () => {
  it('runs a pod with downward-API env, ConfigMap/Secret refs and volumes, rewriting mount paths', async () => {
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: {
        metadata: { name: 'echo-cfg' },
        data: { 'config.yaml': 'token: /etc/echo/secret/token\n', level: 'debug' },
      },
    });
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'echo-sec' }, data: { token: Buffer.from('s3cret').toString('base64') } },
    });
    await core.createNamespacedPod({
      namespace: NS,
      body: echo(
        'env-pod',
        {
          args: ['--config', '/etc/echo/config.yaml', '--namespace=$(POD_NAMESPACE)'],
          env: [
            { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
            { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'echo-cfg', key: 'level' } } },
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'echo-sec', key: 'token' } } },
            { name: 'TOKEN_FILE', value: '/etc/echo/secret/token' },
          ],
          volumeMounts: [
            { name: 'cfg', mountPath: '/etc/echo' },
            { name: 'sec', mountPath: '/etc/echo/secret', readOnly: true },
          ],
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
        },
        {
          volumes: [
            { name: 'cfg', configMap: { name: 'echo-cfg' } },
            { name: 'sec', secret: { secretName: 'echo-sec' } },
          ],
        },
      ),
    });
    const pod = byName('env-pod')(
      await pods.until((l) => podReady(byName('env-pod')(l) ?? {}), 'env-pod ready'),
    );
    const ip = pod?.status?.podIP ?? '';
    expect(ip).toMatch(/^127\.0\.1\.\d+$/);
    expect(pod?.status?.phase).toBe('Running');
    expect(pod?.spec?.nodeName).toBe('sippbx-node');
    const env = JSON.parse((await get(`http://${ip}:8080/env`)).body) as Record<string, string>;
    expect(env).toMatchObject({
      POD_NAME: 'env-pod',
      POD_NAMESPACE: NS,
      POD_IP: ip,
      APP: 'env-pod',
      LEVEL: 'debug',
      TOKEN: 's3cret',
    });
    expect(env.KUBECONFIG).toBe(cluster.kubeconfigPath);
    const root = env.KUBE_MOUNT_ROOT ?? '';
    expect(env.TOKEN_FILE).toBe(`${root}/etc/echo/secret/token`);
    const argv = JSON.parse((await get(`http://${ip}:8080/argv`)).body) as string[];
    expect(argv).toEqual(['--config', `${root}/etc/echo/config.yaml`, `--namespace=${NS}`]);
    // The mounted ConfigMap's own text is rewritten too, and the Secret is readable at its rewritten path.
    expect((await get(`http://${ip}:8080/file?path=${root}/etc/echo/config.yaml`)).body).toBe(
      `token: ${root}/etc/echo/secret/token\n`,
    );
    expect((await get(`http://${ip}:8080/file?path=${env.TOKEN_FILE}`)).body).toBe('s3cret');
    expect(cluster.logs('env-pod')).toContain(`echo env-pod on ${ip}`);
  });

  it('readiness drives Ready both ways', async () => {
    const flag = path.join(scratch, 'ready-flag');
    await core.createNamespacedPod({
      namespace: NS,
      body: echo('ready-pod', {
        env: [{ name: 'READY_FILE', value: flag }],
        readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
      }),
    });
    await pods.until((l) => byName('ready-pod')(l)?.status?.phase === 'Running', 'ready-pod running');
    expect(podReady(byName('ready-pod')(pods.list()) ?? {})).toBe(false);
    fs.writeFileSync(flag, '');
    await pods.until((l) => podReady(byName('ready-pod')(l) ?? {}), 'ready-pod Ready');
    fs.rmSync(flag);
    await pods.until((l) => !podReady(byName('ready-pod')(l) ?? {}), 'ready-pod not Ready');
  });

  it('a failing liveness probe restarts the container and counts restarts', async () => {
    await core.createNamespacedPod({
      namespace: NS,
      body: echo('live-pod', {
        livenessProbe: { httpGet: { path: '/live', port: 9999 }, periodSeconds: 1, failureThreshold: 2 },
      }),
    });
    const p = byName('live-pod')(
      await pods.until(
        (l) => (byName('live-pod')(l)?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
        'a restart',
      ),
    );
    expect(p?.status?.containerStatuses?.[0]?.lastState?.terminated).toBeDefined();
    expect(cluster.logs('live-pod')).toContain('liveness probe of echo failed');
  });

  it('phases: Succeeded and Failed with restartPolicy Never; unknown image fails with a clear message', async () => {
    const node = (name: string, code: number): V1Pod => ({
      metadata: { name, namespace: NS },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'c',
            image: 'node:24',
            command: ['node', '-e', `console.log('bye'); process.exit(${code})`],
          },
        ],
      },
    });
    await core.createNamespacedPod({ namespace: NS, body: node('ok-pod', 0) });
    await core.createNamespacedPod({ namespace: NS, body: node('bad-pod', 3) });
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'img-pod', namespace: NS },
        spec: { containers: [{ name: 'c', image: 'example.com/nope:1' }] },
      },
    });
    const l = await pods.until(
      (x) =>
        byName('ok-pod')(x)?.status?.phase === 'Succeeded' &&
        byName('bad-pod')(x)?.status?.phase === 'Failed' &&
        byName('img-pod')(x)?.status?.phase === 'Failed',
      'terminal phases',
    );
    expect(byName('bad-pod')(l)?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(3);
    expect(byName('img-pod')(l)?.status?.message).toMatch(
      /image "example.com\/nope:1" is not in the kubelet image map/,
    );
    expect(cluster.logs('ok-pod')).toBe('bye\n');
  });

  it('a restartPolicy Always container that exits is restarted with a growing restartCount', async () => {
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'crash-pod', namespace: NS },
        spec: { containers: [{ name: 'c', image: 'node', command: ['node', '-e', 'process.exit(1)'] }] },
      },
    });
    await pods.until(
      (l) => (byName('crash-pod')(l)?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2,
      'two restarts',
    );
  });
});

describe('kubelet default images', () => {
  it.skipIf(!fs.existsSync('/usr/bin/redis-server'))(
    'runs redis:7 as the machine redis-server on the pod IP (tcpSocket readiness)',
    async () => {
      await core.createNamespacedPod({
        namespace: NS,
        body: {
          metadata: { name: 'redis', namespace: NS },
          spec: {
            containers: [
              {
                name: 'redis',
                image: 'docker.io/library/redis:7',
                readinessProbe: { tcpSocket: { port: 6379 }, periodSeconds: 1 },
              },
            ],
          },
        },
      });
      const pod = byName('redis')(await pods.until((l) => podReady(byName('redis')(l) ?? {}), 'redis ready'));
      const sock = net.connect(6379, pod?.status?.podIP ?? '');
      sock.write('PING\r\n');
      const [reply] = (await once(sock, 'data')) as [Buffer];
      sock.destroy();
      expect(reply.toString()).toBe('+PONG\r\n');
    },
  );
});

describe('kubelet termination', () => {
  it('runs an httpGet preStop, sends SIGTERM, and SIGKILLs after the grace period before removing the pod', async () => {
    const hits: string[] = [];
    const hook = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('ok');
    });
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    const hookPort = (hook.address() as AddressInfo).port;
    // Ignores SIGTERM; Ready (HTTP) only once that handler is installed.
    const stubborn =
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); require('http').createServer((q, r) => r.end('up')).listen(8080, process.env.POD_IP);";
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'stubborn', namespace: NS },
        spec: {
          terminationGracePeriodSeconds: 3, // 300 ms at the cluster's timeScale 0.1
          containers: [
            {
              name: 'c',
              image: 'node:24',
              command: ['node', '-e', stubborn],
              env: POD_ENV,
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
              lifecycle: { preStop: { httpGet: { host: '127.0.0.1', port: hookPort, path: '/prestop' } } },
            },
          ],
        },
      },
    });
    // Ready is the kubelet's last status write for this pod: no write races the deletion below.
    await pods.until((l) => podReady(byName('stubborn')(l) ?? {}), 'stubborn ready');
    const pid = Number(
      byName('stubborn')(pods.list())?.status?.containerStatuses?.[0]?.containerID?.replace('process://', ''),
    );
    const started = Date.now();
    await core.deleteNamespacedPod({ namespace: NS, name: 'stubborn' });
    await pods.until((l) => byName('stubborn')(l) === undefined, 'stubborn removed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(hits).toEqual(['/prestop']);
    expect(cluster.logs('stubborn')).toContain('ignoring SIGTERM');
    const last = pods.events.filter((e) => e.obj.metadata?.name === 'stubborn').at(-1)?.obj;
    expect(last?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 137,
      signal: 9,
    });
    expect(() => process.kill(pid, 0)).toThrow();
    hook.close();
  });
});

describe('Deployment', () => {
  it('keeps N pods of the template through a ReplicaSet', async () => {
    const deploy: V1Deployment = {
      metadata: { name: 'op', namespace: NS },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'op' } },
        template: {
          metadata: { labels: { app: 'op' } },
          spec: {
            containers: [
              {
                name: 'op',
                image: 'node:24',
                command: ['node', ECHO_SCRIPT],
                env: POD_ENV,
                readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    };
    await apps.createNamespacedDeployment({ namespace: NS, body: deploy });
    const ops = (l: readonly V1Pod[]) =>
      l.filter((p) => p.metadata?.labels?.app === 'op' && !p.metadata.deletionTimestamp);
    const first = ops(await pods.until((l) => ops(l).filter(podReady).length === 2, '2 op pods ready'));
    expect(first[0]?.metadata?.ownerReferences?.[0]?.kind).toBe('ReplicaSet');
    expect(first[0]?.metadata?.labels?.['pod-template-hash']).toBeDefined();
    const victim = first[0]?.metadata?.name ?? '';
    await core.deleteNamespacedPod({ namespace: NS, name: victim });
    await pods.until(
      (l) => ops(l).filter(podReady).length === 2 && !ops(l).some((p) => p.metadata?.name === victim),
      'op pod replaced',
    );
    const deployments = await watch(
      cluster.kc,
      '/apis/apps/v1/deployments',
      () => apps.listDeploymentForAllNamespaces(),
      NS,
    );
    await deployments.until(
      (l) =>
        l.some(
          (d) => d.metadata?.name === 'op' && d.status?.readyReplicas === 2 && d.status.updatedReplicas === 2,
        ),
      'deployment status',
    );
    await deployments.stop();
    expect(ops(pods.list())).toHaveLength(2);
  });
});
