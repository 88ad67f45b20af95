// Endpoints controller and Service proxy against the in-process API server.
import dgram from 'node:dgram';
import net from 'node:net';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1Endpoints, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from './cluster.js';
import type { Cluster } from './cluster.js';
import { ECHO_IMAGES, echoStatefulSet, podReady, watch, watchPods } from './controllers/testing.js';
import type { Watcher } from './controllers/testing.js';

const NS = 'default';
let cluster: Cluster;
let core: CoreV1Api;
let pods: Watcher<V1Pod>;
let endpoints: Watcher<V1Endpoints>;

beforeAll(async () => {
  cluster = await startCluster({ images: ECHO_IMAGES });
  core = cluster.kc.makeApiClient(CoreV1Api);
  pods = await watchPods(cluster.kc);
  endpoints = await watch<V1Endpoints>(
    cluster.kc,
    '/api/v1/endpoints',
    () => core.listEndpointsForAllNamespaces(),
    NS,
  );
  const apps = cluster.kc.makeApiClient(AppsV1Api);
  await apps.createNamespacedStatefulSet({
    namespace: NS,
    body: echoStatefulSet('px', 3, { policy: 'Parallel' }),
  });
  await core.createNamespacedService({
    namespace: NS,
    body: {
      metadata: { name: 'px' },
      spec: {
        selector: { app: 'px' },
        sessionAffinity: 'ClientIP',
        ports: [
          { name: 'sip-udp', port: 5060, protocol: 'UDP', targetPort: 'echo-udp' },
          { name: 'sip-tcp', port: 5060, protocol: 'TCP', targetPort: 'echo-tcp' },
          { name: 'http', port: 8080, targetPort: 'http' },
        ],
      },
    },
  });
  await pods.until(
    (l) => l.filter((p) => p.metadata?.labels?.app === 'px' && podReady(p)).length === 3,
    '3 px pods ready',
  );
});

afterAll(async () => {
  await endpoints?.stop();
  await pods?.stop();
  await cluster?.stop();
});

const readyIps = (l: readonly V1Endpoints[]) =>
  (l.find((e) => e.metadata?.name === 'px')?.subsets ?? [])
    .flatMap((s) => (s.addresses ?? []).map((a) => a.ip))
    .sort();
const notReadyIps = (l: readonly V1Endpoints[]) =>
  (l.find((e) => e.metadata?.name === 'px')?.subsets ?? [])
    .flatMap((s) => (s.notReadyAddresses ?? []).map((a) => a.ip))
    .sort();

function udpAsk(host: string, port: number, from: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('no UDP answer'));
    }, 3000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg.toString());
    });
    sock.bind(0, from, () => sock.send(text, port, host));
  });
}

function tcpAsk(host: string, port: number, from: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, localAddress: from }, () => sock.write(text));
    sock.setTimeout(3000, () => sock.destroy(new Error('no TCP answer')));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString());
    });
    sock.once('error', reject);
  });
}

describe('Endpoints', () => {
  it('lists ready pods with ports resolved by name; an unready pod moves to notReadyAddresses', async () => {
    const ips = pods
      .list()
      .filter((p) => p.metadata?.labels?.app === 'px')
      .map((p) => p.status?.podIP ?? '')
      .sort();
    await endpoints.until((l) => readyIps(l).join() === ips.join(), 'endpoints of 3 pods');
    const ep = endpoints.list().find((e) => e.metadata?.name === 'px');
    expect(ep?.subsets?.[0]?.ports?.map((p) => `${p.name}:${p.port}/${p.protocol}`).sort()).toEqual([
      'http:8080/TCP',
      'sip-tcp:5060/TCP',
      'sip-udp:5060/UDP',
    ]);
    const victim = ips[2] ?? '';
    await fetch(`http://${victim}:8080/unready`);
    const after = await endpoints.until((l) => !readyIps(l).includes(victim), 'victim leaves addresses');
    expect(readyIps(after)).toEqual(ips.slice(0, 2));
    expect(notReadyIps(after)).toEqual([victim]);
  });
});

describe('cluster DNS', () => {
  it('resolves Service names to their proxy address and StatefulSet pod names to pod IPs, in Node pods', async () => {
    const script = [
      "const dns = require('node:dns');",
      "const http = require('node:http');",
      "dns.promises.lookup('px-0.px').then((a) => console.log('pod', a.address));",
      "http.get('http://px.default.svc.cluster.local:8080/', (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => console.log('svc', b)); });",
    ].join('\n');
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name: 'dns-client', namespace: NS },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'c', image: 'node:24', command: ['node', '-e', script] }],
        },
      },
    });
    await pods.until(
      (l) => l.find((p) => p.metadata?.name === 'dns-client')?.status?.phase === 'Succeeded',
      'dns-client done',
    );
    const px0 = pods.list().find((p) => p.metadata?.name === 'px-0');
    const logs = cluster.logs('dns-client');
    expect(logs).toContain(`pod ${px0?.status?.podIP ?? '?'}`);
    expect(logs).toMatch(/svc px-[0-2]/);
  });
});

describe('Service proxy', () => {
  it('forwards UDP and TCP to ready backends only, with client-IP affinity', async () => {
    const udp = await cluster.serviceAddress(NS, 'px', 'sip-udp');
    const tcp = await cluster.serviceAddress(NS, 'px', 'sip-tcp', 'TCP');
    expect(udp.host).toMatch(/^127\.0\.2\.\d+$/);
    expect(udp.port).toBe(5060);
    expect(tcp.host).toBe(udp.host);
    const ready = pods
      .list()
      .filter((p) => p.metadata?.labels?.app === 'px' && podReady(p))
      .map((p) => p.metadata?.name ?? '');
    expect(ready).toHaveLength(2);
    // The proxy follows Endpoints: it has dropped the unready pod too.
    const backends = await cluster.proxy.waitForBackends(NS, 'px', 'sip-udp', (b) => b.length === 2);
    expect(backends.every((b) => b.endsWith(':5060'))).toBe(true);
    const clients = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
    const seen = new Set<string>();
    for (const from of clients) {
      const first = (await udpAsk(udp.host, udp.port, from, 'OPTIONS')).split(':')[0] ?? '';
      expect(ready).toContain(first);
      seen.add(first);
      for (let i = 0; i < 3; i++)
        expect(await udpAsk(udp.host, udp.port, from, `again ${i}`)).toBe(`${first}:again ${i}`);
      const viaTcp = (await tcpAsk(tcp.host, tcp.port, from, 'hello')).split(':');
      expect(ready).toContain(viaTcp[0]);
      expect(await tcpAsk(tcp.host, tcp.port, from, 'again')).toBe(`${viaTcp[0]}:again`);
    }
    // Round-robin across clients reached both ready backends; the unready one never answered.
    expect(seen.size).toBe(2);
  });
});
