// The native relay engine's own concerns; its relay behaviour (latching, drops, RTCP, mux, IPv6,
// transforms, counters, bind failures) runs in test/media/relay.test.ts on both engines.
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createPortPool } from '../../pbx/media/ports/index.js';
import {
  createRelayCounters,
  openMediaSession,
  relayTotals,
  resolveRelayEngine,
} from '../../pbx/media/relay/index.js';
import type { MediaLine, MediaSession } from '../../pbx/media/relay/index.js';
import { loadNativeRelay } from '../../pbx/media/relay/native.js';
import type { NativeHandle, NativeRelayBinding } from '../../pbx/media/relay/native.js';

const HOST = '127.0.0.1';
// Its own range, clear of relay.test.ts (21000 + pid % 500 * 16, up to ~29800).
const base = 30000 + (process.pid % 100) * 8 * 20;
const pool = createPortPool({ start: base, end: base + 8 * 20, clock: fakeClock() });
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
  expect(pool.inUse()).toBe(0);
});

function binding(): NativeRelayBinding {
  const load = loadNativeRelay();
  if (!load.ok)
    throw new Error(`the native relay must be built for these tests (make build): ${load.reason}`);
  return load.binding;
}

async function udp(): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.bind(0, HOST);
  await once(socket, 'listening');
  cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
  return socket;
}

async function nativeSession(counters = createRelayCounters()): Promise<MediaSession> {
  const s = await openMediaSession(pool, { listen: HOST, counters, engine: 'native' });
  cleanups.push(() => s.close());
  return s;
}

function line0(s: MediaSession): MediaLine {
  const line = s.line(0);
  if (line === undefined) throw new Error('line 0 is not open');
  return line;
}

function rtp(seq: number): Buffer {
  const packet = Buffer.alloc(172, seq & 0xff);
  packet[0] = 0x80;
  packet[1] = 0;
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE(0x1234, 8);
  return packet;
}

/** Resolves once `check` holds, polling every millisecond; fails after 5 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Context switches so far of this process's relay thread(s) (named sippbx-relay by relay.c). */
function relaySwitches(): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'sippbx-relay') continue;
    const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
    for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) n += Number(m[1]);
  }
  return n;
}

