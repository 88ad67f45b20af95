import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../pbx/media/codecs/errors.js';
import { parseOpusHead, readOggPackets } from '../../pbx/media/codecs/ogg.js';
import {
  OPUS_FRAME_20MS,
  OPUS_MAX_FRAME,
  OPUS_MAX_PACKET,
  createOpusDecoder,
  createOpusEncoder,
  mixDownStereo,
} from '../../pbx/media/codecs/opus.js';
import { opusNative } from '../../pbx/media/codecs/opus-native.js';

// Reference material made with opus-tools 0.2 / libopus 1.3.1 (testdata/audio/README.md): a 1 s mix of
// 440 Hz and 1 kHz at 48 kHz encoded by `opusenc` at 32 kb/s in 20 ms frames, and the same file decoded
// by `opusdec --rate 48000 --no-dither` (pre-skip and end trimming applied by opusdec).
const AUDIO = new URL('../../testdata/audio/', import.meta.url);
const OGG = readFileSync(new URL('tone-440-1000.opus', AUDIO));
const REFERENCE_BYTES = readFileSync(new URL('tone-440-1000.48k.s16le', AUDIO));
const REFERENCE = new Int16Array(
  REFERENCE_BYTES.buffer,
  REFERENCE_BYTES.byteOffset,
  REFERENCE_BYTES.length / 2,
);

/** SNR in dB of `test` against `reference` over the reference's length. */
function snrDb(reference: Int16Array, test: ArrayLike<number>, offset = 0): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i] ?? 0;
    signal += r * r;
    noise += (r - (test[i + offset] ?? 0)) ** 2;
  }
  return noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
}

/** Normalised correlation of `a` with `b` shifted by `start + lag`, maximised over 0 <= lag < maxLag. */
function bestLag(
  a: number[],
  b: number[],
  start: number,
  maxLag: number,
): { lag: number; correlation: number } {
  let best = { lag: 0, correlation: -1 };
  for (let lag = 0; lag < maxLag; lag++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i] ?? 0;
      const y = b[start + lag + i] ?? 0;
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    const correlation = ab / Math.sqrt(aa * bb || 1);
    if (correlation > best.correlation) best = { lag, correlation };
  }
  return best;
}

/** A 20 ms frame of a sine (mono or interleaved stereo with a second tone on the right). */
function frame(index: number, channels: 1 | 2): Int16Array {
  const out = new Int16Array(OPUS_FRAME_20MS * channels);
  for (let i = 0; i < OPUS_FRAME_20MS; i++) {
    const t = (index * OPUS_FRAME_20MS + i) / 48000;
    out[i * channels] = Math.round(8000 * Math.sin(2 * Math.PI * 440 * t));
    if (channels === 2) out[i * 2 + 1] = Math.round(8000 * Math.sin(2 * Math.PI * 660 * t));
  }
  return out;
}

describe('Ogg reader', () => {
  it('splits the reference file into OpusHead, OpusTags and 20 ms audio packets', () => {
    const packets = readOggPackets(OGG);
    expect(packets.length).toBe(53); // 2 headers + 51 packets of 20 ms (1 s + pre-skip)
    const head = parseOpusHead(packets[0] ?? Buffer.alloc(0));
    expect(head).toEqual({ channels: 1, preSkip: 312, inputSampleRate: 48000 });
    expect(packets[1]?.toString('latin1', 0, 8)).toBe('OpusTags');
  });

  it('rejects a page whose CRC does not match, a truncated page and non-Ogg data', () => {
    const corrupt = Buffer.from(OGG);
    corrupt[100] = (corrupt[100] ?? 0) ^ 0xff;
    expect(() => readOggPackets(corrupt)).toThrow(/CRC/);
    expect(() => readOggPackets(OGG.subarray(0, 40))).toThrow(/truncated/);
    expect(() => readOggPackets(Buffer.from('RIFF....WAVEfmt ................'))).toThrow(CodecError);
    const version = Buffer.from(OGG);
    version[4] = 1;
    expect(() => readOggPackets(version)).toThrow(/version/);
    expect(() => parseOpusHead(Buffer.from('OpusTags'))).toThrow(CodecError);
  });

  it('skips pages of other logical streams and refuses oversized packets', () => {
    const packets = readOggPackets(OGG);
    const foreign = oggPage(0xdeadbeef, [Buffer.from('not opus')]);
    const mixed = Buffer.concat([foreign, OGG]);
    // The first page's stream is the one returned, so put the reference first and the foreign page later.
    const later = Buffer.concat([OGG, foreign]);
    expect(readOggPackets(later)).toHaveLength(packets.length);
    expect(readOggPackets(mixed)).toEqual([Buffer.from('not opus')]);
    expect(() => readOggPackets(oggPage(7, [Buffer.alloc(61441)]))).toThrow(/too large/);
  });
});

