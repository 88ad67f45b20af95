import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createTransport, isKeepAliveDatagram } from '../../pbx/transport/index.js';
import type { SipTransport, TransportErrorKind, TransportSource } from '../../pbx/transport/index.js';
import { Inbox, sipRequest } from './helpers.js';

const opened: (SipTransport | UdpSocket)[] = [];

afterEach(async () => {
  for (const item of opened.splice(0)) {
    if ('stop' in item) await item.stop();
    else item.close();
  }
});

async function startUdp(listen: string, maxMessageBytes?: number) {
  const transport = createTransport({
    listen,
    port: 0,
    tcp: false,
    ...(maxMessageBytes ? { maxMessageBytes } : {}),
  });
  opened.push(transport);
  const inbox = new Inbox<{ data: Buffer; source: TransportSource }>();
  const errors = new Inbox<TransportErrorKind>();
  transport.onMessage((data, source) => inbox.push({ data, source }));
  transport.onError((kind) => errors.push(kind));
  await transport.start();
  return { transport, inbox, errors };
}

async function udpPeer(type: 'udp4' | 'udp6', address: string): Promise<UdpSocket> {
  const socket = createSocket(type);
  opened.push(socket);
  socket.bind(0, address);
  await once(socket, 'listening');
  return socket;
}

describe.each([
  ['IPv4', '127.0.0.1', 'udp4'],
  ['IPv6', '::1', 'udp6'],
] as const)('UDP over %s', (_family, host, type) => {
  it('delivers a datagram with its source and sends the reply from the listening port', async () => {
    const { transport, inbox } = await startUdp(host);
    const peer = await udpPeer(type, host);
    const port = transport.address().port;
    expect(port).toBeGreaterThan(0);

    peer.send(sipRequest(), port, host);
    const { data, source } = await inbox.next();
    expect(data).toEqual(sipRequest());
    expect(source).toEqual({
      transport: 'udp',
      address: host,
      port: peer.address().port,
      localAddress: host,
      localPort: port,
    });

    const reply = once(peer, 'message');
    await transport.send(
      { transport: 'udp', address: source.address, port: source.port },
      Buffer.from('pong'),
    );
    const [got, rinfo] = (await reply) as [Buffer, { port: number }];
    expect(got.toString()).toBe('pong');
    expect(rinfo.port).toBe(port);
    expect(transport.stats()).toMatchObject({ messagesIn: 1, messagesOut: 1 });
  });

  it('ignores keep-alive datagrams and reports oversized ones', async () => {
    const { transport, inbox, errors } = await startUdp(host, 500);
    const peer = await udpPeer(type, host);
    const port = transport.address().port;
    peer.send('\r\n\r\n', port, host);
    peer.send(Buffer.alloc(600, 'a'), port, host);
    peer.send(sipRequest('after'), port, host);
    expect((await inbox.next()).data).toEqual(sipRequest('after'));
    expect(await errors.next()).toBe('framing');
    expect(transport.stats()).toMatchObject({ keepAlivesIn: 1, framingErrors: 1, messagesIn: 1 });
  });
});

describe('UDP edge cases', () => {
  it('recognises keep-alive datagrams', () => {
    expect(isKeepAliveDatagram(Buffer.from('\r\n'))).toBe(true);
    expect(isKeepAliveDatagram(Buffer.from(' \r\n\t'))).toBe(true);
    expect(isKeepAliveDatagram(Buffer.from('\r\nX'))).toBe(false);
  });

  it('reaches IPv4 peers from a dual-stack socket and reports them as plain IPv4', async () => {
    const { transport, inbox } = await startUdp('::');
    const peer = await udpPeer('udp4', '127.0.0.1');
    peer.send(sipRequest(), transport.address().port, '127.0.0.1');
    const { source } = await inbox.next();
    expect(source.address).toBe('127.0.0.1');
    const reply = once(peer, 'message');
    await transport.send({ transport: 'udp', address: '127.0.0.1', port: source.port }, Buffer.from('x'));
    await reply;
  });

  it('rejects sends it cannot make with PBX_ERR_TRANSPORT_SEND', async () => {
    const { transport } = await startUdp('127.0.0.1', 100);
    const code = { code: 'PBX_ERR_TRANSPORT_SEND' };
    await expect(
      transport.send({ transport: 'udp', address: 'example.com', port: 5060 }, sipRequest()),
    ).rejects.toMatchObject(code);
    await expect(
      transport.send({ transport: 'udp', address: '127.0.0.1', port: 5060 }, Buffer.alloc(101)),
    ).rejects.toMatchObject(code);
    await expect(
      transport.send({ transport: 'udp', address: '::1', port: 5060 }, Buffer.from('x')),
    ).rejects.toMatchObject(code);
    await expect(
      transport.send({ transport: 'tcp', address: '127.0.0.1', port: 5060 }, Buffer.from('x')),
    ).rejects.toMatchObject(code);
    expect(transport.stats().sendErrors).toBe(4);
  });

  it('reports a throwing message handler instead of crashing', async () => {
    const { transport, errors } = await startUdp('127.0.0.1');
    transport.onMessage(() => {
      throw new Error('bug');
    });
    const peer = await udpPeer('udp4', '127.0.0.1');
    peer.send(sipRequest(), transport.address().port, '127.0.0.1');
    expect(await errors.next()).toBe('handler');
  });
});
