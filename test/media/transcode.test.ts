import { describe, expect, it } from 'vitest';
import { decodeAlaw } from '../../pbx/media/codecs/g711.js';
import { createOpusDecoder } from '../../pbx/media/codecs/opus.js';
import { createTranscoder, HELD } from '../../pbx/media/codecs/index.js';
import type { Transcoder, TranscoderOptions } from '../../pbx/media/codecs/index.js';
import { createTimestampMapper, scaleDuration } from '../../pbx/media/codecs/rtp-clock.js';
import { emptyRtpView, parseRtp } from '../../pbx/media/codecs/rtp-packet.js';
import { bestCorrelation, decodePcmuFrames, encodePcmuFrames, tone, toneShare } from '../support/audio.js';

const SSRC = 0x11223344;
const PCMU = { codec: 'PCMU', payloadType: 0 } as const;
const PCMA = { codec: 'PCMA', payloadType: 8 } as const;
const OPUS = { codec: 'opus', payloadType: 111 } as const;

/** Builds an RTP packet (RFC 3550 §5.1) with optional CSRCs, header extension and padding. */
function rtp(
  fields: {
    pt: number;
    seq: number;
    ts: number;
    marker?: boolean;
    csrcs?: number[];
    extension?: Buffer;
    padding?: number;
  },
  payload: Uint8Array,
): Buffer {
  const csrcs = fields.csrcs ?? [];
  const header = Buffer.alloc(12 + csrcs.length * 4);
  header[0] = 0x80 | (fields.padding ? 0x20 : 0) | (fields.extension ? 0x10 : 0) | csrcs.length;
  header[1] = (fields.marker ? 0x80 : 0) | fields.pt;
  header.writeUInt16BE(fields.seq & 0xffff, 2);
  header.writeUInt32BE(fields.ts >>> 0, 4);
  header.writeUInt32BE(SSRC, 8);
  csrcs.forEach((csrc, i) => header.writeUInt32BE(csrc, 12 + i * 4));
  const padding = fields.padding ? Buffer.alloc(fields.padding) : Buffer.alloc(0);
  if (fields.padding) padding[fields.padding - 1] = fields.padding;
  return Buffer.concat([header, fields.extension ?? Buffer.alloc(0), payload, padding]);
}

/** Parses an output packet for assertions. */
function parsed(packet: Buffer | null): ReturnType<typeof emptyRtpView> & { payload: Buffer } {
  expect(packet).not.toBeNull();
  const view = emptyRtpView();
  expect(parseRtp(packet ?? Buffer.alloc(0), view)).toBe(true);
  const payload = (packet ?? Buffer.alloc(0)).subarray(
    view.payloadOffset,
    view.payloadOffset + view.payloadLength,
  );
  return { ...view, payload };
}

/** Splits PCM into PCMU RTP packets of `ptimeMs` (sequence from `seq`, timestamp from `ts`). */
function pcmuStream(pcm: Int16Array, ptimeMs: number, seq: number, ts: number): Buffer[] {
  const samples = 8 * ptimeMs;
  return encodePcmuFrames(pcm, samples).map((codes, k) =>
    rtp({ pt: 0, seq: seq + k, ts: ts + k * samples, marker: k === 0 }, codes),
  );
}

/** Runs packets through a transcoder, keeping the non-null outputs. */
function run(transcoder: Transcoder, packets: Buffer[]): Buffer[] {
  return packets.map((p) => transcoder.transform(p)).filter((p): p is Buffer => p !== null && p.length > 0);
}

/** Creates a transcoder and registers it for closing. */
function open(options: TranscoderOptions, opened: Transcoder[]): Transcoder {
  const t = createTranscoder(options);
  opened.push(t);
  return t;
}

