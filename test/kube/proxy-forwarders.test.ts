// UDP/TCP forwarders on their own: replies flow back per client, flows are bounded and idle ones closed.
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Balancer } from './proxy/balancer.js';
import { startTcpForwarder, startUdpForwarder } from './proxy/ports.js';
import type { PortForwarder } from './proxy/ports.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function udpBackend(tag: string): Promise<number> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, r) => sock.send(`${tag}:${m.toString()}`, r.port, r.address));
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  return sock.address().port;
}

function client(): dgram.Socket {
  const sock = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  return sock;
}

async function ask(sock: dgram.Socket, fwd: PortForwarder, text: string): Promise<string> {
  sock.send(text, fwd.port, '127.0.0.1');
  const [msg] = (await once(sock, 'message')) as [Buffer];
  return msg.toString();
}

/** Resolves when `fn` holds; checks on a short interval (the idle sweep runs on its own timer). */
async function eventually(fn: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('UDP forwarder', () => {
  it('answers each client through its own flow, evicts the least recently used over maxFlows, closes idle flows', async () => {
    const port = await udpBackend('b1');
    const bal = new Balancer({ clientIpAffinity: true, timeoutMs: 60_000 });
    bal.setBackends([{ ip: '127.0.0.1', port, pod: 'b1' }]);
    const fwd = await startUdpForwarder('127.0.0.1', 0, bal, { maxFlows: 2, idleMs: 200 });
    cleanups.push(() => fwd.close());
    const [a, b, c] = [client(), client(), client()];
    expect(await ask(a, fwd, 'hi a')).toBe('b1:hi a');
    expect(await ask(b, fwd, 'hi b')).toBe('b1:hi b');
    expect(fwd.flows()).toBe(2);
    expect(await ask(c, fwd, 'hi c')).toBe('b1:hi c');
    expect(fwd.flows()).toBe(2);
    // The evicted client still gets answers: a new flow replaces another.
    expect(await ask(a, fwd, 'again')).toBe('b1:again');
    await eventually(() => fwd.flows() === 0, 'idle flows closed');
  });

  it('drops datagrams when no backend is ready, and moves a flow off a backend that left', async () => {
    const p1 = await udpBackend('b1');
    const p2 = await udpBackend('b2');
    const bal = new Balancer({ clientIpAffinity: true, timeoutMs: 60_000 });
    const fwd = await startUdpForwarder('127.0.0.1', 0, bal, { maxFlows: 10, idleMs: 10_000 });
    cleanups.push(() => fwd.close());
    const a = client();
    a.send('lost', fwd.port, '127.0.0.1');
    await eventually(() => fwd.dropped() === 1, 'the datagram dropped');
    bal.setBackends([{ ip: '127.0.0.1', port: p1, pod: 'b1' }]);
    expect(await ask(a, fwd, 'one')).toBe('b1:one');
    bal.setBackends([{ ip: '127.0.0.1', port: p2, pod: 'b2' }]);
    expect(await ask(a, fwd, 'two')).toBe('b2:two');
  });
});

describe('TCP forwarder', () => {
  it('splices connections to a backend and refuses them without one', async () => {
    const server = net.createServer((s) => s.on('data', (d) => s.write(`t:${d.toString()}`)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const bal = new Balancer({ clientIpAffinity: false, timeoutMs: 0 });
    const fwd = await startTcpForwarder('127.0.0.1', 0, bal, { maxFlows: 4, idleMs: 10_000 });
    cleanups.push(() => fwd.close());
    const refused = net.connect(fwd.port, '127.0.0.1');
    await once(refused, 'close');
    expect(fwd.dropped()).toBe(1);
    bal.setBackends([{ ip: '127.0.0.1', port, pod: 'x' }]);
    const sock = net.connect(fwd.port, '127.0.0.1', () => sock.write('ping'));
    const [data] = (await once(sock, 'data')) as [Buffer];
    expect(data.toString()).toBe('t:ping');
    sock.destroy();
  });
});