/** Ogg CRC-32 (poly 0x04c11db7, MSB first), computed independently of the reader. */
function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/** Builds one Ogg page (RFC 3533 §6) of serial `serial` carrying whole `packets`. */
function oggPage(serial: number, packets: Buffer[]): Buffer {
  const lacing: number[] = [];
  for (const packet of packets) {
    let left = packet.length;
    while (left >= 255) {
      lacing.push(255);
      left -= 255;
    }
    lacing.push(left);
  }
  const header = Buffer.alloc(27);
  header.write('OggS', 0, 'latin1');
  header.writeUInt32LE(serial, 14);
  header[26] = lacing.length;
  const page = Buffer.concat([header, Buffer.from(lacing), ...packets]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

describe('Opus decoder', () => {
  it('decodes the real opusenc stream to the opusdec reference PCM (SNR >= 30 dB after pre-skip)', () => {
    const packets = readOggPackets(OGG);
    const head = parseOpusHead(packets[0] ?? Buffer.alloc(0));
    const decoder = createOpusDecoder();
    const out = new Int16Array(OPUS_MAX_FRAME);
    const pcm: number[] = [];
    for (const packet of packets.slice(2)) {
      const frames = decoder.decode(packet, out);
      expect(frames).toBe(OPUS_FRAME_20MS);
      for (let i = 0; i < frames; i++) pcm.push(out[i] ?? 0);
    }
    decoder.close();
    expect(pcm.length - head.preSkip).toBeGreaterThanOrEqual(REFERENCE.length);
    // Tolerance: 30 dB is well above what a wrong frame order, a lost frame or a misaligned pre-skip
    // would give (those score < 10 dB on this signal); libopus float builds differ in the last bit,
    // so exact equality is not required. Measured: ~115 dB, max |diff| 1 LSB.
    const snr = snrDb(REFERENCE, pcm, head.preSkip);
    expect(snr).toBeGreaterThanOrEqual(30);
    let maxDiff = 0;
    for (let i = 0; i < REFERENCE.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs((REFERENCE[i] ?? 0) - (pcm[i + head.preSkip] ?? 0)));
    }
    expect(maxDiff).toBeLessThanOrEqual(64);
    // A one-sample misalignment of the pre-skip must already fail the tolerance.
    expect(snrDb(REFERENCE, pcm, head.preSkip + 1)).toBeLessThan(30);
  });

  it('mixes a stereo stream down to mono (libopus) and matches a stereo decode averaged', () => {
    const encoder = createOpusEncoder({ channels: 2, application: 'audio', bitrate: 64000 });
    const mono = createOpusDecoder({ channels: 1 });
    const stereo = createOpusDecoder({ channels: 2 });
    expect(stereo.channels).toBe(2);
    const packet = new Uint8Array(OPUS_MAX_PACKET);
    const monoOut = new Int16Array(OPUS_MAX_FRAME);
    const stereoOut = new Int16Array(OPUS_MAX_FRAME * 2);
    const averaged = new Int16Array(OPUS_MAX_FRAME);
    const monoAll: number[] = [];
    const avgAll: number[] = [];
    for (let k = 0; k < 25; k++) {
      const bytes = encoder.encode(frame(k, 2), OPUS_FRAME_20MS, packet);
      const payload = packet.subarray(0, bytes);
      expect((payload[0] ?? 0) & 0x04).toBe(0x04); // TOC stereo flag (RFC 6716 §3.1)
      const n = mono.decode(payload, monoOut);
      expect(stereo.decode(payload, stereoOut)).toBe(n);
      expect(mixDownStereo(stereoOut, n, averaged)).toBe(n);
      for (let i = 0; i < n; i++) {
        monoAll.push(monoOut[i] ?? 0);
        avgAll.push(averaged[i] ?? 0);
      }
    }
    const ref = Int16Array.from(avgAll.slice(4800));
    expect(snrDb(ref, monoAll.slice(4800))).toBeGreaterThan(20);
    for (const codec of [encoder, mono, stereo]) codec.close();
  });

  it('round-trips its own encoder output (20 ms, 48 kHz, voip): correlation >= 0.95 at the best lag', () => {
    const encoder = createOpusEncoder({ bitrate: 32000 });
    const decoder = createOpusDecoder();
    const packet = new Uint8Array(OPUS_MAX_PACKET);
    const out = new Int16Array(OPUS_MAX_FRAME);
    const input: number[] = [];
    const output: number[] = [];
    for (let k = 0; k < 50; k++) {
      const pcm = frame(k, 1);
      input.push(...pcm);
      const bytes = encoder.encode(pcm, OPUS_FRAME_20MS, packet);
      expect(bytes).toBeGreaterThan(0);
      const n = decoder.decode(packet.subarray(0, bytes), out);
      for (let i = 0; i < n; i++) output.push(out[i] ?? 0);
    }
    // A perceptual codec does not keep the waveform sample-exact, so compare by normalised correlation
    // at the best lag (the delay depends on the mode libopus picks; measured: lag 524, 0.9998).
    const best = bestLag(input.slice(4800, 44800), output, 4800, 1000);
    expect(best.correlation).toBeGreaterThanOrEqual(0.95);
    encoder.close();
    decoder.close();
  });

  it('reports bad packets and frame sizes as CodecError', () => {
    const decoder = createOpusDecoder();
    const encoder = createOpusEncoder();
    const out = new Int16Array(OPUS_MAX_FRAME);
    expect(() => decoder.decode(new Uint8Array(0), out)).toThrow(CodecError);
    expect(() => decoder.decode(new Uint8Array(OPUS_MAX_PACKET + 1), out)).toThrow(CodecError);
    // The byte-range form (used by the transcoder to avoid a subarray per packet) is bounds-checked.
    const framed = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from([0xf8, 0xff, 0xfe]), Buffer.from([9])]);
    expect(decoder.decode(framed, out, 3, 3)).toBe(OPUS_FRAME_20MS);
    expect(() => decoder.decode(framed, out, 5, 3)).toThrow(/out of range/);
    expect(() => decoder.decode(framed, out, -1, 3)).toThrow(/out of range/);
    // Code 3 (arbitrary frame count) with a frame count of 0 is invalid (RFC 6716 §3.2.5, [R5]).
    expect(() => decoder.decode(new Uint8Array([0x03, 0x00]), out)).toThrow(/could not decode/);
    // A 120 ms packet does not fit a 20 ms output buffer.
    const long = new Uint8Array([0x4b, 0x06, 0xff, 0xfe, 0xff, 0xfe, 0xff, 0xfe]); // code 3, 6 x 20 ms
    expect(() => decoder.decode(long, new Int16Array(OPUS_FRAME_20MS))).toThrow(CodecError);
    expect(() => encoder.encode(new Int16Array(1000), 1000, new Uint8Array(OPUS_MAX_PACKET))).toThrow(
      /frame size/,
    );
    expect(() =>
      encoder.encode(new Int16Array(100), OPUS_FRAME_20MS, new Uint8Array(OPUS_MAX_PACKET)),
    ).toThrow(CodecError);
    expect(() => encoder.encode(frame(0, 1), OPUS_FRAME_20MS, new Uint8Array(1))).toThrow(/too small/);
    decoder.close();
    encoder.close();
  });

  it('close() is idempotent and a closed codec refuses work', () => {
    const decoder = createOpusDecoder();
    const encoder = createOpusEncoder();
    decoder.close();
    decoder.close();
    encoder.close();
    encoder.close();
    expect(() => decoder.decode(new Uint8Array([0xf8, 0xff, 0xfe]), new Int16Array(OPUS_MAX_FRAME))).toThrow(
      /after close/,
    );
    expect(() => encoder.encode(frame(0, 1), OPUS_FRAME_20MS, new Uint8Array(OPUS_MAX_PACKET))).toThrow(
      /after close/,
    );
  });

  it('does not leak wasm memory across 3,000 create/close cycles', () => {
    const native = opusNative();
    // Warm up, then probe where the allocator puts a small block and how large the heap is.
    createOpusDecoder().close();
    const probe = (): number => {
      const p = native._malloc(64);
      native._free(p);
      return p;
    };
    const before = { heap: native.HEAPU8.length, probe: probe() };
    const out = new Int16Array(OPUS_MAX_FRAME);
    const packet = new Uint8Array(OPUS_MAX_PACKET);
    for (let i = 0; i < 3000; i++) {
      const encoder = createOpusEncoder();
      const decoder = createOpusDecoder({ channels: i % 2 === 0 ? 1 : 2 });
      const bytes = encoder.encode(frame(i, 1), OPUS_FRAME_20MS, packet);
      decoder.decode(packet.subarray(0, bytes), out);
      encoder.close();
      decoder.close();
    }
    expect(native.HEAPU8.length).toBe(before.heap);
    expect(probe()).toBe(before.probe);
  });

  it('stays correct while many live codecs make the wasm memory grow', () => {
    // opusscript's own class breaks here (its cached heap views detach when memory grows); ours must not.
    const packet = new Uint8Array(OPUS_MAX_PACKET);
    const reference = createOpusEncoder();
    const expected: string[] = [];
    for (let k = 0; k < 5; k++) {
      const bytes = reference.encode(frame(k, 1), OPUS_FRAME_20MS, packet);
      expected.push(Buffer.from(packet.subarray(0, bytes)).toString('hex'));
    }
    reference.close();
    const heapBefore = opusNative().HEAPU8.length;
    const encoders = Array.from({ length: 300 }, () => createOpusEncoder());
    expect(opusNative().HEAPU8.length).toBeGreaterThan(heapBefore);
    for (let k = 0; k < 5; k++) {
      for (const encoder of encoders) {
        const bytes = encoder.encode(frame(k, 1), OPUS_FRAME_20MS, packet);
        expect(Buffer.from(packet.subarray(0, bytes)).toString('hex')).toBe(expected[k]);
      }
    }
    for (const encoder of encoders) encoder.close();
  });
});