describe('transcoder PCMU -> Opus -> PCMU', () => {
  it('keeps the audio: decoded correlation with the 1 kHz input >= 0.9 after aligning the delay', () => {
    const opened: Transcoder[] = [];
    const toOpus = open({ from: PCMU, to: OPUS }, opened);
    const toPcmu = open({ from: OPUS, to: PCMU }, opened);
    const input = tone(1000, 8000, 1);
    const packets = pcmuStream(input, 20, 40000, 1_000_000);
    const opus = run(toOpus, packets);
    const back = run(toPcmu, opus);
    expect(opus).toHaveLength(50);
    expect(back).toHaveLength(50);

    const output = decodePcmuFrames(back.map((packet) => parsed(packet).payload));
    // Delay: 2 x resampler (2 x 119.5 at 48 kHz) + libopus' algorithmic delay; search up to 25 ms. The
    // 48 kHz delay is not a multiple of 6, so the best integer lag at 8 kHz is off by a fraction of a
    // sample, which for a 1 kHz tone caps this measure at ~0.93 (measured 0.934; lags are equal mod 8).
    const { lag, c } = bestCorrelation(input, output, 800, 7200, 200);
    expect(c).toBeGreaterThanOrEqual(0.9);
    expect(lag).toBeGreaterThan(0);
    // Delay-free measure: the correlation of the output with a 1 kHz sinusoid of the best phase, the square root
    // of the tone's share of the energy (measured 0.9997).
    expect(Math.sqrt(toneShare(output.subarray(800, 7200), 1000, 8000))).toBeGreaterThanOrEqual(0.99);

    // Headers: PT rewritten, SSRC kept, sequence continuous, timestamps in each leg's clock, marker kept.
    opus.forEach((packet, k) => {
      const h = parsed(packet);
      expect(h.payloadType).toBe(111);
      expect(h.ssrc).toBe(SSRC);
      expect(h.sequence).toBe(40000 + k);
      expect(h.timestamp).toBe((1_000_000 + k * 960) >>> 0);
      expect(h.marker).toBe(k === 0);
      expect(h.payload[0]).toBeDefined();
    });
    back.forEach((packet, k) => {
      const h = parsed(packet);
      expect(h.payloadType).toBe(0);
      expect(h.sequence).toBe(40000 + k);
      expect(h.timestamp).toBe(1_000_000 + k * 160);
      expect(h.payloadLength).toBe(160);
      expect(h.marker).toBe(k === 0);
    });
    expect(toOpus.stats).toMatchObject({ transcoded: 50, malformed: 0, codecErrors: 0 });
    for (const t of opened) t.close();
  });

  it('the Opus leg really is Opus: a plain libopus decoder reads it as a 1 kHz tone at 48 kHz', () => {
    const opened: Transcoder[] = [];
    const toOpus = open({ from: PCMU, to: OPUS, opus: { bitrate: 24000, complexity: 10 } }, opened);
    const decoder = createOpusDecoder();
    const out = new Int16Array(5760);
    let frames = 0;
    for (const packet of run(toOpus, pcmuStream(tone(1000, 8000, 1), 20, 1, 0)))
      frames += decoder.decode(parsed(packet).payload, out);
    expect(frames).toBe(48000);
    decoder.close();
    for (const t of opened) t.close();
  });
});

