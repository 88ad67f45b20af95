// Leader election on a Lease in the in-process API server, with short durations: one of two candidates
// leads; a graceful stop releases the lease for an immediate takeover; a killed leader (stops renewing)
// is replaced after about a lease duration; a leader whose lease is taken stops leading.
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLeaderElector, defaultIdentity } from '../../operator/controller/runtime/leader.js';
import type { LeaderElector, LeaderElectorOptions } from '../../operator/controller/runtime/leader.js';
import { createOperatorMetrics } from '../../operator/controller/runtime/metrics.js';
import { createLogger } from '../../pbx/core/logger.js';
import { startApiServer, type ApiServer } from '../kube/index.js';

const sink = { write: () => true } as unknown as NodeJS.WritableStream;
const logger = createLogger('error', process.env['DEBUG_RT'] ? process.stderr : sink);

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let server: ApiServer;
let kc: KubeConfig;
const electors: LeaderElector[] = [];
beforeAll(async () => {
  server = await startApiServer();
  kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  server.store.create('v1/namespaces', { metadata: { name: 'ops' } });
});
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
});
afterAll(async () => {
  await server.stop();
});

type Log = string[];
function candidate(lease: string, identity: string, log: Log, extra: Partial<LeaderElectorOptions> = {}) {
  const e = createLeaderElector({
    kubeConfig: kc,
    leaseName: lease,
    namespace: 'ops',
    identity,
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    logger,
    onStartedLeading: () => log.push(`${identity} started`),
    onStoppedLeading: (reason) => log.push(`${identity} stopped:${reason}`),
    ...extra,
  });
  electors.push(e);
  return e;
}
const holder = (lease: string): string | undefined =>
  (
    server.store.find('coordination.k8s.io/v1/leases', 'ops', lease) as
      { spec?: { holderIdentity?: string } } | undefined
  )?.spec?.holderIdentity;
const renewTime = (lease: string): unknown =>
  (
    server.store.find('coordination.k8s.io/v1/leases', 'ops', lease) as
      { spec?: { renewTime?: string } } | undefined
  )?.spec?.renewTime;

describe('leader election', () => {
  it('exactly one of two candidates leads, and it keeps renewing', async () => {
    const log: Log = [];
    const metrics = createOperatorMetrics({ processMetrics: false });
    const a = candidate('one', 'a', log, { metrics: metrics.leaderElection('one') });
    const b = candidate('one', 'b', log);
    a.start();
    b.start();
    a.start(); // idempotent
    await waitFor(() => log.length === 1);
    const leader = a.isLeader() ? a : b;
    const standby = leader === a ? b : a;
    expect(holder('one')).toBe(leader.identity);
    // three renewals later still one leader, and the standby knows who it is
    for (let i = 0; i < 3; i++) {
      const before = renewTime('one');
      await waitFor(() => renewTime('one') !== before);
    }
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(log).toEqual([`${leader.identity} started`]);
    expect(standby.leader()).toBe(leader.identity);
    expect(await metrics.registry.metrics()).toContain(
      `leader_election_master_status{name="one"} ${a.isLeader() ? 1 : 0}`,
    );
  });

  it('a graceful stop releases the lease and the standby takes over at once', async () => {
    const log: Log = [];
    const a = candidate('two', 'a', log);
    a.start();
    await waitFor(() => a.isLeader());
    const b = candidate('two', 'b', log);
    b.start();
    await waitFor(() => b.leader() === 'a');
    const t0 = Date.now();
    await a.stop();
    await a.done;
    expect(a.isLeader()).toBe(false);
    await waitFor(() => b.isLeader());
    expect(Date.now() - t0).toBeLessThan(700); // well under the 1 s lease duration
    expect(log).toEqual(['a started', 'a stopped:stopped', 'b started']);
    const lease = server.store.get('coordination.k8s.io/v1/leases', 'ops', 'two') as {
      spec: { holderIdentity?: string; leaseTransitions?: number };
    };
    expect(lease.spec.holderIdentity).toBe('b');
    expect(lease.spec.leaseTransitions).toBe(1);
  });

  it('a killed leader (no more renewals) is replaced after about one lease duration', async () => {
    const log: Log = [];
    const a = candidate('three', 'a', log);
    a.start();
    await waitFor(() => a.isLeader());
    const b = candidate('three', 'b', log);
    b.start();
    await waitFor(() => b.leader() === 'a');
    await a.stop({ release: false }); // as if the process died
    const t0 = Date.now();
    expect(holder('three')).toBe('a');
    await waitFor(() => b.isLeader(), 3000);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThan(700);
    expect(took).toBeLessThan(2000);
    expect(holder('three')).toBe('b');
  });

  it('a leader whose lease is taken over stops leading', async () => {
    const log: Log = [];
    const a = candidate('four', 'a', log);
    a.start();
    await waitFor(() => a.isLeader());
    server.store.patch('coordination.k8s.io/v1/leases', 'ops', 'four', {
      spec: { holderIdentity: 'intruder' },
    });
    await a.done;
    expect(a.isLeader()).toBe(false);
    expect(a.leader()).toBe('intruder');
    expect(log).toEqual(['a started', 'a stopped:lost']);
    await a.stop(); // nothing to release
    expect(holder('four')).toBe('intruder');
  });

  it('gives up leadership when it cannot renew within the renew deadline (API server unreachable)', async () => {
    // A TCP proxy in front of the API server that the test can cut, as a network partition would.
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect(server.port, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as AddressInfo).port;
    const viaProxy = new KubeConfig();
    viaProxy.loadFromFile(server.kubeconfigPath);
    const cluster = viaProxy.getCurrentCluster();
    if (cluster === null) throw new Error('no cluster');
    viaProxy.clusters = [{ ...cluster, server: `https://127.0.0.1:${port}` }];
    viaProxy.contexts = viaProxy.contexts.map((c) => ({ ...c, cluster: cluster.name }));

    const log: Log = [];
    const a = candidate('five', 'a', log, { kubeConfig: viaProxy });
    a.start();
    await waitFor(() => a.isLeader());
    const t0 = Date.now();
    await new Promise<void>((r) => {
      proxy.close(() => r());
      for (const s of sockets) s.destroy();
    });
    await a.done;
    const took = Date.now() - t0;
    expect(log).toEqual(['a started', 'a stopped:lost']);
    expect(took).toBeGreaterThan(400); // renewals kept failing for the 600 ms renew deadline
    expect(took).toBeLessThan(1500);
    expect(holder('five')).toBe('a'); // nobody could release it: a standby waits out the lease
  });

  it('identity is POD_NAME, else hostname and pid', () => {
    expect(defaultIdentity({ POD_NAME: 'sippbx-operator-0' })).toBe('sippbx-operator-0');
    expect(defaultIdentity({})).toMatch(new RegExp(`_${process.pid}$`));
  });
});
