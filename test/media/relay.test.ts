import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createPortPool, PortPoolExhausted } from '../../pbx/media/ports/index.js';
import type { PortPool } from '../../pbx/media/ports/index.js';
import {
  createMediaSession,
  createRelayCounters,
  dgramSocketFactory,
  MediaBindError,
  MediaSessionError,
  openMediaSession,
  relayTotals,
} from '../../pbx/media/relay/index.js';
import type { MediaLine, MediaSession, RelayCounters, RelayEngine } from '../../pbx/media/relay/index.js';

const HOST = '127.0.0.1';

/** A test party's UDP socket that records what it receives and lets a test await a count. */
class Endpoint {
  readonly received: { data: Buffer; from: RemoteInfo }[] = [];
  #waiters: { count: number; resolve: () => void }[] = [];
  #closing: Promise<void> | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('message', (data: Buffer, from: RemoteInfo) => {
      this.received.push({ data, from });
      this.#waiters = this.#waiters.filter((w) =>
        this.received.length >= w.count ? (w.resolve(), false) : true,
      );
    });
  }

  static async open(host = HOST): Promise<Endpoint> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.bind(0, host);
    await once(socket, 'listening');
    return new Endpoint(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Buffer, port: number, host = HOST): void {
    this.socket.send(data, port, host);
  }

  /** Resolves once `count` datagrams arrived in total; fails the test after 2 s. */
  waitFor(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} datagrams, got ${this.received.length}`)),
        2000,
      );
      this.#waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Closes the socket; a second call resolves at once. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => this.socket.close(() => resolve()));
    return this.#closing;
  }
}

/** An RTP packet (RFC 3550 §5.1) with a recognisable payload. */
function rtp(
  seq: number,
  options: { ssrc?: number; marker?: boolean; pt?: number; size?: number } = {},
): Buffer {
  const packet = Buffer.alloc(options.size ?? 172);
  packet[0] = 0x80;
  packet[1] = ((options.marker ?? false) ? 0x80 : 0) | (options.pt ?? 0);
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE((seq * 160) >>> 0, 4);
  packet.writeUInt32BE(options.ssrc ?? 0x11223344, 8);
  for (let i = 12; i < packet.length; i++) packet[i] = (seq + i) & 0xff;
  return packet;
}

/** A 20-byte STUN Binding Request (RFC 5389 §6), as Linphone sends to media ports. */
function stunBindingRequest(): Buffer {
  const packet = Buffer.alloc(20);
  packet.writeUInt16BE(0x0001, 0);
  packet.writeUInt32BE(0x2112a442, 4);
  packet.write('0123456789ab', 8, 'latin1');
  return packet;
}

/** An RTCP receiver report without report blocks (RFC 3550 §6.4.2), tagged by `n` in an extra word. */
function rtcp(n: number, ssrc = 0x55667788): Buffer {
  const packet = Buffer.alloc(12);
  packet[0] = 0x80;
  packet[1] = 201;
  packet.writeUInt16BE(2, 2);
  packet.writeUInt32BE(ssrc, 4);
  packet.writeUInt32BE(n, 8);
  return packet;
}

// Fixed ports below the ephemeral range, spread by pid so parallel runs rarely meet; the pool quarantines any
// block another process holds, so a collision only costs a retry.
const base = 21000 + (process.pid % 500) * 16;
let pool: PortPool;
let counters: RelayCounters;
/** Both relay engines run the same behaviour tests; the Node engine's socket-level tests run on it alone. */
const ENGINES: RelayEngine[] = ['node', 'native'];
let engineUnderTest: RelayEngine = 'node';
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  pool = createPortPool({ start: base, end: base + 800, clock: fakeClock() });
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

afterAll(() => {
  expect(pool.inUse()).toBe(0);
});

async function session(options: { lines?: number; listen?: string } = {}): Promise<MediaSession> {
  counters = createRelayCounters();
  const s = await openMediaSession(pool, { listen: HOST, counters, engine: engineUnderTest, ...options });
  cleanups.push(() => s.close());
  return s;
}

async function endpoint(host = HOST): Promise<Endpoint> {
  const e = await Endpoint.open(host);
  cleanups.push(() => e.close());
  return e;
}

function line0(s: MediaSession): MediaLine {
  const line = s.line(0);
  if (line === undefined) throw new Error('line 0 is not open');
  return line;
}

/** A call's two parties, each with separate RTP and RTCP sockets, told to the relay through setRemote. */
async function twoParties(
  line: MediaLine,
): Promise<{ aRtp: Endpoint; aRtcp: Endpoint; bRtp: Endpoint; bRtcp: Endpoint }> {
  const [aRtp, aRtcp, bRtp, bRtcp] = await Promise.all([endpoint(), endpoint(), endpoint(), endpoint()]);
  line.setRemote('a', { address: HOST, rtpPort: aRtp.port, rtcpPort: aRtcp.port, rtcpMux: false });
  line.setRemote('b', { address: HOST, rtpPort: bRtp.port, rtcpPort: bRtcp.port, rtcpMux: false });
  return { aRtp, aRtcp, bRtp, bRtcp };
}

describe.each(ENGINES)('relay (%s engine): forwarding', (engine) => {
  beforeAll(() => {
    engineUnderTest = engine;
  });

  it('binds line 0 on block ports +0..+3 in A-RTP, A-RTCP, B-RTP, B-RTCP order', async () => {
    const s = await session({ lines: 2 });
    expect(line0(s).ports).toEqual({
      a: { rtp: s.basePort, rtcp: s.basePort + 1 },
      b: { rtp: s.basePort + 2, rtcp: s.basePort + 3 },
    });
    expect(s.line(1)?.ports.a.rtp).toBe(s.basePort + 4);
    expect(s.line(1)?.ports.b.rtcp).toBe(s.basePort + 7);
    expect(s.basePort % 8).toBe(0);
    expect(s.lines().map((l) => l.index)).toEqual([0, 1]);
  });

  it('relays 200 RTP and 50 RTCP packets each way unmodified and in order', async () => {
    const s = await session();
    const line = line0(s);
    const { aRtp, aRtcp, bRtp, bRtcp } = await twoParties(line);
    const fromA = Array.from({ length: 200 }, (_, i) => rtp(i, { ssrc: 0xa, marker: i % 50 === 0, pt: 8 }));
    const fromB = Array.from({ length: 200 }, (_, i) =>
      rtp(60000 + i, { ssrc: 0xb, marker: i === 0, pt: 0 }),
    );
    const rtcpA = Array.from({ length: 50 }, (_, i) => rtcp(i, 0xa));
    const rtcpB = Array.from({ length: 50 }, (_, i) => rtcp(1000 + i, 0xb));
    for (let i = 0; i < 200; i++) {
      aRtp.send(fromA[i] as Buffer, line.ports.a.rtp);
      bRtp.send(fromB[i] as Buffer, line.ports.b.rtp);
      if (i < 50) {
        aRtcp.send(rtcpA[i] as Buffer, line.ports.a.rtcp);
        bRtcp.send(rtcpB[i] as Buffer, line.ports.b.rtcp);
      }
    }
    await Promise.all([bRtp.waitFor(200), aRtp.waitFor(200), bRtcp.waitFor(50), aRtcp.waitFor(50)]);
    expect(bRtp.received.map((r) => r.data)).toEqual(fromA);
    expect(aRtp.received.map((r) => r.data)).toEqual(fromB);
    expect(bRtcp.received.map((r) => r.data)).toEqual(rtcpA);
    expect(aRtcp.received.map((r) => r.data)).toEqual(rtcpB);
    // Each party only ever sees the relay's ports facing it (topology hiding).
    expect(new Set(bRtp.received.map((r) => r.from.port))).toEqual(new Set([line.ports.b.rtp]));
    expect(new Set(aRtp.received.map((r) => r.from.port))).toEqual(new Set([line.ports.a.rtp]));
    expect(new Set(bRtcp.received.map((r) => r.from.port))).toEqual(new Set([line.ports.b.rtcp]));
    expect(new Set(aRtcp.received.map((r) => r.from.port))).toEqual(new Set([line.ports.a.rtcp]));

    expect(line.counters.rtpPackets).toEqual({ 'a-to-b': 200, 'b-to-a': 200 });
    expect(line.counters.rtpBytes).toEqual({ 'a-to-b': 200 * 172, 'b-to-a': 200 * 172 });
    expect(line.counters.rtcpPackets).toEqual({ 'a-to-b': 50, 'b-to-a': 50 });
    expect(relayTotals(counters).rtpPackets).toEqual({ 'a-to-b': 200, 'b-to-a': 200 });
    expect(s.counters().rtcpBytes).toEqual({ 'a-to-b': 600, 'b-to-a': 600 });
    expect(s.rtpReceived()).toBe(400);
  });

  it('latches to the real source when it differs from the SDP (NAT)', async () => {
    const s = await session();
    const line = line0(s);
    const [a, b] = await Promise.all([endpoint(), endpoint()]);
    line.setRemote('a', { address: HOST, rtpPort: 9, rtcpMux: false }); // what A's SDP claims
    line.setRemote('b', { address: HOST, rtpPort: b.port, rtcpMux: false });
    expect(line.remote('a')).toEqual({ address: HOST, port: 9, latched: false });
    expect(line.remote('a', 'rtcp')).toEqual({ address: HOST, port: 10, latched: false });
    a.send(rtp(1), line.ports.a.rtp);
    await b.waitFor(1);
    expect(line.remote('a')).toEqual({ address: HOST, port: a.port, latched: true });
    b.send(rtp(2, { ssrc: 0xb }), line.ports.b.rtp);
    await a.waitFor(1);
    expect(a.received[0]?.data).toEqual(rtp(2, { ssrc: 0xb }));
  });

  it('drops a foreign source spraying a latched port and leaves the legitimate stream intact', async () => {
    const s = await session();
    const line = line0(s);
    const { aRtp, bRtp } = await twoParties(line);
    const attacker = await endpoint();
    aRtp.send(rtp(0), line.ports.a.rtp); // latches A
    bRtp.send(rtp(0, { ssrc: 0xb }), line.ports.b.rtp); // latches B
    await Promise.all([bRtp.waitFor(1), aRtp.waitFor(1)]);
    for (let i = 1; i <= 100; i++) {
      attacker.send(rtp(i, { ssrc: 0xbad }), line.ports.a.rtp);
      attacker.send(rtp(i, { ssrc: 0xbad }), line.ports.b.rtp);
      aRtp.send(rtp(i), line.ports.a.rtp);
    }
    bRtp.send(rtp(1, { ssrc: 0xb }), line.ports.b.rtp); // fence: queued after the spray on the B-facing port
    await Promise.all([bRtp.waitFor(101), aRtp.waitFor(2)]);
    expect(bRtp.received.map((r) => r.data.readUInt32BE(8))).toEqual(new Array(101).fill(0x11223344));
    expect(bRtp.received.map((r) => r.data.readUInt16BE(2))).toEqual(
      Array.from({ length: 101 }, (_, i) => i),
    );
    expect(aRtp.received.map((r) => r.data.readUInt32BE(8))).toEqual([0xb, 0xb]);
    expect(line.counters.dropped['foreign-source']).toBe(200);
    expect(relayTotals(counters).dropped['foreign-source']).toBe(200);
    expect(attacker.received).toHaveLength(0);
    expect(line.remote('a')).toEqual({ address: HOST, port: aRtp.port, latched: true });
  });

  it('re-latches only after setRemote', async () => {
    const s = await session();
    const line = line0(s);
    const { aRtp, bRtp } = await twoParties(line);
    const moved = await endpoint();
    aRtp.send(rtp(0), line.ports.a.rtp);
    await bRtp.waitFor(1);
    moved.send(rtp(1), line.ports.a.rtp); // A's new address before the re-INVITE: refused
    aRtp.send(rtp(2), line.ports.a.rtp);
    await bRtp.waitFor(2);
    expect(line.counters.dropped['foreign-source']).toBe(1);
    line.setRemote('a', { address: HOST, rtpPort: moved.port, rtcpMux: false });
    moved.send(rtp(3), line.ports.a.rtp);
    await bRtp.waitFor(3);
    aRtp.send(rtp(4), line.ports.a.rtp); // the old address is now the foreign one
    moved.send(rtp(5), line.ports.a.rtp);
    await bRtp.waitFor(4);
    expect(bRtp.received.map((r) => r.data.readUInt16BE(2))).toEqual([0, 2, 3, 5]);
    expect(line.counters.dropped['foreign-source']).toBe(2);
  });

  it('honours rtcp-mux on one side: RTCP moves between the muxed RTP port and the other side’s RTCP port', async () => {
    const s = await session();
    const line = line0(s);
    const [a, bRtp, bRtcp] = await Promise.all([endpoint(), endpoint(), endpoint()]);
    line.setRemote('a', { address: HOST, rtpPort: a.port, rtcpMux: true });
    line.setRemote('b', { address: HOST, rtpPort: bRtp.port, rtcpPort: bRtcp.port, rtcpMux: false });
    expect(line.remote('a', 'rtcp').port).toBe(a.port);
    a.send(rtp(1), line.ports.a.rtp);
    a.send(rtcp(1), line.ports.a.rtp);
    a.send(rtp(2), line.ports.a.rtp);
    await Promise.all([bRtp.waitFor(2), bRtcp.waitFor(1)]);
    expect(bRtp.received.map((r) => r.data)).toEqual([rtp(1), rtp(2)]);
    expect(bRtcp.received[0]?.data).toEqual(rtcp(1));
    expect(bRtcp.received[0]?.from.port).toBe(line.ports.b.rtcp);
    bRtcp.send(rtcp(2), line.ports.b.rtcp);
    bRtp.send(rtp(3), line.ports.b.rtp);
    await a.waitFor(2);
    expect(a.received.map((r) => r.data)).toEqual([rtcp(2), rtp(3)]);
    expect(new Set(a.received.map((r) => r.from.port))).toEqual(new Set([line.ports.a.rtp]));
    expect(line.counters.rtcpPackets).toEqual({ 'a-to-b': 1, 'b-to-a': 1 });
  });

  it('honours rtcp-mux on both sides', async () => {
    const s = await session();
    const line = line0(s);
    const [a, b] = await Promise.all([endpoint(), endpoint()]);
    line.setRemote('a', { address: HOST, rtpPort: a.port, rtcpMux: true });
    line.setRemote('b', { address: HOST, rtpPort: b.port, rtcpMux: true });
    a.send(rtcp(7), line.ports.a.rtp);
    a.send(rtp(8), line.ports.a.rtp);
    await b.waitFor(2);
    expect(b.received.map((r) => r.data)).toEqual([rtcp(7), rtp(8)]);
  });

  it('drops packets whose destination is not known yet, and malformed ones, without latching on them', async () => {
    const s = await session();
    const line = line0(s);
    const a = await endpoint();
    const b = await endpoint();
    line.setRemote('a', { address: HOST, rtpPort: a.port, rtcpMux: false });
    const junk = await endpoint();
    junk.send(Buffer.from('hello'), line.ports.a.rtp); // < 12 bytes
    junk.send(Buffer.alloc(40, 0x40), line.ports.a.rtp); // version 1
    junk.send(Buffer.from([0x80, 201, 0, 1]), line.ports.a.rtcp); // RTCP shorter than 8
    junk.send(Buffer.alloc(40, 0xc0), line.ports.a.rtcp); // RTCP version 3
    junk.send(stunBindingRequest(), line.ports.a.rtp); // a softphone's STUN keep-alive (RFC 5389)
    junk.send(stunBindingRequest(), line.ports.a.rtcp);
    a.send(rtp(1), line.ports.a.rtp); // B unknown: no destination
    a.send(rtcp(1), line.ports.a.rtcp);
    // B's SDP is on hold (c=0.0.0.0), so still nothing to send to; a packet from B to A fences the above.
    line.setRemote('b', { address: '0.0.0.0', rtpPort: 4000, rtcpMux: false });
    expect(line.remote('b').port).toBe(0);
    b.send(rtp(2), line.ports.b.rtp);
    await a.waitFor(1);
    expect(line.counters.dropped).toMatchObject({ malformed: 4, stun: 2, 'no-destination': 2 });
    expect(line.remote('a')).toEqual({ address: HOST, port: a.port, latched: true });
    expect(line.counters.rtpPackets['a-to-b']).toBe(0);
    // B latched from its first packet, so A's stream flows now.
    a.send(rtp(3), line.ports.a.rtp);
    await b.waitFor(1);
  });

  it('treats port 0 (rejected stream) as no destination', async () => {
    const s = await session();
    const line = line0(s);
    const a = await endpoint();
    line.setRemote('b', { address: HOST, rtpPort: 0, rtcpMux: false });
    line.setRemote('a', { address: HOST, rtpPort: a.port, rtcpMux: false });
    expect(line.remote('b', 'rtcp')).toEqual({ address: HOST, port: 0, latched: false });
    const fence = await endpoint();
    a.send(rtp(1), line.ports.a.rtp);
    fence.send(rtp(2), line.ports.b.rtp);
    await a.waitFor(1);
    expect(line.counters.dropped['no-destination']).toBe(1);
  });

  it('rejects remote addresses that are not IP literals of the listen family', async () => {
    const s = await session();
    const line = line0(s);
    expect(() => line.setRemote('a', { address: 'example.com', rtpPort: 4000, rtcpMux: false })).toThrow(
      MediaSessionError,
    );
    expect(() => line.setRemote('a', { address: '::1', rtpPort: 4000, rtcpMux: false })).toThrow(/IPv4/);
    expect(() => line.setRemote('a', { address: HOST, rtpPort: 70000, rtcpMux: false })).toThrow(
      /not a UDP port/,
    );
  });

  it('runs a per-direction transform and drops what it refuses', async () => {
    const s = await session();
    const line = line0(s);
    const { aRtp, bRtp, aRtcp, bRtcp } = await twoParties(line);
    line.setTransform('a-to-b', (packet) => {
      const seq = packet.readUInt16BE(2);
      if (seq === 2) return null;
      if (seq === 3) throw new Error('codec failure');
      if (seq === 6) return Buffer.alloc(0); // held by the transform: nothing sent, no drop
      const out = Buffer.from(packet.subarray(0, 12));
      out[1] = 111;
      return out;
    });
    aRtp.send(rtp(1), line.ports.a.rtp);
    aRtp.send(rtp(2), line.ports.a.rtp);
    aRtp.send(rtp(3), line.ports.a.rtp);
    aRtcp.send(rtcp(1), line.ports.a.rtcp); // RTCP is not transformed
    aRtp.send(rtp(6), line.ports.a.rtp);
    aRtp.send(rtp(4), line.ports.a.rtp);
    await Promise.all([bRtp.waitFor(2), bRtcp.waitFor(1)]);
    expect(bRtp.received.map((r) => [r.data.length, r.data[1], r.data.readUInt16BE(2)])).toEqual([
      [12, 111, 1],
      [12, 111, 4],
    ]);
    expect(bRtcp.received[0]?.data).toEqual(rtcp(1));
    expect(line.counters.dropped.transform).toBe(2);
    expect(line.counters.rtpBytes['a-to-b']).toBe(24);
    expect(line.rtpReceived()).toBe(5); // the held packet was received, just not sent on (yet)
    line.setTransform('a-to-b', undefined);
    aRtp.send(rtp(5), line.ports.a.rtp);
    await bRtp.waitFor(3);
    expect(bRtp.received[2]?.data).toEqual(rtp(5));
  });

  it("runs a direction's RTCP rewrite on its RTCP, also when muxed on the RTP port", async () => {
    const s = await session();
    const line = line0(s);
    const [a, b] = await Promise.all([endpoint(), endpoint()]);
    line.setRemote('a', { address: HOST, rtpPort: a.port, rtcpMux: true });
    line.setRemote('b', { address: HOST, rtpPort: b.port, rtcpMux: true });
    const tag = (packet: Buffer): Buffer => {
      const out = Buffer.from(packet);
      out.writeUInt32BE(0xfeedface, 8);
      return out;
    };
    line.setTransform('a-to-b', (p) => p, tag);
    a.send(rtcp(1), line.ports.a.rtp);
    b.send(rtcp(2), line.ports.b.rtp); // the other direction has no rewrite
    await Promise.all([b.waitFor(1), a.waitFor(1)]);
    expect(b.received[0]?.data.readUInt32BE(8)).toBe(0xfeedface);
    expect(a.received[0]?.data).toEqual(rtcp(2));
    line.setTransform(
      'a-to-b',
      (_p) => null,
      (_p) => null,
    );
    a.send(rtcp(3), line.ports.a.rtp);
    b.send(rtcp(4), line.ports.b.rtp); // fence
    await a.waitFor(2);
    expect(line.counters.dropped.transform).toBe(1);
    expect(line.counters.rtcpPackets).toEqual({ 'a-to-b': 1, 'b-to-a': 2 });
  });

  it('relays over IPv6', async () => {
    const s = await session({ listen: '::1' });
    const line = line0(s);
    const [a, b] = await Promise.all([endpoint('::1'), endpoint('::1')]);
    line.setRemote('a', { address: '::1', rtpPort: a.port, rtcpMux: false });
    line.setRemote('b', { address: '::1', rtpPort: b.port, rtcpMux: false });
    a.send(rtp(1), line.ports.a.rtp, '::1');
    await b.waitFor(1);
    b.send(rtp(2), line.ports.b.rtp, '::1');
    await a.waitFor(1);
    expect(b.received[0]?.data).toEqual(rtp(1));
    expect(a.received[0]?.from.address).toBe('::1');
  });

  it('maps IPv4 peers for a dual-stack IPv6 listener', async () => {
    const s = await session({ listen: '::' });
    const line = line0(s);
    const [a, b] = await Promise.all([endpoint(), endpoint()]);
    line.setRemote('a', { address: HOST, rtpPort: a.port, rtcpMux: false });
    line.setRemote('b', { address: HOST, rtpPort: b.port, rtcpMux: false });
    expect(line.remote('b').address).toBe(`::ffff:${HOST}`);
    a.send(rtp(1), line.ports.a.rtp);
    await b.waitFor(1);
    expect(b.received[0]?.data).toEqual(rtp(1));
  });
});

describe.each(ENGINES)('relay (%s engine): session lifecycle', (engine) => {
  beforeAll(() => {
    engineUnderTest = engine;
  });

  it('close() twice is fine, frees the sockets and returns the block once', async () => {
    const before = pool.inUse();
    let closed = 0;
    const block = pool.reserve();
    const s = await createMediaSession({
      engine: engineUnderTest,
      block,
      listen: HOST,
      lines: 2,
      onClose: () => (closed++, pool.release(block)),
    });
    expect(pool.inUse()).toBe(before + 8);
    const ports = [
      ...s.lines().flatMap((l) => [l.ports.a.rtp, l.ports.a.rtcp, l.ports.b.rtp, l.ports.b.rtcp]),
    ];
    const first = s.close();
    expect(s.closed).toBe(true);
    expect(s.close()).toBe(first);
    await first;
    await s.close();
    expect(closed).toBe(1);
    expect(pool.inUse()).toBe(before);
    await expect(s.openLine(0)).rejects.toBeInstanceOf(MediaSessionError);
    s.setInactivityTimeout(10); // ignored once closed
    // Every port binds again.
    const again = await Promise.all(ports.map((port) => bindAt(port)));
    await Promise.all(again.map((socket) => new Promise<void>((r) => socket.close(() => r()))));
  });

  it('closing the session closes its lines, and a closed line forwards nothing', async () => {
    const s = await session();
    const line = line0(s);
    await s.close();
    expect(line.close()).toBe(line.close());
    await line.close();
  });

  it('opens lines on demand, once, within the block only', async () => {
    const s = await session();
    const [x, y] = await Promise.all([s.openLine(1), s.openLine(1)]);
    expect(x).toBe(y);
    expect(await s.openLine(0)).toBe(s.line(0));
    await expect(s.openLine(2)).rejects.toThrow(/does not fit/);
    await expect(s.openLine(-1)).rejects.toBeInstanceOf(MediaSessionError);
  });

  it('a line opening when the session closes is closed, not leaked', async () => {
    const block = pool.reserve();
    cleanups.push(() => Promise.resolve(pool.release(block)));
    const s = await createMediaSession({ engine: engineUnderTest, block, listen: HOST, lines: 0 });
    const opening = s.openLine(1);
    const closing = s.close();
    if (engine === 'node') await expect(opening).rejects.toThrow(/closed while line 1 was opening/);
    // The native engine binds synchronously: the line is open before close() starts, and close() closes it.
    else expect((await opening).index).toBe(1);
    await closing;
    const again = await bindAt(block.start + 4);
    await new Promise<void>((r) => again.close(() => r()));
  });

  it('rejects a listen address that is not an IP literal', async () => {
    await expect(
      createMediaSession({ engine: engineUnderTest, block: { start: base, size: 8 }, listen: 'localhost' }),
    ).rejects.toBeInstanceOf(MediaSessionError);
  });

  it('creates its sockets through the injected factory (Node engine)', async () => {
    let created = 0;
    const s = await session({ lines: 1 });
    await s.close();
    const block = pool.reserve();
    cleanups.push(() => Promise.resolve(pool.release(block)));
    const t = await createMediaSession({
      engine: 'node',
      block,
      listen: HOST,
      lines: 2,
      socketFactory: { createUdpSocket: (o) => (created++, dgramSocketFactory.createUdpSocket(o)) },
    });
    cleanups.push(() => t.close());
    expect(created).toBe(8);
  });
});

describe('relay: send and socket errors', () => {
  beforeAll(() => {
    engineUnderTest = 'node';
  });

  it('counts send failures and socket errors of the relay sockets as drops instead of throwing', async () => {
    const sockets: Socket[] = [];
    const block = pool.reserve();
    const s = await createMediaSession({
      engine: engineUnderTest,
      block,
      listen: HOST,
      connectedFlows: false, // every send from the relay sockets, whose send() is replaced below
      onClose: () => pool.release(block),
      socketFactory: {
        createUdpSocket: (o) => sockets[sockets.push(dgramSocketFactory.createUdpSocket(o)) - 1] as Socket,
      },
    });
    cleanups.push(() => s.close());
    const line = line0(s);
    const { aRtp, bRtp } = await twoParties(line);
    const [aFacing, , bFacing] = sockets as [Socket, Socket, Socket, Socket];
    const throwing = (): never => {
      throw new Error('not running');
    };
    const failing = (...args: unknown[]): void => {
      (args[args.length - 1] as (error: Error | null) => void)(new Error('EPERM'));
    };
    Object.assign(bFacing, { send: throwing });
    Object.assign(aFacing, { send: failing });
    aRtp.send(rtp(1), line.ports.a.rtp);
    bRtp.send(rtp(2), line.ports.b.rtp);
    aFacing.emit('error', new Error('ICMP'));
    await new Promise<void>((resolve) => {
      const poll = (): void =>
        line.counters.dropped['send-error'] >= 2 ? resolve() : void setImmediate(poll);
      poll();
    });
    expect(line.counters.dropped).toMatchObject({ 'send-error': 2, 'socket-error': 1 });
    expect(line.counters.rtpPackets['a-to-b']).toBe(0);
  });
});

describe('relay: connected flows (SO_REUSEPORT)', () => {
  beforeAll(() => {
    engineUnderTest = 'node';
  });

  it('sends a latched RTP flow from a socket connected to it, on the same port; RTCP flows keep theirs', async () => {
    let created = 0;
    let connectedSends = 0;
    const block = pool.reserve();
    const s = await createMediaSession({
      engine: engineUnderTest,
      block,
      listen: HOST,
      connectedFlows: true,
      onClose: () => pool.release(block),
      socketFactory: {
        createUdpSocket: (o) => {
          const socket = dgramSocketFactory.createUdpSocket(o);
          if (created++ < 4) return socket;
          expect(o).toMatchObject({ type: 'udp4', reusePort: true });
          const send = socket.send.bind(socket) as (packet: Buffer) => void;
          return Object.assign(socket, {
            send: (packet: Buffer, ...rest: unknown[]) => {
              expect(rest).toEqual([]); // connected: no address, no callback
              connectedSends++;
              send(packet);
            },
          });
        },
      },
    });
    cleanups.push(() => s.close());
    const line = line0(s);
    const { aRtp, aRtcp, bRtp, bRtcp } = await twoParties(line);
    expect([line.connected('a'), line.connected('b')]).toEqual([false, false]);
    aRtp.send(rtp(0), line.ports.a.rtp); // B has not latched: leaves the relay socket with an address
    await Promise.all([bRtp.waitFor(1), waitConnected(line, 'a')]);
    bRtp.send(rtp(0, { ssrc: 0xb }), line.ports.b.rtp); // A is connected: leaves A's connected socket
    await Promise.all([aRtp.waitFor(1), waitConnected(line, 'b')]);
    aRtcp.send(rtcp(0), line.ports.a.rtcp);
    bRtcp.send(rtcp(0), line.ports.b.rtcp);
    await Promise.all([aRtcp.waitFor(1), bRtcp.waitFor(1)]);
    expect(created).toBe(4 + 2);
    for (let i = 1; i <= 100; i++) {
      aRtp.send(rtp(i), line.ports.a.rtp);
      bRtp.send(rtp(i, { ssrc: 0xb }), line.ports.b.rtp);
    }
    aRtcp.send(rtcp(1), line.ports.a.rtcp);
    await Promise.all([bRtp.waitFor(101), aRtp.waitFor(101), bRtcp.waitFor(2), aRtcp.waitFor(1)]);
    expect(new Set(bRtp.received.map((r) => r.from.port))).toEqual(new Set([line.ports.b.rtp]));
    expect(new Set(aRtp.received.map((r) => r.from.port))).toEqual(new Set([line.ports.a.rtp]));
    expect(bRtcp.received.map((r) => r.from.port)).toEqual([line.ports.b.rtcp, line.ports.b.rtcp]);
    expect(bRtp.received.map((r) => r.data.readUInt16BE(2))).toEqual(
      Array.from({ length: 101 }, (_, i) => i),
    );
    expect(line.counters.rtpPackets).toEqual({ 'a-to-b': 101, 'b-to-a': 101 });
    expect(line.counters.dropped).toEqual(createRelayCounters().dropped);
    expect(created).toBe(6);
    expect(connectedSends).toBe(1 + 200);
    // SO_REUSEPORT on our side does not open the port to a socket without it (another process, say).
    await expect(bindAt(line.ports.a.rtp)).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('still receives, drops and counts a foreign source spraying a connected flow’s port (no RTP bleed)', async () => {
    const s = await session();
    const line = line0(s);
    const { aRtp, bRtp } = await twoParties(line);
    const attacker = await endpoint();
    aRtp.send(rtp(0), line.ports.a.rtp);
    bRtp.send(rtp(0, { ssrc: 0xb }), line.ports.b.rtp);
    await Promise.all([waitConnected(line, 'a'), waitConnected(line, 'b')]);
    for (let i = 1; i <= 100; i++) {
      attacker.send(rtp(i, { ssrc: 0xbad }), line.ports.a.rtp);
      attacker.send(rtp(i, { ssrc: 0xbad }), line.ports.b.rtp);
      aRtp.send(rtp(i), line.ports.a.rtp);
    }
    await bRtp.waitFor(101);
    await waitUntil(() => line.counters.dropped['foreign-source'] === 200);
    expect(bRtp.received.every((r) => r.data.readUInt32BE(8) === 0x11223344)).toBe(true);
    expect(aRtp.received.map((r) => r.data.readUInt32BE(8))).toEqual([0xb]);
    expect(attacker.received).toHaveLength(0);
    expect(line.remote('a')).toEqual({ address: HOST, port: aRtp.port, latched: true });
  });

  it('closes the connected socket on setRemote, re-latches and connects to the new source', async () => {
    const s = await session();
    const line = line0(s);
    const { aRtp, bRtp } = await twoParties(line);
    const moved = await endpoint();
    aRtp.send(rtp(0), line.ports.a.rtp);
    bRtp.send(rtp(0, { ssrc: 0xb }), line.ports.b.rtp);
    await Promise.all([waitConnected(line, 'a'), waitConnected(line, 'b')]);
    line.setRemote('a', { address: HOST, rtpPort: moved.port, rtcpMux: false });
    expect(line.connected('a')).toBe(false);
    bRtp.send(rtp(1, { ssrc: 0xb }), line.ports.b.rtp); // to A's SDP address, from the relay socket
    await moved.waitFor(1);
    expect(moved.received[0]?.from.port).toBe(line.ports.a.rtp);
    moved.send(rtp(2), line.ports.a.rtp); // latches A to `moved`
    await waitConnected(line, 'a');
    aRtp.send(rtp(3), line.ports.a.rtp); // the old address is foreign now
    moved.send(rtp(4), line.ports.a.rtp);
    bRtp.send(rtp(5, { ssrc: 0xb }), line.ports.b.rtp);
    await moved.waitFor(2);
    await waitUntil(
      () => line.counters.dropped['foreign-source'] === 1 && line.counters.rtpPackets['a-to-b'] === 3,
    );
    expect(moved.received.map((r) => r.data.readUInt16BE(2))).toEqual([1, 5]);
    expect(aRtp.received).toHaveLength(1);
  });

  it('carries muxed RTCP on the connected socket and works over IPv6', async () => {
    const s = await session({ listen: '::1' });
    const line = line0(s);
    const [a, b] = await Promise.all([endpoint('::1'), endpoint('::1')]);
    line.setRemote('a', { address: '::1', rtpPort: a.port, rtcpMux: true });
    line.setRemote('b', { address: '::1', rtpPort: b.port, rtcpMux: true });
    a.send(rtp(1), line.ports.a.rtp, '::1');
    b.send(rtp(2), line.ports.b.rtp, '::1');
    await Promise.all([waitConnected(line, 'a'), waitConnected(line, 'b')]);
    a.send(rtcp(3), line.ports.a.rtp, '::1');
    b.send(rtcp(4), line.ports.b.rtp, '::1');
    await Promise.all([a.waitFor(2), b.waitFor(2)]);
    expect(b.received.map((r) => r.data)).toEqual([rtp(1), rtcp(3)]);
    expect(a.received.map((r) => r.data)).toEqual([rtp(2), rtcp(4)]);
    expect(new Set(a.received.map((r) => r.from.port))).toEqual(new Set([line.ports.a.rtp]));
    expect(line.counters.rtcpPackets).toEqual({ 'a-to-b': 1, 'b-to-a': 1 });
  });

  it('counts an ICMP port unreachable for a connected flow as socket-error and keeps relaying', async () => {
    const s = await session();
    const line = line0(s);
    const { aRtp, bRtp } = await twoParties(line);
    aRtp.send(rtp(0), line.ports.a.rtp);
    bRtp.send(rtp(0, { ssrc: 0xb }), line.ports.b.rtp);
    await Promise.all([waitConnected(line, 'b'), aRtp.waitFor(1)]);
    await bRtp.close(); // B's port is closed now: the kernel answers the relay with ICMP port unreachable
    aRtp.send(rtp(1), line.ports.a.rtp);
    await waitUntil(() => line.counters.dropped['socket-error'] >= 1);
    aRtp.send(rtp(2), line.ports.a.rtp);
    await waitUntil(() => line.counters.rtpPackets['a-to-b'] === 3);
  });

  it('frees every port on close, also while connected sockets are open or opening', async () => {
    for (const wait of [true, false]) {
      const block = pool.reserve();
      const s = await createMediaSession({
        engine: engineUnderTest,
        block,
        listen: HOST,
        onClose: () => pool.release(block),
      });
      const line = line0(s);
      const { aRtp, bRtp } = await twoParties(line);
      aRtp.send(rtp(0), line.ports.a.rtp);
      bRtp.send(rtp(0, { ssrc: 0xb }), line.ports.b.rtp);
      if (wait) await Promise.all([waitConnected(line, 'a'), waitConnected(line, 'b')]);
      else await Promise.all([aRtp.waitFor(1), bRtp.waitFor(0)]);
      line.setRemote('a', { address: HOST, rtpPort: aRtp.port, rtcpMux: false }); // one socket closing on its own
      await s.close();
      const ports = [line.ports.a.rtp, line.ports.a.rtcp, line.ports.b.rtp, line.ports.b.rtcp];
      const again = await Promise.all(ports.map((port) => bindAt(port)));
      await Promise.all(again.map((socket) => new Promise<void>((r) => socket.close(() => r()))));
    }
  });

  it('keeps sending from the relay socket when the connected socket cannot be opened', async () => {
    for (const failing of ['bind', 'connect'] as const) {
      let n = 0;
      const block = pool.reserve();
      const s = await createMediaSession({
        engine: engineUnderTest,
        block,
        listen: HOST,
        onClose: () => pool.release(block),
        socketFactory: {
          createUdpSocket: (o) => {
            const socket = dgramSocketFactory.createUdpSocket(o);
            if (n++ < 4) return socket;
            return Object.assign(socket, {
              [failing]: (...args: unknown[]) => {
                const error = new Error(`${failing} refused`);
                if (failing === 'bind') setImmediate(() => socket.emit('error', error));
                else setImmediate(() => (args[2] as (e: Error) => void)(error));
                return socket;
              },
            });
          },
        },
      });
      cleanups.push(() => s.close());
      const line = line0(s);
      const { aRtp, bRtp } = await twoParties(line);
      aRtp.send(rtp(0), line.ports.a.rtp);
      bRtp.send(rtp(0, { ssrc: 0xb }), line.ports.b.rtp);
      await waitUntil(() => line.counters.dropped['socket-error'] === 2);
      aRtp.send(rtp(1), line.ports.a.rtp);
      await bRtp.waitFor(2);
      expect([line.connected('a'), line.connected('b')]).toEqual([false, false]);
      expect(bRtp.received[1]?.from.port).toBe(line.ports.b.rtp);
    }
  });
});

describe.each(ENGINES)('relay (%s engine): bind failures and the pool', (engine) => {
  beforeAll(() => {
    engineUnderTest = engine;
  });

  it('quarantines a block whose port another process holds and opens the next one', async () => {
    const start = base + 1600;
    const local = createPortPool({ start, end: start + 24, clock: fakeClock() });
    const blocker = await bindAt(start + 2);
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const s = await openMediaSession(local, { listen: HOST, engine: engineUnderTest });
    cleanups.push(() => s.close());
    expect(s.engine).toBe(engine);
    expect(s.basePort).toBe(start + 8);
    expect(local.quarantined()).toBe(8);
    expect(local.inUse()).toBe(8);
    // Nothing of the failed block stayed bound.
    const freed = await Promise.all([start, start + 1, start + 3].map((port) => bindAt(port)));
    await Promise.all(freed.map((socket) => new Promise<void>((r) => socket.close(() => r()))));
    await s.close();
    expect(local.inUse()).toBe(0);
  });

  it('reports the bind error and gives up with PortPoolExhausted after maxBindAttempts', async () => {
    const start = base + 1640;
    const local = createPortPool({ start, end: start + 16, clock: fakeClock() });
    const blockers = await Promise.all([bindAt(start + 4), bindAt(start + 8 + 6)]);
    cleanups.push(() =>
      Promise.all(blockers.map((b) => new Promise<void>((r) => b.close(() => r())))).then(() => {}),
    );
    await expect(
      createMediaSession({ engine: engineUnderTest, block: { start, size: 8 }, listen: HOST, lines: 2 }),
    ).rejects.toMatchObject({
      code: 'PBX_ERR_MEDIA_BIND',
      port: start + 4,
      errno: 'EADDRINUSE',
    });
    const options = { listen: HOST, lines: 2, maxBindAttempts: 2, engine: engineUnderTest };
    const error = await openMediaSession(local, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortPoolExhausted);
    expect((error as Error).cause).toBeInstanceOf(MediaBindError);
    expect(local.quarantined()).toBe(16);
    expect(local.inUse()).toBe(0);
  });

  it('refuses a port another socket holds with SO_REUSEPORT instead of sharing it (its RTP would split)', async () => {
    const start = base + 1720;
    const local = createPortPool({ start, end: start + 16, clock: fakeClock() });
    // Same user, SO_REUSEPORT: Linux would let a reuseport bind join this socket's group.
    const holder = createSocket({ type: 'udp4', reusePort: true });
    holder.bind({ port: start + 1, address: HOST, exclusive: true });
    await once(holder, 'listening');
    cleanups.push(() => new Promise<void>((r) => holder.close(() => r())));
    const s = await openMediaSession(local, { listen: HOST, engine: engineUnderTest });
    cleanups.push(() => s.close());
    expect(s.basePort).toBe(start + 8);
    expect(local.quarantined()).toBe(8);
  });

  it('by default gets past a run of several taken blocks (quarantining each) instead of answering 503', async () => {
    const start = base + 1760;
    const local = createPortPool({ start, end: start + 8 * 7, clock: fakeClock() });
    const holders = await Promise.all([0, 1, 2, 3, 4].map((i) => bindAt(start + 8 * i + 3)));
    cleanups.push(() =>
      Promise.all(holders.map((h) => new Promise<void>((r) => h.close(() => r())))).then(() => {}),
    );
    const s = await openMediaSession(local, { listen: HOST, engine: engineUnderTest });
    cleanups.push(() => s.close());
    expect(s.basePort).toBe(start + 8 * 5);
    expect(local.quarantined()).toBe(8 * 5);
  });

  it('releases the block when opening fails for another reason', async () => {
    const local = createPortPool({ start: base + 1680, end: base + 1696, clock: fakeClock() });
    await expect(openMediaSession(local, { listen: 'not-an-ip' })).rejects.toBeInstanceOf(MediaSessionError);
    expect(local.inUse()).toBe(0);
    expect(local.quarantined()).toBe(0);
  });
});

describe.each(ENGINES)('relay (%s engine): media inactivity', (engine) => {
  beforeAll(() => {
    engineUnderTest = engine;
  });

  it('reports a session with no RTP either way once, on the fake clock', async () => {
    const clock = fakeClock();
    const inactive: MediaSession[] = [];
    const s = await openMediaSession(pool, {
      listen: HOST,
      clock,
      inactivityTimeoutMs: 3000,
      onInactive: (x) => inactive.push(x),
    });
    cleanups.push(() => s.close());
    const line = line0(s);
    const { aRtp, bRtp } = await twoParties(line);
    clock.advance(2000);
    aRtp.send(rtp(1), line.ports.a.rtp);
    await bRtp.waitFor(1);
    clock.advance(1000); // activity seen at t=3000
    clock.advance(2000);
    expect(inactive).toHaveLength(0);
    clock.advance(1000); // 3 s without RTP
    expect(inactive).toEqual([s]);
    clock.advance(60_000);
    expect(inactive).toHaveLength(1);
    expect(clock.pending()).toBe(0);

    s.setInactivityTimeout(2000); // re-armed (e.g. after a re-INVITE)
    clock.advance(2000);
    expect(inactive).toHaveLength(2);
    s.setInactivityTimeout(1000);
    s.setInactivityTimeout(0); // hold: disabled
    clock.advance(10_000);
    expect(inactive).toHaveLength(2);
    expect(clock.pending()).toBe(0);
    s.setInactivityTimeout(1000);
    await s.close();
    expect(clock.pending()).toBe(0);
  });
});

function bindAt(port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind({ port, address: HOST, exclusive: true }, () => resolve(socket));
  });
}

/** Resolves once `check()` holds; fails the test after 2 s. */
async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Resolves once a party's RTP flow sends from a connected socket. */
function waitConnected(line: MediaLine, side: 'a' | 'b'): Promise<void> {
  return waitUntil(() => line.connected(side));
}