describe('transcoder framing and headers', () => {
  it('sequence numbers stay continuous when input packets are dropped (malformed, unknown PT, lost)', () => {
    const opened: Transcoder[] = [];
    const t = open({ from: PCMU, to: OPUS, initialSequence: 65534, initialTimestamp: 0xfffffc40 }, opened);
    const packets = pcmuStream(tone(500, 8000, 0.2), 20, 100, 5000);
    const mixed = [
      packets[0],
      Buffer.from([0x80, 0x00]), // too short
      packets[1],
      rtp({ pt: 13, seq: 102, ts: 5320 }, new Uint8Array([0x40])), // comfort noise: not carried
      // packets[2] lost on the network
      packets[3],
    ].filter((p): p is Buffer => p !== undefined);
    const out = run(t, mixed).map(parsed);
    expect(out.map((h) => h.sequence)).toEqual([65534, 65535, 0]);
    // Timestamps: the output starts at the injected base, wraps at 2^32, and keeps the gap of the lost
    // packet (3 x 20 ms) in the 48 kHz clock.
    expect(out.map((h) => h.timestamp)).toEqual([
      0xfffffc40,
      (0xfffffc40 + 960) >>> 0,
      (0xfffffc40 + 3 * 960) >>> 0,
    ]);
    expect(t.stats).toMatchObject({ transcoded: 3, malformed: 1, unknownPayloadType: 1 });
    for (const x of opened) x.close();
  });

  it('maps timestamps 48 kHz -> 8 kHz across the input 2^32 wrap without a jump', () => {
    const opened: Transcoder[] = [];
    const up = open({ from: PCMU, to: OPUS }, opened);
    const down = open({ from: OPUS, to: PCMA }, opened);
    const start = 0xffffffff - 2 * 960 + 1; // the third Opus packet wraps
    const opus = run(up, pcmuStream(tone(1000, 8000, 0.1), 20, 7, 0)).map((p, k) => {
      p.writeUInt32BE((start + k * 960) >>> 0, 4);
      return p;
    });
    const out = run(down, opus).map(parsed);
    expect(out.map((h) => h.payloadType)).toEqual([8, 8, 8, 8, 8]);
    const steps = out.slice(1).map((h, k) => (h.timestamp - (out[k]?.timestamp ?? 0)) >>> 0);
    expect(steps).toEqual([160, 160, 160, 160]);
    expect(out[0]?.timestamp).toBe(start);
    for (const x of opened) x.close();
  });

  it('keeps CSRCs, drops the header extension and padding, and parses them on input', () => {
    const opened: Transcoder[] = [];
    const t = open({ from: PCMU, to: PCMA }, opened);
    const codes = new Uint8Array(160).fill(0xff);
    codes[0] = 0x80; // +32124
    const extension = Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00]); // RFC 8285 one-byte
    const packet = rtp({ pt: 0, seq: 9, ts: 160, marker: true, csrcs: [1, 2], extension, padding: 4 }, codes);
    const h = parsed(t.transform(packet));
    expect(h.csrcCount).toBe(2);
    expect(packet.subarray(12, 20).equals((t.transform(packet) ?? Buffer.alloc(0)).subarray(12, 20))).toBe(
      true,
    );
    expect(h.payloadOffset).toBe(20);
    expect(h.payloadLength).toBe(160);
    expect(h.marker).toBe(true);
    const pcm = new Int16Array(160);
    decodeAlaw(h.payload, pcm);
    expect(pcm[0]).toBe(32256); // A-law's top level for µ-law's +32124
    expect(pcm[1]).toBe(8); // µ-law zero -> A-law's smallest positive level
    for (const x of opened) x.close();
  });

  it.each([
    ['shorter than the fixed header', Buffer.from([0x80, 0x00, 0x00])],
    ['version 1', Buffer.concat([Buffer.from([0x40, 0x00]), Buffer.alloc(10), Buffer.alloc(160, 0xff)])],
    [
      'CSRC list past the end',
      Buffer.concat([Buffer.from([0x8f, 0x00]), Buffer.alloc(10), Buffer.alloc(20)]),
    ],
    [
      'truncated extension header',
      Buffer.concat([Buffer.from([0x90, 0x00]), Buffer.alloc(10), Buffer.from([0xbe, 0xde])]),
    ],
    [
      'extension longer than the packet',
      Buffer.concat([Buffer.from([0x90, 0x00]), Buffer.alloc(10), Buffer.from([0xbe, 0xde, 0x00, 0x09])]),
    ],
    [
      'padding count 0',
      Buffer.concat([Buffer.from([0xa0, 0x00]), Buffer.alloc(10), Buffer.alloc(160, 0xff), Buffer.from([0])]),
    ],
    [
      'padding beyond the payload',
      Buffer.concat([Buffer.from([0xa0, 0x00]), Buffer.alloc(10), Buffer.from([1, 2, 200])]),
    ],
    ['empty payload', Buffer.concat([Buffer.from([0x80, 0x00]), Buffer.alloc(10)])],
  ])('drops malformed RTP: %s', (_name, packet) => {
    const t = createTranscoder({ from: PCMU, to: PCMA });
    expect(t.transform(packet)).toBeNull();
    expect(t.stats.malformed).toBe(1);
    t.close();
  });

  it('handles 10 ms and 60 ms packets (one in, one out of the same duration) and joins 30 ms ones to Opus', () => {
    const opened: Transcoder[] = [];
    const t = open({ from: PCMU, to: OPUS }, opened);
    const ten = run(t, pcmuStream(tone(1000, 8000, 0.04), 10, 0, 0)).map(parsed);
    expect(ten.map((h) => h.timestamp - (ten[0]?.timestamp ?? 0))).toEqual([0, 480, 960, 1440]);
    const sixty = createTranscoder({ from: PCMU, to: OPUS });
    opened.push(sixty);
    expect(run(sixty, pcmuStream(tone(1000, 8000, 0.12), 60, 0, 0))).toHaveLength(2);
    const thirty = createTranscoder({ from: PCMU, to: OPUS });
    opened.push(thirty);
    const joined = pcmuStream(tone(1000, 8000, 0.06), 30, 0, 0).map((p) => thirty.transform(p));
    expect(joined[0]).toBe(HELD); // kept: 30 ms is no Opus frame size
    expect(thirty.stats).toMatchObject({ held: 1, transcoded: 1, codecErrors: 0 });
    // A G.711 payload longer than 120 ms is refused as well.
    expect(t.transform(rtp({ pt: 0, seq: 1, ts: 1 }, new Uint8Array(961)))).toBeNull();
    for (const x of opened) x.close();
  });

  it('joins 30 ms G.711 packets pairwise into 60 ms Opus packets: first timestamp and marker, the tone intact', () => {
    const opened: Transcoder[] = [];
    const t = open({ from: PCMU, to: OPUS, initialSequence: 7000 }, opened);
    const input = pcmuStream(tone(1000, 8000, 1.2), 30, 500, 240_000); // 40 packets of 240 samples
    const results = input.map((p) => t.transform(p));
    expect(results.filter((r) => r === HELD)).toHaveLength(20);
    const out = results.filter((r): r is Buffer => r !== null && r !== HELD).map(parsed);
    expect(out).toHaveLength(20);
    expect(out.map((h) => h.sequence)).toEqual(Array.from({ length: 20 }, (_, k) => 7000 + k));
    expect(out.map((h) => h.timestamp - (out[0]?.timestamp ?? 0))).toEqual(
      Array.from({ length: 20 }, (_, k) => k * 2880),
    );
    expect(out.map((h) => h.marker)).toEqual(Array.from({ length: 20 }, (_, k) => k === 0));
    const decoder = createOpusDecoder();
    const pcm = new Int16Array(48000 * 1.2);
    let at = 0;
    for (const h of out) at += decoder.decode(h.payload, pcm.subarray(at));
    decoder.close();
    expect(at).toBe(57600); // 20 x 60 ms at 48 kHz: nothing lost
    expect(toneShare(pcm.subarray(4800), 1000, 48000)).toBeGreaterThan(0.9);
    expect(t.stats).toMatchObject({ held: 20, transcoded: 20, codecErrors: 0 });
    for (const x of opened) x.close();
  });

  it('a lost 30 ms packet discards the held half and the next pair starts from the packet after the gap', () => {
    const opened: Transcoder[] = [];
    const t = open({ from: PCMU, to: OPUS }, opened);
    const [p0, , p2, p3] = pcmuStream(tone(1000, 8000, 0.12), 30, 0, 0);
    expect(t.transform(p0 ?? Buffer.alloc(0))).toBe(HELD);
    expect(t.transform(p2 ?? Buffer.alloc(0))).toBe(HELD); // ts 480, not 240: p0 is discarded
    expect(t.stats.codecErrors).toBe(1);
    const joined = parsed(t.transform(p3 ?? Buffer.alloc(0)));
    const mapper = createTimestampMapper(8000, 48000);
    expect(joined.timestamp).toBe(mapper.map(480));
    expect(t.stats).toMatchObject({ held: 2, transcoded: 1 });
    for (const x of opened) x.close();
  });

  it("translates its direction's RTCP sender reports into the output stream's clock and counts", () => {
    const opened: Transcoder[] = [];
    const t = open({ from: PCMU, to: OPUS, initialTimestamp: 5000 }, opened);
    const report = Buffer.alloc(28);
    report[0] = 0x80;
    report[1] = 200;
    report.writeUInt16BE(6, 2);
    report.writeUInt32BE(SSRC, 4);
    report.writeUInt32BE(1000 + 9 * 160 + 80, 16); // 10 ms after the last packet's timestamp
    expect(t.translateRtcp(report)).toBe(report); // nothing sent yet: nothing to translate
    const out = run(t, pcmuStream(tone(1000, 8000, 0.2), 20, 0, 1000)).map(parsed);
    expect(out).toHaveLength(10);
    const translated = t.translateRtcp(report);
    expect(translated.readUInt32BE(16)).toBe((out[9]?.timestamp ?? 0) + 480);
    expect(translated.readUInt32BE(20)).toBe(10);
    expect(translated.readUInt32BE(24)).toBe(out.reduce((n, h) => n + h.payloadLength, 0));
    for (const x of opened) x.close();
  });

  it('drops a corrupt Opus payload and counts it', () => {
    const t = createTranscoder({ from: OPUS, to: PCMU });
    expect(t.transform(rtp({ pt: 111, seq: 1, ts: 0 }, new Uint8Array([0x03, 0x00])))).toBeNull();
    expect(t.stats.codecErrors).toBe(1);
    t.close();
    t.close();
    expect(t.transform(rtp({ pt: 111, seq: 2, ts: 960 }, new Uint8Array([0xf8, 0xff, 0xfe])))).toBeNull();
  });

  it('rejects invalid options', () => {
    expect(() => createTranscoder({ from: { codec: 'PCMU', payloadType: 128 }, to: OPUS })).toThrow(
      /payload type/,
    );
    expect(() =>
      createTranscoder({ from: PCMU, to: OPUS, telephoneEvent: { fromPt: 0, toPt: 101 } }),
    ).toThrow(/telephone-event/);
  });
});

