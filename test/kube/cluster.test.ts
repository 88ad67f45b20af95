// The done-when item: a StatefulSet of real pbx pods, reached through the Service proxy.
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCluster } from './cluster.js';
import type { Cluster } from './cluster.js';
import { podReady, watchPods } from './controllers/testing.js';
import type { Watcher } from './controllers/testing.js';

const NS = 'default';
const PBX = path.join(REPO_ROOT, 'dist/pbx/main.js');
let cluster: Cluster;
let pods: Watcher<V1Pod>;

beforeAll(async () => {
  if (!fs.existsSync(PBX))
    throw new Error(`${PBX} is missing: run \`npm run build\` (tsc -p tsconfig.build.json) first`);
  cluster = await startCluster();
  pods = await watchPods(cluster.kc);
});

afterAll(async () => {
  await pods?.stop();
  await cluster?.stop();
});

const fromPodIp = (name: string) => ({ name, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });

function pbxSet(replicas: number): V1StatefulSet {
  return {
    metadata: { name: 'pbx', namespace: NS },
    spec: {
      replicas,
      serviceName: 'pbx',
      selector: { matchLabels: { app: 'pbx' } },
      updateStrategy: { type: 'OnDelete' },
      template: {
        metadata: { labels: { app: 'pbx' } },
        spec: {
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'pbx',
              image: 'ghcr.io/sippbx/sippbx:0.1.0',
              args: ['--config', '/etc/sippbx/config.yaml'],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                fromPodIp('SIPPBX_SIP_LISTEN'),
                fromPodIp('SIPPBX_HTTP_LISTEN'),
                fromPodIp('SIPPBX_MEDIA_LISTEN'),
              ],
              ports: [
                { name: 'sip-udp', containerPort: 5060, protocol: 'UDP' },
                { name: 'sip-tcp', containerPort: 5060 },
                { name: 'http', containerPort: 8080 },
              ],
              readinessProbe: { httpGet: { path: '/health/ready', port: 'http' }, periodSeconds: 1 },
              livenessProbe: { httpGet: { path: '/health/live', port: 'http' }, periodSeconds: 5 },
              volumeMounts: [{ name: 'config', mountPath: '/etc/sippbx' }],
            },
          ],
          volumes: [{ name: 'config', configMap: { name: 'pbx-config' } }],
        },
      },
    },
  };
}

function options(host: string, port: number, callId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('no answer to OPTIONS'));
    }, 5000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg.toString());
    });
    sock.bind(0, '127.0.0.1', () => {
      const local = sock.address().port;
      const req = [
        `OPTIONS sip:pbx@${host}:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-${callId};rport`,
        'Max-Forwards: 70',
        `From: <sip:probe@127.0.0.1>;tag=${callId}`,
        `To: <sip:pbx@${host}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 OPTIONS',
        `Contact: <sip:probe@127.0.0.1:${local}>`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      sock.send(req, port, host);
    });
  });
}

describe('cluster with the real pbx', () => {
  it('comes up Ready on distinct addresses, answers OPTIONS via the Service, scales down highest first with SIGTERM', async () => {
    const core = cluster.kc.makeApiClient(CoreV1Api);
    const apps = cluster.kc.makeApiClient(AppsV1Api);
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'pbx-config' }, data: { 'config.yaml': 'logging:\n  level: info\n' } },
    });
    await core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: 'pbx' },
        spec: {
          selector: { app: 'pbx' },
          sessionAffinity: 'ClientIP',
          ports: [
            { name: 'sip-udp', port: 5060, protocol: 'UDP', targetPort: 'sip-udp' },
            { name: 'sip-tcp', port: 5060, protocol: 'TCP', targetPort: 'sip-tcp' },
          ],
        },
      },
    });
    await apps.createNamespacedStatefulSet({ namespace: NS, body: pbxSet(3) });
    const mine = (l: readonly V1Pod[]) => l.filter((p) => p.metadata?.labels?.app === 'pbx');
    const up = mine(
      await pods.until((l) => mine(l).filter(podReady).length === 3, '3 pbx pods Ready', 30_000),
    );
    const ips = up.map((p) => p.status?.podIP ?? '');
    expect(new Set(ips).size).toBe(3);

    const svc = await cluster.serviceAddress(NS, 'pbx', 'sip-udp');
    await cluster.proxy.waitForBackends(NS, 'pbx', 'sip-udp', (b) => b.length === 3);
    const answer = await options(svc.host, svc.port, 'opt-1');
    expect(answer.startsWith('SIP/2.0 200')).toBe(true);
    expect(answer).toContain('Call-ID: opt-1');

    pods.events.length = 0;
    await apps.patchNamespacedStatefulSetScale(
      { namespace: NS, name: 'pbx', body: { spec: { replicas: 1 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await pods.until((l) => mine(l).length === 1, 'pbx scaled to 1', 30_000);
    expect(pods.events.filter((e) => e.verb === 'delete').map((e) => e.obj.metadata?.name)).toEqual([
      'pbx-2',
      'pbx-1',
    ]);
    for (const name of ['pbx-2', 'pbx-1']) expect(cluster.logs(name)).toMatch(/"signal":"SIGTERM"/);
    expect(cluster.logs('pbx-0')).not.toMatch(/"signal":"SIGTERM"/);
    await cluster.proxy.waitForBackends(NS, 'pbx', 'sip-udp', (b) => b.length === 1);
    expect((await options(svc.host, svc.port, 'opt-2')).startsWith('SIP/2.0 200')).toBe(true);
  });
});
