/**
 * CallMedia with `transcode` over real UDP sockets on 127.0.0.1: a PCMU-only side A and an Opus-only side B. The
 * offer B receives is extended with Opus, B's answer makes the relay transcode both ways (a tone survives, measured
 * by correlation), telephone-event passes with its payload type and duration mapped; with `transcode: false`, or
 * when the sides share a codec, the call stays in bypass and packets pass byte for byte. Re-offers from either side
 * replace the transcoders or remove them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallMedia } from '../../pbx/b2bua/media.js';
import { fakeClock } from '../../pbx/core/clock.js';
import { createPortPool } from '../../pbx/media/ports/index.js';
import type { PortPool } from '../../pbx/media/ports/index.js';
import { createRelayCounters } from '../../pbx/media/relay/index.js';
import type { DirectionCounts } from '../../pbx/media/relay/index.js';
import { describeSdp } from '../../pbx/media/sdp/index.js';
import { leaseMediaPorts } from '../../e2e/harness/port-lease.js';
import type { PortLease } from '../../e2e/harness/port-lease.js';
import { RtpParty } from '../../e2e/harness/rtp-party.js';
import {
  bestCorrelation,
  decodeOpusFrames,
  decodePcmuFrames,
  encodeOpusFrames,
  encodePcmuFrames,
  tone,
} from '../support/audio.js';

const HOST = '127.0.0.1';
const SSRC_A = 0x0a0a0a0a;
const SSRC_B = 0x0b0b0b0b;

/** RTP packet (RFC 3550 §5.1). */
function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Uint8Array, marker = false): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = (marker ? 0x80 : 0) | pt;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(ts >>> 0, 4);
  header.writeUInt32BE(ssrc, 8);
  return Buffer.concat([header, payload]);
}

interface Rtp {
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  payload: Buffer;
}

function parse(packet: Buffer): Rtp {
  return {
    pt: (packet[1] ?? 0) & 0x7f,
    seq: packet.readUInt16BE(2),
    ts: packet.readUInt32BE(4),
    ssrc: packet.readUInt32BE(8),
    payload: packet.subarray(12 + ((packet[0] ?? 0) & 0x0f) * 4),
  };
}

/** A's stream: PCMU, 20 ms packets. */
function pcmuPackets(pcm: Int16Array, seq: number, ts: number): Buffer[] {
  return encodePcmuFrames(pcm).map((codes, k) => rtp(0, seq + k, ts + k * 160, SSRC_A, codes, k === 0));
}

/** B's stream: Opus, 20 ms packets, on payload type `pt`. */
function opusPackets(pcm: Int16Array, pt: number, seq: number, ts: number): Buffer[] {
  return encodeOpusFrames(pcm).map((payload, k) => rtp(pt, seq + k, ts + k * 960, SSRC_B, payload, k === 0));
}

/** An RFC 4733 event packet: event 5, end bit, volume 10, `duration` in the stream's clock. */
function dtmf(pt: number, seq: number, ts: number, ssrc: number, duration: number): Buffer {
  return rtp(pt, seq, ts, ssrc, Uint8Array.from([5, 0x80 | 10, duration >> 8, duration & 0xff]));
}

const sdp = (...lines: string[]): Buffer => Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1');
const head = (user: string, id: number, version: number): string[] => [
  'v=0',
  `o=${user} ${id} ${version} IN IP4 ${HOST}`,
  's=-',
  `c=IN IP4 ${HOST}`,
  't=0 0',
];