describe('transcoder telephone-event (RFC 4733)', () => {
  /** One named-event block: event, E bit, volume, duration. */
  function dtmf(event: number, end: boolean, volume: number, duration: number): Uint8Array {
    return new Uint8Array([event, (end ? 0x80 : 0) | volume, duration >> 8, duration & 0xff]);
  }

  it('passes events 8 kHz -> 48 kHz with the PT mapped, timestamp and duration converted', () => {
    const t = createTranscoder({ from: PCMU, to: OPUS, telephoneEvent: { fromPt: 101, toPt: 96 } });
    const audio = pcmuStream(tone(1000, 8000, 0.02), 20, 500, 8000);
    const first = parsed(t.transform(audio[0] ?? Buffer.alloc(0)));
    const start = parsed(
      t.transform(rtp({ pt: 101, seq: 501, ts: 8160, marker: true }, dtmf(5, false, 10, 160))),
    );
    const end = parsed(t.transform(rtp({ pt: 101, seq: 502, ts: 8160 }, dtmf(5, true, 10, 800))));
    expect(start.payloadType).toBe(96);
    expect(start.marker).toBe(true);
    expect(start.sequence).toBe(first.sequence + 1);
    expect(end.sequence).toBe(first.sequence + 2);
    expect(start.timestamp).toBe(first.timestamp + 960);
    expect(end.timestamp).toBe(start.timestamp); // all packets of an event share its start timestamp
    expect([...start.payload]).toEqual([...dtmf(5, false, 10, 960)]);
    expect([...end.payload]).toEqual([...dtmf(5, true, 10, 4800)]);
    // A duration that no longer fits 16 bits at 48 kHz is capped (RFC 4733 §2.5.2.3 segments long events).
    const long = parsed(t.transform(rtp({ pt: 101, seq: 503, ts: 8160 }, dtmf(5, false, 10, 20000))));
    expect([...long.payload]).toEqual([...dtmf(5, false, 10, 0xffff)]);
    expect(t.stats.events).toBe(3);
    t.close();
  });

  it('passes events 48 kHz -> 8 kHz with the duration divided by 6; malformed events are dropped', () => {
    const t = createTranscoder({ from: OPUS, to: PCMA, telephoneEvent: { fromPt: 96, toPt: 101 } });
    const out = parsed(t.transform(rtp({ pt: 96, seq: 1, ts: 96000 }, dtmf(11, true, 7, 4800))));
    expect(out.payloadType).toBe(101);
    expect(out.timestamp).toBe(96000);
    expect([...out.payload]).toEqual([...dtmf(11, true, 7, 800)]);
    expect(t.transform(rtp({ pt: 96, seq: 2, ts: 96000 }, new Uint8Array([11, 0x80, 0x12])))).toBeNull();
    expect(t.stats.malformed).toBe(1);
    t.close();
  });

  it('drops events when no telephone-event mapping is configured', () => {
    const t = createTranscoder({ from: PCMU, to: PCMA });
    expect(t.transform(rtp({ pt: 101, seq: 1, ts: 0 }, dtmf(1, false, 10, 160)))).toBeNull();
    expect(t.stats.unknownPayloadType).toBe(1);
    t.close();
  });
});

describe('timestamp mapping', () => {
  it('unwraps reordered and wrapping input and scales it', () => {
    const map = createTimestampMapper(8000, 48000);
    expect(map.map(0xffffff60)).toBe(0xffffff60);
    expect(map.map(0)).toBe((0xffffff60 + 160 * 6) >>> 0);
    expect(map.map(0xffffff60 + 80)).toBe((0xffffff60 + 480) >>> 0); // late packet: goes back
    expect(scaleDuration(4800, 48000, 8000)).toBe(800);
    expect(scaleDuration(-6, 48000, 8000)).toBe(-1);
  });
});
