/**
 * CallMedia with real UDP sockets: the port block is leased by a call's first SDP (not by its INVITE),
 * media failures map to SIP answers, and the media timeout (injected clock) pauses while a side holds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import type { FakeClock } from '../../pbx/core/clock.js';
import { CallMedia, mediaRefusal, SdpError } from '../../pbx/b2bua/media.js';
import type { CallMediaOptions } from '../../pbx/b2bua/media.js';
import { createPortPool, PortPoolExhausted } from '../../pbx/media/ports/index.js';
import type { PortPool } from '../../pbx/media/ports/index.js';
import { createRelayCounters } from '../../pbx/media/relay/index.js';
import { leaseMediaPorts } from '../../e2e/harness/port-lease.js';
import type { PortLease } from '../../e2e/harness/port-lease.js';

function sdp(port: number, direction = 'sendrecv'): Buffer {
  return Buffer.from(
    [
      'v=0',
      'o=- 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${port} RTP/AVP 0`,
      'a=rtpmap:0 PCMU/8000',
      `a=${direction}`,
      '',
    ].join('\r\n'),
    'latin1',
  );
}

let lease: PortLease;
let pool: PortPool;
let clock: FakeClock;
const open: CallMedia[] = [];

function media(extra: Partial<CallMediaOptions> = {}, from: PortPool = pool): CallMedia {
  const m = new CallMedia({
    pool: from,
    listen: '127.0.0.1',
    advertised: '192.0.2.10',
    clock,
    counters: createRelayCounters(),
    ...extra,
  });
  open.push(m);
  return m;
}

beforeAll(() => {
  lease = leaseMediaPorts();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
  pool.close();
});

afterAll(() => lease.release());

function freshPool(blocks?: number): void {
  clock = fakeClock();
  const end = blocks === undefined ? lease.end : lease.start + blocks * 8;
  pool = createPortPool({ start: lease.start, end, clock });
}

describe('CallMedia', () => {
  it('holds no port until the first SDP, then one block, and returns it on close', async () => {
    freshPool();
    const m = media();
    expect(m.basePort).toBeNull();
    expect(m.rtpReceived()).toBe(0);
    expect(pool.inUse()).toBe(0);
    const out = (await m.relay('a', sdp(40000))).toString('latin1');
    expect(pool.inUse()).toBe(8);
    const base = m.basePort ?? -1;
    expect(base).toBeGreaterThanOrEqual(lease.start);
    expect(out).toContain('c=IN IP4 192.0.2.10');
    // the offer from A goes to B: it names the B-facing RTP port (block + 2)
    expect(out).toContain(`m=audio ${base + 2} RTP/AVP 0`);
    const answer = (await m.relay('b', sdp(40010))).toString('latin1');
    expect(answer).toContain(`m=audio ${base} RTP/AVP 0`);
    expect(pool.inUse()).toBe(8);
    await m.close();
    expect(pool.inUse()).toBe(0);
  });

  it('opens at once when asked (an INVITE with an offer) and closes idempotently', async () => {
    freshPool();
    const m = media();
    await m.open();
    expect(pool.inUse()).toBe(8);
    await Promise.all([m.close(), m.close()]);
    expect(pool.inUse()).toBe(0);
  });

  it('a signaling-only call closes without ever leasing, and refuses SDP once closed', async () => {
    freshPool();
    const m = media();
    await m.close();
    expect(pool.inUse()).toBe(0);
    await expect(m.relay('a', sdp(40000))).rejects.toBeInstanceOf(SdpError);
    expect(pool.inUse()).toBe(0);
  });

  it('a late offer with no free block fails with PortPoolExhausted, mapped to 503 + Retry-After', async () => {
    freshPool(1);
    const first = media();
    await first.open();
    const late = media();
    const err: unknown = await late.relay('b', sdp(40020)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortPoolExhausted);
    const refusal = mediaRefusal(err);
    expect(refusal.status).toBe(503);
    expect(refusal.headers.map((h) => h.key)).toContain('retry-after');
    expect(late.basePort).toBeNull();
    await first.close();
    expect(pool.inUse()).toBe(0);
  });

  it('maps unusable SDP to 488 and rethrows anything else', () => {
    expect(mediaRefusal(new SdpError('no m= line')).status).toBe(488);
    const other = new Error('boom');
    expect(() => mediaRefusal(other)).toThrow(other);
  });

  it('ends a silent call after the media timeout, counted from the answer, but not while a side holds', async () => {
    freshPool();
    let inactive = 0;
    const m = media({ inactivityTimeoutMs: 3000 });
    m.whenInactive(() => inactive++);
    await m.relay('a', sdp(40000));
    await m.relay('b', sdp(40010));
    // ringing: silence is normal before the answer
    clock.advance(10_000);
    expect(inactive).toBe(0);
    m.answered();
    clock.advance(2000);
    expect(inactive).toBe(0);
    // A puts the call on hold: silence is allowed for as long as it lasts
    await m.relay('a', sdp(40000, 'sendonly'));
    await m.relay('b', sdp(40010, 'recvonly'));
    clock.advance(20_000);
    expect(inactive).toBe(0);
    // back to sendrecv on both sides: the timeout counts again from now
    await m.relay('a', sdp(40000));
    await m.relay('b', sdp(40010));
    clock.advance(2000);
    expect(inactive).toBe(0);
    clock.advance(2000);
    expect(inactive).toBe(1);
  });

  it('a call answered without SDP starts its media timeout when its first SDP opens the media', async () => {
    freshPool();
    let inactive = 0;
    const m = media({ inactivityTimeoutMs: 3000 });
    m.whenInactive(() => inactive++);
    m.answered();
    clock.advance(10_000);
    expect(inactive).toBe(0);
    await m.relay('a', sdp(40000));
    clock.advance(4000);
    expect(inactive).toBe(1);
  });

  it('without a media timeout never reports silence', async () => {
    freshPool();
    let inactive = 0;
    const m = media();
    m.whenInactive(() => inactive++);
    await m.relay('a', sdp(40000));
    clock.advance(600_000);
    expect(inactive).toBe(0);
  });
});