/** A: PCMU only, with telephone-event/8000. */
const pcmuOffer = (port: number, version = 1): Buffer =>
  sdp(
    ...head('alice', 1, version),
    `m=audio ${port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
  );

/** B: Opus only, with telephone-event/48000, on the payload types the offer it received gave them. */
const opusSdp = (port: number, opus: number, events: number, version = 1): Buffer =>
  sdp(
    ...head('bob', 7, version),
    `m=audio ${port} RTP/AVP ${opus} ${events}`,
    `a=rtpmap:${opus} opus/48000/2`,
    `a=fmtp:${opus} useinbandfec=1`,
    `a=rtpmap:${events} telephone-event/48000`,
    `a=fmtp:${events} 0-16`,
    'a=ptime:20',
  );

/** The m= line's port and formats, and the payload type of a codec, of an SDP a side received. */
function seen(body: Buffer): {
  port: number;
  formats: readonly string[];
  pt: (name: string, rate: number) => number;
} {
  const media = describeSdp(body).media[0];
  if (media === undefined) throw new Error('no m= line');
  return {
    port: media.port,
    formats: media.formats,
    pt(name, rate) {
      const codec = media.codecs.find((c) => c.name.toLowerCase() === name && c.clockRate === rate);
      if (codec === undefined) throw new Error(`no ${name}/${rate} in ${body.toString('latin1')}`);
      return codec.payloadType;
    },
  };
}

let lease: PortLease;
let pool: PortPool;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  lease = leaseMediaPorts();
  pool = createPortPool({ start: lease.start, end: lease.start + 64, clock: fakeClock() });
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

afterAll(() => {
  lease.release();
  expect(pool.inUse()).toBe(0);
});

async function call(
  transcode: boolean,
): Promise<{ media: CallMedia; a: RtpParty; b: RtpParty; transcoded: DirectionCounts }> {
  const transcoded: DirectionCounts = { 'a-to-b': 0, 'b-to-a': 0 };
  const media = new CallMedia({
    pool,
    listen: HOST,
    advertised: HOST,
    clock: fakeClock(),
    counters: createRelayCounters(),
    transcode,
    transcoded,
  });
  const [a, b] = [await RtpParty.open(), await RtpParty.open()];
  cleanups.push(
    () => a.close(),
    () => b.close(),
    () => media.close(),
  );
  return { media, a, b, transcoded };
}

describe('CallMedia transcoding (PCMU-only A, Opus-only B)', () => {
  it('extends the offer, answers A with PCMU and transcodes a tone both ways; telephone-event is mapped', async () => {
    const { media, a, b, transcoded } = await call(true);
    const toB = seen(await media.relay('a', pcmuOffer(a.port)));
    expect(toB.formats).toEqual(['0', '101', '8', '111', '110']);
    const opusPt = toB.pt('opus', 48000);
    const eventsPt = toB.pt('telephone-event', 48000);
    const answer = await media.relay('b', opusSdp(b.port, opusPt, eventsPt));
    const toA = seen(answer);
    expect(toA.formats).toEqual(['0', '101']);
    expect(answer.toString('latin1')).not.toContain('opus');

    // A -> B: 1 s of 1 kHz PCMU arrives as Opus on B's payload type; decoded, it is the tone.
    const atB = await a.exchange(b, toA.port, pcmuPackets(tone(1000, 8000, 1), 1000, 80000));
    expect(atB).toHaveLength(50);
    const fromA = atB.map(parse);
    fromA.forEach((p, k) =>
      expect([p.pt, p.seq, p.ts, p.ssrc]).toEqual([opusPt, 1000 + k, 80000 + k * 960, SSRC_A]),
    );
    const heard = decodeOpusFrames(fromA.map((p) => p.payload));
    expect(heard.length).toBe(48000);
    expect(bestCorrelation(tone(1000, 48000, 1), heard, 4800, 43200, 2400).c).toBeGreaterThanOrEqual(0.9);

    // B -> A: 1 s of 440 Hz Opus arrives as PCMU on payload type 0, 160 bytes a packet; timestamps go on from
    // the first input value in the 8 kHz clock (transcoder.ts: the mapping keeps the stream's origin).
    const atA = await b.exchange(a, toB.port, opusPackets(tone(440, 48000, 1), opusPt, 500, 960000));
    const fromB = atA.map(parse);
    fromB.forEach((p, k) =>
      expect([p.pt, p.seq, p.ts, p.ssrc, p.payload.length]).toEqual([
        0,
        500 + k,
        960000 + k * 160,
        SSRC_B,
        160,
      ]),
    );
    const pcm = decodePcmuFrames(fromB.map((p) => p.payload));
    expect(bestCorrelation(tone(440, 8000, 1), pcm, 800, 7200, 400).c).toBeGreaterThanOrEqual(0.9);

    // DTMF: the payload type is mapped and the duration rescaled to the other leg's clock.
    const [eventAtB] = await a.exchange(b, toA.port, [dtmf(101, 1050, 88000, SSRC_A, 1600)]);
    const e1 = parse(eventAtB ?? Buffer.alloc(16));
    expect(e1.pt).toBe(eventsPt);
    expect([...e1.payload]).toEqual([5, 0x80 | 10, 9600 >> 8, 9600 & 0xff]);
    const [eventAtA] = await b.exchange(a, toB.port, [dtmf(eventsPt, 550, 1008000, SSRC_B, 4800)]);
    const e2 = parse(eventAtA ?? Buffer.alloc(16));
    expect(e2.pt).toBe(101);
    expect([...e2.payload]).toEqual([5, 0x80 | 10, 800 >> 8, 800 & 0xff]);

    expect(transcoded).toEqual({ 'a-to-b': 51, 'b-to-a': 51 });
  });

  it('keeps the transcoders when the answer is repeated (18x then 2xx), and an explicit role overrides the inference', async () => {
    const { media, a, b } = await call(true);
    const toB = seen(await media.relay('a', pcmuOffer(a.port)));
    const answer = opusSdp(b.port, toB.pt('opus', 48000), toB.pt('telephone-event', 48000));
    const first = await media.relay('b', answer);
    const again = await media.relay('b', answer);
    expect(again.equals(first)).toBe(true);
    const toA = seen(again);
    const [one] = await a.exchange(b, toA.port, pcmuPackets(tone(1000, 8000, 0.02), 7, 0));
    expect(parse(one ?? Buffer.alloc(12)).pt).toBe(toB.pt('opus', 48000));
    // The same body said to be an offer is one: extended with PCMU and PCMA for A.
    const reoffer = seen(await media.relay('b', answer, 'offer'));
    expect(reoffer.formats).toEqual([
      String(toB.pt('opus', 48000)),
      String(toB.pt('telephone-event', 48000)),
      '0',
      '8',
      '101',
    ]);
  });

  it('moves the transcoding to a re-offer from B, and drops it when a re-offer from A ends in a shared codec', async () => {
    const { media, a, b, transcoded } = await call(true);
    const toB = seen(await media.relay('a', pcmuOffer(a.port)));
    const opusPt = toB.pt('opus', 48000);
    const toA = seen(await media.relay('b', opusSdp(b.port, opusPt, toB.pt('telephone-event', 48000))));

    // re-INVITE from B (new o= version): an offer, extended for A; A answers with PCMU; B is now the offerer.
    const reoffer = seen(await media.relay('b', opusSdp(b.port, 96, 97, 2)));
    expect(reoffer.formats).toEqual(['96', '97', '0', '8', '101']);
    const reanswer = seen(await media.relay('a', pcmuOffer(a.port, 2)));
    expect(reanswer.formats).toEqual(['96', '97']);
    const atB = await a.exchange(b, toA.port, pcmuPackets(tone(1000, 8000, 0.1), 1, 0));
    expect(atB.map((p) => parse(p).pt)).toEqual([96, 96, 96, 96, 96]);
    const atA = await b.exchange(a, toB.port, opusPackets(tone(440, 48000, 0.1), 96, 1, 0));
    expect(atA.map((p) => parse(p).pt)).toEqual([0, 0, 0, 0, 0]);
    expect(transcoded).toEqual({ 'a-to-b': 5, 'b-to-a': 5 });

    // re-INVITE from A that lists Opus too: B keeps A's Opus, so the call goes back to bypass.
    const offer = sdp(
      ...head('alice', 1, 3),
      `m=audio ${a.port} RTP/AVP 0 98 101`,
      'a=rtpmap:98 opus/48000/2',
      'a=rtpmap:101 telephone-event/8000',
    );
    // A has telephone-event at 8000 only, and nothing at 48000 is appended: A's own Opus needs none from us.
    expect(seen(await media.relay('a', offer)).formats).toEqual(['0', '98', '101', '8']);
    const opusOnly = sdp(...head('bob', 7, 3), `m=audio ${b.port} RTP/AVP 98`, 'a=rtpmap:98 opus/48000/2');
    expect(seen(await media.relay('b', opusOnly)).formats).toEqual(['98']);
    const opus = opusPackets(tone(440, 48000, 0.04), 98, 9, 0);
    const passed = await b.exchange(a, toB.port, opus);
    expect(passed.map((p, k) => p.equals(opus[k] ?? Buffer.alloc(0)))).toEqual([true, true]);
    expect(transcoded).toEqual({ 'a-to-b': 5, 'b-to-a': 5 });
  });
});

describe('CallMedia without transcoding', () => {
  it('with transcode: false the offer and answer pass as in bypass and packets are not touched', async () => {
    const { media, a, b, transcoded } = await call(false);
    const offer = pcmuOffer(a.port);
    const toB = await media.relay('a', offer);
    expect(seen(toB).formats).toEqual(['0', '101']);
    // Only the bypass fields differ: same line count, same attributes.
    expect(
      toB
        .toString('latin1')
        .split('\r\n')
        .filter((l) => l.startsWith('a=')),
    ).toEqual(
      offer
        .toString('latin1')
        .split('\r\n')
        .filter((l) => l.startsWith('a=')),
    );
    const answer = opusSdp(b.port, 111, 110);
    const toA = seen(await media.relay('b', answer));
    expect(toA.formats).toEqual(['111', '110']);
    const packets = pcmuPackets(tone(1000, 8000, 0.06), 1, 0);
    const atB = await a.exchange(b, toA.port, packets);
    expect(atB.every((p, k) => p.equals(packets[k] ?? Buffer.alloc(0)))).toBe(true);
    expect(transcoded).toEqual({ 'a-to-b': 0, 'b-to-a': 0 });
  });

  it('with transcode: true but a shared codec the call stays in bypass, and the appended codecs leave the answer', async () => {
    const { media, a, b, transcoded } = await call(true);
    const toB = seen(await media.relay('a', pcmuOffer(a.port)));
    const opusPt = toB.pt('opus', 48000);
    // B can do both, prefers Opus, and keeps A's PCMU: bypass on PCMU.
    const answer = sdp(
      ...head('bob', 7, 1),
      `m=audio ${b.port} RTP/AVP ${opusPt} 0 101`,
      `a=rtpmap:${opusPt} opus/48000/2`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
    );
    const toA = await media.relay('b', answer);
    expect(seen(toA).formats).toEqual(['0', '101']);
    expect(toA.toString('latin1')).not.toContain('opus');
    const fromA = pcmuPackets(tone(1000, 8000, 0.06), 1, 0);
    const atB = await a.exchange(b, seen(toA).port, fromA);
    expect(atB.every((p, k) => p.equals(fromA[k] ?? Buffer.alloc(0)))).toBe(true);
    const fromB = pcmuPackets(tone(440, 8000, 0.06), 1, 0);
    const atA = await b.exchange(a, toB.port, fromB);
    expect(atA.every((p, k) => p.equals(fromB[k] ?? Buffer.alloc(0)))).toBe(true);
    expect(transcoded).toEqual({ 'a-to-b': 0, 'b-to-a': 0 });
  });
});
