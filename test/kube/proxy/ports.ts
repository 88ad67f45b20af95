/**
 * Forwarders for one Service port on a loopback address. UDP keeps one upstream socket per client
 * address (so replies from the backend go back to that client), bounded by `maxFlows` (least recently
 * used flow evicted) and closed after `idleMs` without traffic. TCP splices each accepted connection
 * to a backend, bounded by `maxConnections`.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Backend } from '../controllers/endpoints-plan.js';
import type { Balancer } from './balancer.js';

/** Limits of a port forwarder. */
export interface ForwardLimits {
  readonly maxFlows: number;
  readonly idleMs: number;
}

/** A bound forwarder. */
export interface PortForwarder {
  readonly port: number;
  /** Number of live UDP flows or TCP connections. */
  flows(): number;
  /** Datagrams dropped / connections refused for want of a ready backend. */
  dropped(): number;
  close(): Promise<void>;
}

interface UdpFlow {
  readonly upstream: dgram.Socket;
  readonly backend: Backend;
  lastSeen: number;
}

/** Binds a UDP forwarder on `host:port`. */
export function startUdpForwarder(
  host: string,
  port: number,
  balancer: Balancer,
  limits: ForwardLimits,
): Promise<PortForwarder> {
  const socket = dgram.createSocket({ type: 'udp4' });
  const flows = new Map<string, UdpFlow>();
  let dropped = 0;
  const closeFlow = (key: string): void => {
    const f = flows.get(key);
    if (f === undefined) return;
    flows.delete(key);
    f.upstream.close();
  };
  const openFlow = (key: string, clientIp: string, clientPort: number): UdpFlow | undefined => {
    const backend = balancer.pick(clientIp);
    if (backend === undefined) return undefined;
    while (flows.size >= limits.maxFlows) {
      const oldest = flows.keys().next().value;
      if (oldest === undefined) break;
      closeFlow(oldest);
    }
    const upstream = dgram.createSocket({ type: 'udp4' });
    upstream.on('message', (reply) => {
      const f = flows.get(key);
      if (f !== undefined) f.lastSeen = Date.now();
      socket.send(reply, clientPort, clientIp);
    });
    upstream.on('error', () => closeFlow(key));
    const flow: UdpFlow = { upstream, backend, lastSeen: Date.now() };
    flows.set(key, flow);
    return flow;
  };
  socket.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = flows.get(key);
    if (flow !== undefined && !balancer.isReady(flow.backend)) {
      closeFlow(key);
      flow = undefined;
    }
    flow ??= openFlow(key, rinfo.address, rinfo.port);
    if (flow === undefined) {
      dropped++; // no ready endpoint: dropped, as kube-proxy's REJECT rule does for UDP
      return;
    }
    flows.delete(key);
    flows.set(key, flow); // most recently used last
    flow.lastSeen = Date.now();
    flow.upstream.send(msg, flow.backend.port, flow.backend.ip);
  });
  const sweep = setInterval(
    () => {
      const cutoff = Date.now() - limits.idleMs;
      for (const [key, f] of flows) if (f.lastSeen < cutoff) closeFlow(key);
    },
    Math.max(50, Math.floor(limits.idleMs / 2)),
  );
  sweep.unref();
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve({
        port: socket.address().port,
        flows: () => flows.size,
        dropped: () => dropped,
        close: () =>
          new Promise<void>((done) => {
            clearInterval(sweep);
            for (const key of [...flows.keys()]) closeFlow(key);
            socket.close(() => done());
          }),
      });
    });
  });
}

/** Binds a TCP forwarder on `host:port`. */
export function startTcpForwarder(
  host: string,
  port: number,
  balancer: Balancer,
  limits: ForwardLimits,
): Promise<PortForwarder> {
  const conns = new Set<net.Socket>();
  let refused = 0;
  const server = net.createServer((client) => {
    const backend = balancer.pick(client.remoteAddress ?? '');
    if (backend === undefined) {
      refused++;
      client.destroy(); // no ready endpoint: the connection is refused
      return;
    }
    const upstream = net.connect({ host: backend.ip, port: backend.port });
    conns.add(client);
    conns.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      conns.delete(client);
      conns.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.setTimeout(limits.idleMs, end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.maxConnections = limits.maxFlows;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr !== null ? addr.port : port,
        flows: () => conns.size / 2,
        dropped: () => refused,
        close: () =>
          new Promise<void>((done) => {
            for (const c of conns) c.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
