/**
 * A small kube-proxy: every Service (except ExternalName) gets its own loopback address
 * (127.0.2.N by default, leased like pod IPs) and, per Service port, a UDP or TCP forwarder on
 * `address:port` to the ready endpoints of that port (see `balancer.ts` for affinity). It is an API
 * client watching Services and Endpoints. Clients reach a Service through `address()`.
 */
import fs from 'node:fs';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, V1Endpoints, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { readyBackends } from '../controllers/endpoints-plan.js';
import { keyOf, splitKey } from '../controllers/pods.js';
import { createWorkQueue, watchResource } from '../controllers/runtime.js';
import type { ReconcileResult } from '../controllers/runtime.js';
import { createIpPool } from '../kubelet/ip-pool.js';
import { Balancer } from './balancer.js';
import { startTcpForwarder, startUdpForwarder } from './ports.js';
import type { ForwardLimits, PortForwarder } from './ports.js';

export { Balancer } from './balancer.js';

/** Options of `startServiceProxy`. */
export interface ServiceProxyOptions {
  readonly kc: KubeConfig;
  /** First three octets of Service addresses; default `127.0.2`. */
  readonly serviceSubnet?: string;
  readonly leaseDir?: string;
  /** Per Service port: UDP flows / TCP connections (default 1024). */
  readonly maxFlows?: number;
  /** Idle UDP flows (and TCP connections) are closed after this long; default 60 s. */
  readonly idleMs?: number;
  /**
   * Where to keep the cluster's DNS table (JSON `{ fqdn: [ip] }`, read by `kubelet/dns-preload.ts`):
   * `<svc>.<ns>.svc.cluster.local` -> the Service's proxy address (headless Services: their ready
   * endpoints), `<hostname>.<svc>.<ns>.svc.cluster.local` -> the pod IP of each endpoint with a hostname.
   */
  readonly hostsFile?: string;
  readonly onError?: (err: unknown) => void;
}

/** Where a Service port can be reached. */
export interface ServiceAddress {
  readonly host: string;
  readonly port: number;
  readonly protocol: string;
}

/** A running proxy. */
export interface ServiceProxy {
  readonly synced: Promise<void>;
  /** The address of a Service port (by port number or name; the first port by default), once bound. */
  address(
    namespace: string,
    name: string,
    port?: number | string,
    protocol?: string,
  ): ServiceAddress | undefined;
  /** Like `address`, waiting (up to `timeoutMs`, default 10 s) until the forwarder is bound. */
  waitForAddress(
    namespace: string,
    name: string,
    port?: number | string,
    protocol?: string,
    timeoutMs?: number,
  ): Promise<ServiceAddress>;
  /** Ready backends (`ip:port`) of a Service port as the proxy sees them (for tests). */
  backends(namespace: string, name: string, port?: number | string, protocol?: string): readonly string[];
  /** Resolves once `predicate` holds for the backends of a Service port (checked after every proxy sync). */
  waitForBackends(
    namespace: string,
    name: string,
    port: number | string | undefined,
    predicate: (backends: readonly string[]) => boolean,
    timeoutMs?: number,
  ): Promise<readonly string[]>;
  stop(): Promise<void>;
}

interface PortEntry {
  readonly spec: V1ServicePort;
  readonly balancer: Balancer;
  forwarder: PortForwarder | undefined;
  error: string | undefined;
}

interface ServiceEntry {
  readonly ip: string;
  readonly ports: Map<string, PortEntry>;
}

function portKey(p: V1ServicePort): string {
  return `${p.protocol ?? 'TCP'}/${p.port}`;
}

function findPort(
  entry: ServiceEntry,
  port: number | string | undefined,
  protocol: string | undefined,
): PortEntry | undefined {
  for (const p of entry.ports.values()) {
    if (protocol !== undefined && (p.spec.protocol ?? 'TCP') !== protocol) continue;
    if (port === undefined || p.spec.port === port || p.spec.name === port) return p;
  }
  return undefined;
}