/** Collects datagrams and resolves when `count` have arrived (fails after 5 s). */
function collect(socket: Socket, count: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${count} datagrams`)), 5000);
    socket.on('message', (data: Buffer) => {
      got.push(data);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

describe('native relay: engine selection', () => {
  it('is built by make build and loads from dist/native', () => {
    const load = loadNativeRelay();
    expect(load.ok && load.path).toMatch(/dist\/native\/sippbx-relay\.node$/);
  });

  it('auto and native pick the native engine when it is built; node picks node', () => {
    expect(resolveRelayEngine('auto')).toBe('native');
    expect(resolveRelayEngine('native')).toBe('native');
    expect(resolveRelayEngine('node')).toBe('node');
  });

  it('a session says which engine it runs on', async () => {
    expect((await nativeSession()).engine).toBe('native');
  });
});

describe('native relay: the binding refuses bad input with a TypeError, never a crash', () => {
  const native = (): NativeRelayBinding => binding();
  const notALine = {} as NativeHandle;

  it.each([
    ['open without arguments', () => (native().open as () => unknown)()],
    ['open on family 5', () => native().open(1, 5 as 4, HOST, 40000)],
    ['open on port 0', () => native().open(1, 4, HOST, 0)],
    ['open on port 65533 (needs four)', () => native().open(1, 4, HOST, 65533)],
    ['remote of a non-line', () => native().remote(notALine, 0, 0)],
    ['setRemote on leg 2', () => native().setRemote(notALine, 2, HOST, 1, 2, false)],
    ['counters into a short array', () => native().counters(notALine, new Float64Array(3))],
    ['forward a string', () => native().forward(notALine, 0, 'x' as unknown as Buffer)],
    ['close of a non-line', () => native().close(notALine)],
  ])('%s', (_name, call) => {
    expect(call).toThrow(TypeError);
  });

  it('a live line refuses a remote address that is not an IP literal of its family', () => {
    const block = pool.reserve();
    cleanups.push(() => Promise.resolve(pool.release(block)));
    const handle = native().open(9, 4, HOST, block.start);
    if ('code' in handle) throw new Error(`cannot open: ${handle.message}`);
    try {
      expect(() => native().setRemote(handle, 0, 'not-an-ip', 4000, 4001, false)).toThrow(TypeError);
      expect(() => native().setRemote(handle, 0, '::1', 4000, 4001, false)).toThrow(/IPv4/);
      expect(() => native().setDivert(handle, 1, true, 'no' as unknown as boolean)).toThrow(TypeError);
      expect(native().remote(handle, 0, 0)).toEqual(['', 0, false]); // unchanged by the refusals
    } finally {
      native().close(handle);
    }
  });

  it('an address that is not an IP literal is a bind failure, not a crash', () => {
    expect(native().open(1, 4, 'localhost', 40000)).toMatchObject({ code: 'EINVAL', port: 40000 });
  });
});

describe('native relay: lifecycle under traffic', () => {
  it('frees its ports at close, even while a party keeps sending', async () => {
    const s = await nativeSession();
    const line = line0(s);
    const [a, b] = await Promise.all([udp(), udp()]);
    line.setRemote('a', { address: HOST, rtpPort: a.address().port, rtcpMux: false });
    line.setRemote('b', { address: HOST, rtpPort: b.address().port, rtcpMux: false });
    const arrived = collect(b, 50);
    for (let i = 0; i < 50; i++) a.send(rtp(i), line.ports.a.rtp, HOST);
    await arrived;
    let spraying = true;
    const spray = (async () => {
      for (let i = 0; spraying && i < 20_000; i++) {
        a.send(rtp(i), line.ports.a.rtp, HOST);
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }
    })();
    await s.close();
    const again = createSocket('udp4');
    again.bind(line.ports.a.rtp, HOST);
    await once(again, 'listening'); // the port is free the moment close() resolved
    spraying = false;
    await spray;
    await new Promise<void>((r) => again.close(() => r()));
    expect(line.counters.rtpPackets['a-to-b']).toBeGreaterThanOrEqual(50);
    // A closed line still answers from what it knew (the addon's memory is gone by now).
    expect(line.remote('a')).toEqual({ address: HOST, port: a.address().port, latched: true });
    expect(line.remote('b', 'rtcp')).toEqual({ address: HOST, port: b.address().port + 1, latched: false });
    expect(() => line.setTransform('a-to-b', (p) => p)).not.toThrow();
    line.setRemote('a', { address: HOST, rtpPort: 1, rtcpMux: false }); // ignored once closed
  });

  it('opens and closes 200 lines on the same ports while traffic flows, counting every line into the aggregate', async () => {
    const counters = createRelayCounters();
    const [a, b] = await Promise.all([udp(), udp()]);
    let relayed = 0;
    for (let round = 0; round < 200; round++) {
      const s = await nativeSession(counters);
      const line = line0(s);
      line.setRemote('a', { address: HOST, rtpPort: a.address().port, rtcpMux: false });
      line.setRemote('b', { address: HOST, rtpPort: b.address().port, rtcpMux: false });
      const arrived = collect(b, 3);
      for (let i = 0; i < 3; i++) a.send(rtp(i), line.ports.a.rtp, HOST);
      await arrived;
      b.removeAllListeners('message');
      relayed += 3;
      a.send(rtp(99), line.ports.a.rtp, HOST); // may or may not make it before the close
      await s.close();
    }
    const totals = relayTotals(counters);
    expect(totals.rtpPackets['a-to-b']).toBeGreaterThanOrEqual(relayed);
    expect(totals.rtpPackets['a-to-b']).toBeLessThanOrEqual(relayed + 200);
    expect(relayTotals(counters)).toBe(counters); // every line closed: nothing live is left
  });

  it('opening and closing lines without traffic never wakes the relay thread (no context switch per call)', async () => {
    await (await nativeSession()).close(); // the engine and its thread are up
    const before = relaySwitches();
    for (let i = 0; i < 200; i++) await (await nativeSession()).close();
    // One wake per close made this >= 200; now only the 1 s epoll timeout (or a backlog of 256) runs it.
    expect(relaySwitches() - before).toBeLessThan(20);
  });

  it('relays a 5,000-packet burst each way in order (batched receive)', async () => {
    const s = await nativeSession();
    const line = line0(s);
    const [a, b] = await Promise.all([udp(), udp()]);
    line.setRemote('a', { address: HOST, rtpPort: a.address().port, rtcpMux: false });
    line.setRemote('b', { address: HOST, rtpPort: b.address().port, rtcpMux: false });
    const n = 5000;
    const atB: Buffer[] = [];
    const atA: Buffer[] = [];
    b.on('message', (p: Buffer) => atB.push(p));
    a.on('message', (p: Buffer) => atA.push(p));
    // Slices of 100 each way (more than one recvmmsg batch) that the sockets' buffers hold; each slice
    // is awaited before the next.
    for (let i = 0; i < n; i += 100) {
      for (let j = i; j < i + 100; j++) {
        a.send(rtp(j), line.ports.a.rtp, HOST);
        b.send(rtp(j), line.ports.b.rtp, HOST);
      }
      await until(() => atB.length >= i + 100 && atA.length >= i + 100);
    }
    expect(atB.map((p) => p.readUInt16BE(2))).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(atA.map((p) => p.readUInt16BE(2))).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(line.counters.rtpPackets).toEqual({ 'a-to-b': n, 'b-to-a': n });
    expect(line.rtpReceived()).toBe(2 * n);
  });

  it('a port another process holds fails the bind with EADDRINUSE and leaves none of the four bound', async () => {
    const block = pool.reserve();
    pool.release(block);
    const holder = createSocket('udp4');
    holder.bind(block.start + 2, HOST);
    await once(holder, 'listening');
    cleanups.push(() => new Promise<void>((r) => holder.close(() => r())));
    expect(binding().open(7, 4, HOST, block.start)).toMatchObject({
      code: 'EADDRINUSE',
      port: block.start + 2,
    });
    const free = createSocket('udp4');
    free.bind(block.start, HOST); // not left bound by the failed open
    await once(free, 'listening');
    await new Promise<void>((r) => free.close(() => r()));
    // Through the pool: the taken block is quarantined and the session lands on the next one.
    const s = await openMediaSession(pool, { listen: HOST, engine: 'native', maxBindAttempts: 8 });
    cleanups.push(() => s.close());
    expect(s.basePort).not.toBe(block.start);
  });
});
