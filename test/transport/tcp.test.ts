import { once } from 'node:events';
import { createServer, Socket } from 'node:net';
import type { Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { PbxError } from '../../pbx/core/errors.js';
import { createTransport, nodeSocketFactory } from '../../pbx/transport/index.js';
import type {
  TransportErrorDetail,
  TransportErrorKind,
  TransportOptions,
  TransportSource,
} from '../../pbx/transport/index.js';
import { Inbox, readUntil, sipRequest, tcpClient, write } from './helpers.js';

type Received = { data: Buffer; source: TransportSource };

const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function start(options: Partial<TransportOptions> & { listen: string }) {
  const transport = createTransport({ port: 0, udp: false, ...options });
  cleanup.push(() => transport.stop());
  const inbox = new Inbox<Received>();
  const errors = new Inbox<{ kind: TransportErrorKind; detail: TransportErrorDetail }>();
  transport.onMessage((data, source) => inbox.push({ data, source }));
  transport.onError((kind, detail) => errors.push({ kind, detail }));
  await transport.start();
  return { transport, inbox, errors, port: transport.address().port };
}

async function client(host: string, port: number): Promise<Socket> {
  const socket = await tcpClient(host, port);
  cleanup.push(() => socket.destroy());
  return socket;
}

const SEND_ERROR = { code: 'PBX_ERR_TRANSPORT_SEND' };

describe.each([
  ['IPv4', '127.0.0.1'],
  ['IPv6', '::1'],
])('TCP over %s', (_family, host) => {
  it('frames a message written in pieces and replies on the same connection (RFC 3261 §18.2.2)', async () => {
    const { transport, inbox, port } = await start({ listen: host });
    const socket = await client(host, port);
    const message = sipRequest('v=0\r\n');
    await write(socket, message.subarray(0, 10));
    await write(socket, message.subarray(10, 60));
    await write(socket, Buffer.concat([message.subarray(60), sipRequest()]));

    const { data, source } = await inbox.next();
    expect(data).toEqual(message);
    expect((await inbox.next()).data).toEqual(sipRequest());
    expect(source).toMatchObject({
      transport: 'tcp',
      address: host,
      port: socket.localPort,
      localAddress: host,
      localPort: port,
    });
    expect(source.connectionId).toBeTypeOf('number');

    const reply = readUntil(socket, (b) => b.length >= 5);
    await transport.send({ ...source, transport: 'tcp' }, Buffer.from('reply'));
    expect((await reply).toString()).toBe('reply');
    expect(transport.stats()).toMatchObject({
      tcpConnectionsOpen: 1,
      tcpConnectionsAccepted: 1,
      messagesIn: 2,
    });
  });

  it('reuses one outbound connection per destination and delivers what comes back on it', async () => {
    const a = await start({ listen: host });
    const b = await start({ listen: host });
    const dest = { transport: 'tcp' as const, address: host, port: b.port };
    await Promise.all([a.transport.send(dest, sipRequest('1')), a.transport.send(dest, sipRequest('2'))]);
    // the same peer spelled another way (uncompressed IPv6) still finds the connection
    const spelled = host === '::1' ? '0:0:0:0:0:0:0:1' : host;
    await a.transport.send({ ...dest, address: spelled }, sipRequest('3'));

    const got = [await b.inbox.next(), await b.inbox.next(), await b.inbox.next()];
    expect(got.map((g) => g.data.toString().slice(-1))).toEqual(['1', '2', '3']);
    expect(new Set(got.map((g) => g.source.connectionId)).size).toBe(1);
    expect(a.transport.stats()).toMatchObject({
      tcpConnectionsOutbound: 1,
      tcpConnectionsOpen: 1,
      messagesOut: 3,
    });

    const first = got[0]!.source;
    await b.transport.send({ ...first, transport: 'tcp' }, sipRequest('back'));
    const back = await a.inbox.next();
    expect(back.data).toEqual(sipRequest('back'));
    expect(back.source).toMatchObject({ address: host, port: b.port });
  });

  it('answers a CRLFCRLF ping with a CRLF pong (RFC 5626 §4.4.1)', async () => {
    const { transport, port } = await start({ listen: host });
    const socket = await client(host, port);
    const pong = readUntil(socket, (b) => b.length >= 2);
    await write(socket, '\r\n\r\n');
    expect((await pong).toString()).toBe('\r\n');
    expect(transport.stats().keepAlivesIn).toBe(1);
  });

  it('closes a connection whose message is over the limit and reports it', async () => {
    const { transport, errors, port } = await start({ listen: host, maxMessageBytes: 1000 });
    const socket = await client(host, port);
    const closed = once(socket, 'close');
    await write(socket, sipRequest('x'.repeat(2000)));
    const { kind, detail } = await errors.next();
    expect(kind).toBe('framing');
    expect(detail.error).toMatchObject({ code: 'PBX_ERR_TRANSPORT_FRAMING', reason: 'messageTooLarge' });
    await closed;
    expect(transport.stats()).toMatchObject({ framingErrors: 1 });
  });

  it('rejects a send to a closed port with PBX_ERR_TRANSPORT_SEND', async () => {
    const { transport } = await start({ listen: host });
    const server = createServer();
    server.listen(0, host);
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const sent = transport.send({ transport: 'tcp', address: host, port }, sipRequest());
    await expect(sent).rejects.toBeInstanceOf(PbxError);
    await expect(sent).rejects.toMatchObject(SEND_ERROR);
    expect(transport.stats()).toMatchObject({ sendErrors: 1, tcpConnectionsOpen: 0 });
  });
});

describe('TCP connection management', () => {
  it('closes idle connections by the injected clock', async () => {
    const clock = fakeClock();
    const { transport, inbox, port } = await start({ listen: '127.0.0.1', clock, tcpIdleTimeoutMs: 1000 });
    const socket = await client('127.0.0.1', port);
    await write(socket, sipRequest());
    await inbox.next();
    clock.advance(600);
    const reply = readUntil(socket, (b) => b.length >= 1);
    await transport.send(
      { transport: 'tcp', address: '127.0.0.1', port: socket.localPort! },
      Buffer.from('k'),
    );
    await reply;
    clock.advance(600);
    expect(transport.stats().tcpConnectionsOpen).toBe(1);
    const closed = once(socket, 'close');
    clock.advance(400);
    await closed;
    expect(transport.stats()).toMatchObject({ tcpConnectionsIdleClosed: 1 });
    expect(clock.pending()).toBe(0);
  });

  it('refuses inbound connections beyond the cap and reports them', async () => {
    const { transport, errors, inbox, port } = await start({ listen: '127.0.0.1', maxTcpConnections: 1 });
    const first = await client('127.0.0.1', port);
    await write(first, sipRequest());
    await inbox.next();
    const second = await client('127.0.0.1', port);
    const closed = once(second, 'close');
    const { kind, detail } = await errors.next();
    expect(kind).toBe('connectionLimit');
    expect(detail.error).toMatchObject({ code: 'PBX_ERR_TRANSPORT_CONNECTION_LIMIT' });
    await closed;
    await expect(
      transport.send({ transport: 'tcp', address: '127.0.0.1', port: 9 }, sipRequest()),
    ).rejects.toMatchObject(SEND_ERROR);
    expect(transport.stats()).toMatchObject({ tcpConnectionsRefused: 1, tcpConnectionsOpen: 1 });
  });

  it('times out a connect that never completes, and shares it between concurrent sends', async () => {
    const clock = fakeClock();
    const hanging: Socket[] = [];
    const { transport } = await start({
      listen: '127.0.0.1',
      clock,
      tcpConnectTimeoutMs: 500,
      socketFactory: {
        ...nodeSocketFactory,
        connectTcp: () => {
          const socket = new Socket();
          hanging.push(socket);
          return socket;
        },
      },
    });
    const dest = { transport: 'tcp' as const, address: '192.0.2.1', port: 5060 };
    const sends = [transport.send(dest, sipRequest()), transport.send(dest, sipRequest())];
    clock.advance(500);
    for (const sent of sends) await expect(sent).rejects.toMatchObject(SEND_ERROR);
    expect(hanging).toHaveLength(1);
    expect(hanging[0]!.destroyed).toBe(true);
  });

  it('fails connects in flight when stopped', async () => {
    const { transport } = await start({
      listen: '127.0.0.1',
      socketFactory: { ...nodeSocketFactory, connectTcp: () => new Socket() },
    });
    const sent = transport.send({ transport: 'tcp', address: '192.0.2.1', port: 5060 }, sipRequest());
    await transport.stop();
    await expect(sent).rejects.toMatchObject(SEND_ERROR);
  });

  it('closes open connections on stop and is idempotent', async () => {
    const { transport, inbox, port } = await start({ listen: '127.0.0.1' });
    const socket = await client('127.0.0.1', port);
    await write(socket, sipRequest());
    const { source } = await inbox.next();
    const closed = once(socket, 'close');
    await Promise.all([transport.stop(), transport.stop()]);
    await closed;
    expect(transport.stats().tcpConnectionsOpen).toBe(0);
    await expect(transport.send({ ...source, transport: 'tcp' }, sipRequest())).rejects.toMatchObject(
      SEND_ERROR,
    );
  });

  it('falls back to address:port when the connection of connectionId has gone', async () => {
    const clock = fakeClock();
    const { transport, inbox, port } = await start({ listen: '127.0.0.1', clock, tcpIdleTimeoutMs: 10 });
    const socket = await client('127.0.0.1', port);
    await write(socket, sipRequest());
    const { source } = await inbox.next();
    const closed = once(socket, 'close');
    clock.advance(10);
    await closed;
    const fallback = transport.send({ ...source, transport: 'tcp' }, sipRequest());
    await expect(fallback).rejects.toMatchObject(SEND_ERROR);
    expect(transport.stats().tcpConnectionsOpen).toBe(0);
  });
});

describe('transport lifecycle', () => {
  it('binds UDP and TCP on the same port', async () => {
    const { transport, port } = await start({ listen: '127.0.0.1', udp: true });
    expect(transport.address()).toEqual({ address: '127.0.0.1', port });
    const again = createTransport({ listen: '127.0.0.1', port });
    await expect(again.start()).rejects.toMatchObject({ code: 'PBX_ERR_TRANSPORT_BIND' });
    await again.stop();
    await expect(transport.start()).rejects.toMatchObject({ code: 'PBX_ERR_TRANSPORT_BIND' });
  });

  it('retries on a fresh port when TCP finds the UDP port taken', async () => {
    let servers = 0;
    const { port } = await start({
      listen: '127.0.0.1',
      udp: true,
      socketFactory: {
        ...nodeSocketFactory,
        createTcpServer: (): Server => {
          const server = createServer();
          if (servers++ === 0) {
            server.listen = (() => {
              const error = Object.assign(new Error('taken'), { code: 'EADDRINUSE' });
              process.nextTick(() => server.emit('error', error));
              return server;
            }) as Server['listen'];
          }
          return server;
        },
      },
    });
    expect(servers).toBe(2);
    expect(port).toBeGreaterThan(0);
  });

  it('rejects invalid options at construction', () => {
    const bad: TransportOptions[] = [
      { listen: 'localhost', port: 0 },
      { listen: '127.0.0.1', port: 70000 },
      { listen: '127.0.0.1', port: 0, udp: false, tcp: false },
      { listen: '127.0.0.1', port: 0, maxMessageBytes: 0 },
    ];
    for (const options of bad) {
      expect(() => createTransport(options)).toThrow(
        expect.objectContaining({ code: 'PBX_ERR_TRANSPORT_OPTIONS' }),
      );
    }
  });

  it('rejects sends before start and after a stop during start', async () => {
    const transport = createTransport({ listen: '127.0.0.1', port: 0 });
    await expect(
      transport.send({ transport: 'udp', address: '127.0.0.1', port: 9 }, sipRequest()),
    ).rejects.toMatchObject(SEND_ERROR);
    const starting = transport.start();
    await transport.stop();
    await expect(starting).rejects.toMatchObject({ code: 'PBX_ERR_TRANSPORT_BIND' });
  });
});