/** Starts the Service proxy. */
export function startServiceProxy(opts: ServiceProxyOptions): ServiceProxy {
  const core = opts.kc.makeApiClient(CoreV1Api);
  const onError = (err: unknown): void => opts.onError?.(err);
  const pool = createIpPool({
    prefix: opts.serviceSubnet ?? '127.0.2',
    ...(opts.leaseDir === undefined ? {} : { lockDir: opts.leaseDir }),
  });
  const limits: ForwardLimits = { maxFlows: opts.maxFlows ?? 1024, idleMs: opts.idleMs ?? 60_000 };
  const entries = new Map<string, ServiceEntry>();
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const queue = createWorkQueue(reconcile, (_k, err) => onError(err));
  const services = watchResource<V1Service>({
    kc: opts.kc,
    path: '/api/v1/services',
    list: () => core.listServiceForAllNamespaces(),
    onChange: (s) => queue.add(keyOf(s)),
    onError,
  });
  const endpoints = watchResource<V1Endpoints>({
    kc: opts.kc,
    path: '/api/v1/endpoints',
    list: () => core.listEndpointsForAllNamespaces(),
    onChange: (e) => queue.add(keyOf(e)),
    onError,
  });
  const informersSynced = Promise.all([services.synced, endpoints.synced]);

  async function closeEntry(key: string): Promise<void> {
    const entry = entries.get(key);
    if (entry === undefined) return;
    entries.delete(key);
    await Promise.all([...entry.ports.values()].map((p) => p.forwarder?.close() ?? Promise.resolve()));
    pool.release(entry.ip);
  }

  async function openPort(entry: ServiceEntry, spec: V1ServicePort, svc: V1Service): Promise<PortEntry> {
    const affinity = svc.spec?.sessionAffinity === 'ClientIP';
    const timeoutSeconds = svc.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10_800;
    const balancer = new Balancer({
      clientIpAffinity: affinity,
      timeoutMs: timeoutSeconds * 1000,
      maxClients: limits.maxFlows,
    });
    const pe: PortEntry = { spec, balancer, forwarder: undefined, error: undefined };
    const protocol = spec.protocol ?? 'TCP';
    try {
      pe.forwarder =
        protocol === 'UDP'
          ? await startUdpForwarder(entry.ip, spec.port, balancer, limits)
          : protocol === 'TCP'
            ? await startTcpForwarder(entry.ip, spec.port, balancer, limits)
            : undefined;
      if (pe.forwarder === undefined) pe.error = `protocol ${protocol} is not proxied`;
    } catch (err) {
      pe.error = (err as Error).message;
      onError(err);
    }
    return pe;
  }

  let lastHosts = '';
  /** Rewrites the DNS table when it changed (write + rename, so readers never see half a file). */
  function writeHosts(): void {
    if (opts.hostsFile === undefined) return;
    const table: Record<string, string[]> = {};
    for (const svc of services.list()) {
      const ns = svc.metadata?.namespace ?? 'default';
      const name = svc.metadata?.name ?? '';
      const fqdn = `${name}.${ns}.svc.cluster.local`;
      const ep = endpoints.get(name, ns);
      const ready = (ep?.subsets ?? []).flatMap((s) => s.addresses ?? []);
      const entry = entries.get(`${ns}/${name}`);
      if (svc.spec?.clusterIP === 'None') table[fqdn] = [...new Set(ready.map((a) => a.ip))];
      else if (entry !== undefined) table[fqdn] = [entry.ip];
      for (const a of ready) if (a.hostname !== undefined) table[`${a.hostname}.${fqdn}`] = [a.ip];
    }
    const text = JSON.stringify(table);
    if (text === lastHosts) return;
    const tmp = `${opts.hostsFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, opts.hostsFile);
    lastHosts = text;
  }

  async function reconcile(key: string): Promise<ReconcileResult> {
    await informersSynced;
    const { namespace, name } = splitKey(key);
    const svc = services.get(name, namespace);
    if (svc === undefined || svc.spec?.type === 'ExternalName') {
      await closeEntry(key);
      writeHosts();
      notify();
      return {};
    }
    let entry = entries.get(key);
    if (entry === undefined) {
      entry = { ip: pool.allocate(), ports: new Map() };
      entries.set(key, entry);
    }
    const wanted = new Map((svc.spec?.ports ?? []).map((p) => [portKey(p), p]));
    for (const [k, pe] of entry.ports) {
      if (wanted.has(k)) continue;
      entry.ports.delete(k);
      await pe.forwarder?.close();
    }
    for (const [k, spec] of wanted) {
      if (!entry.ports.has(k)) entry.ports.set(k, await openPort(entry, spec, svc));
    }
    const ep = endpoints.get(name, namespace);
    for (const [k, pe] of entry.ports) pe.balancer.setBackends(readyBackends(ep, wanted.get(k) ?? pe.spec));
    writeHosts();
    notify();
    return {};
  }

  const lookup = (
    namespace: string,
    name: string,
    port?: number | string,
    protocol?: string,
  ): PortEntry | undefined => {
    const entry = entries.get(`${namespace}/${name}`);
    return entry === undefined ? undefined : findPort(entry, port, protocol);
  };

  const address = (
    namespace: string,
    name: string,
    port?: number | string,
    protocol?: string,
  ): ServiceAddress | undefined => {
    const entry = entries.get(`${namespace}/${name}`);
    const pe = entry === undefined ? undefined : findPort(entry, port, protocol);
    if (entry === undefined || pe?.forwarder === undefined) return undefined;
    return { host: entry.ip, port: pe.forwarder.port, protocol: pe.spec.protocol ?? 'TCP' };
  };

  const backends = (
    namespace: string,
    name: string,
    port?: number | string,
    protocol?: string,
  ): readonly string[] =>
    (lookup(namespace, name, port, protocol)?.balancer.backends() ?? []).map((b) => `${b.ip}:${b.port}`);

  return {
    synced: informersSynced.then(() => undefined),
    address,
    waitForAddress(namespace, name, port, protocol, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const a = address(namespace, name, port, protocol);
          if (a === undefined) {
            const err = lookup(namespace, name, port, protocol)?.error;
            if (err === undefined) return false;
            done();
            reject(new Error(`service ${namespace}/${name} port ${String(port)}: ${err}`));
            return true;
          }
          done();
          resolve(a);
          return true;
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `service ${namespace}/${name} port ${String(port ?? '(first)')} not proxied within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        const waiter = (): void => {
          check();
        };
        if (!check()) waiters.add(waiter);
      });
    },
    backends,
    waitForBackends(namespace, name, port, predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const waiter = (): void => {
          const now = backends(namespace, name, port);
          if (!predicate(now)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(now);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`backends of ${namespace}/${name} did not match within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
        waiter();
      });
    },
    async stop() {
      await queue.stop();
      await Promise.all([services.stop(), endpoints.stop()]);
      await Promise.all([...entries.keys()].map((k) => closeEntry(k)));
      pool.close();
    },
  };
}
