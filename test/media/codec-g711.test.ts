import { describe, expect, it } from 'vitest';
import {
  ALAW_TO_LINEAR,
  ULAW_TO_LINEAR,
  alawToLinear,
  decodeAlaw,
  decodeUlaw,
  encodeAlaw,
  encodeUlaw,
  linearToAlaw,
  linearToUlaw,
  ulawToLinear,
} from '../../pbx/media/codecs/g711.js';

/** SNR in dB of `decoded` against `original`. */
function snrDb(original: Int16Array, decoded: Int16Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < original.length; i++) {
    const s = original[i] ?? 0;
    signal += s * s;
    noise += (s - (decoded[i] ?? 0)) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

/** A sine at `frequency` Hz sampled at 8 kHz. */
function sine(frequency: number, amplitude: number, count: number): Int16Array {
  const out = new Int16Array(count);
  for (let i = 0; i < count; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequency * i) / 8000));
  return out;
}

describe('G.711 µ-law (PCMU)', () => {
  // Known vectors of the Sun/CCITT reference g711.c (ulaw2linear: complement, bias 0x84, segment shift),
  // as shipped in e.g. FluidSynth src/utils/pcm_aulaw.h and pjproject pjmedia/src/pjmedia/g711.c, and
  // equal to ITU-T G.191 STL ulaw_expand (openitu/STL src/g711/g711.c): 0xFF and 0x7F are the two
  // zeros, 0x80 is +32124 and 0x00 is -32124 (bit 7 set = positive). Encoder vectors follow G.191
  // ulaw_compress, which differs from Sun's linear2ulaw only for small negatives (noted below).
  it.each([
    [0xff, 0],
    [0x7f, 0],
    [0x80, 32124],
    [0x00, -32124],
    [0xfe, 8],
    [0x7e, -8],
    [0xf0, 120],
    [0xef, 132],
    [0x8f, 16764],
  ])('decodes code %i to %i', (code, linear) => {
    expect(ulawToLinear(code)).toBe(linear);
    expect(ULAW_TO_LINEAR[code]).toBe(linear);
  });

  it.each([
    [0, 0xff],
    [-1, 0x7f], // G.191 ulaw_compress: (~-1) >> 2 = 0 -> negative zero (Sun's g711.c gives 0x7E)
    [-4, 0x7f],
    [-5, 0x7e],
    [32767, 0x80],
    [-32768, 0x00],
    [8, 0xfe],
    [-8, 0x7e],
    [132, 0xef],
  ])('encodes %i to code %i', (linear, code) => {
    expect(linearToUlaw(linear)).toBe(code);
  });

  it('round-trips all 256 code words except negative zero', () => {
    for (let code = 0; code < 256; code++) {
      const back = linearToUlaw(ulawToLinear(code));
      // 0x7F decodes to 0, which the reference encoder writes as positive zero 0xFF.
      expect(back).toBe(code === 0x7f ? 0xff : code);
    }
  });

  it('is monotonic: decode order follows code order within each sign', () => {
    for (let code = 0x80; code < 0xff; code++)
      expect(ulawToLinear(code)).toBeGreaterThan(ulawToLinear(code + 1));
    for (let code = 0x00; code < 0x7f; code++)
      expect(ulawToLinear(code)).toBeLessThan(ulawToLinear(code + 1));
  });

  it('a full-scale sine keeps an SNR near the G.711 theoretical ~38 dB', () => {
    const tone = sine(1004, 32000, 8000);
    const codes = new Uint8Array(tone.length);
    const decoded = new Int16Array(tone.length);
    expect(encodeUlaw(tone, codes)).toBe(8000);
    expect(decodeUlaw(codes, decoded)).toBe(8000);
    const snr = snrDb(tone, decoded);
    expect(snr).toBeGreaterThan(36);
    expect(snr).toBeLessThan(41);
  });

  it('bounds the batch loops by count and buffer sizes', () => {
    const pcm = new Int16Array([0, 8, -8, 132]);
    const codes = new Uint8Array(2);
    expect(encodeUlaw(pcm, codes)).toBe(2);
    expect([...codes]).toEqual([0xff, 0xfe]);
    const out = new Int16Array(4);
    expect(decodeUlaw(new Uint8Array([0xfe, 0x7e, 0xf0]), out, 2)).toBe(2);
    expect([...out]).toEqual([8, -8, 0, 0]);
  });
});

describe('G.711 A-law (PCMA)', () => {
  // Known vectors of the reference alaw2linear (xor 0x55, segment 0 adds 8, others 0x108 << seg-1):
  // 0xD5 = +8 and 0x55 = -8 are the two smallest levels, 0xAA = +32256 and 0x2A = -32256 the largest.
  it.each([
    [0xd5, 8],
    [0x55, -8],
    [0xaa, 32256],
    [0x2a, -32256],
    [0xd4, 24],
    [0x80, 5504],
    [0xc5, 264],
  ])('decodes code %i to %i', (code, linear) => {
    expect(alawToLinear(code)).toBe(linear);
    expect(ALAW_TO_LINEAR[code]).toBe(linear);
  });

  it.each([
    [0, 0xd5],
    [-1, 0x55],
    [32767, 0xaa],
    [-32768, 0x2a],
    [24, 0xd4],
  ])('encodes %i to code %i', (linear, code) => {
    expect(linearToAlaw(linear)).toBe(code);
  });

  it('round-trips all 256 code words (A-law has no negative zero)', () => {
    for (let code = 0; code < 256; code++) expect(linearToAlaw(alawToLinear(code))).toBe(code);
  });

  it('a full-scale sine keeps an SNR near the G.711 theoretical ~38 dB', () => {
    const tone = sine(1004, 32000, 8000);
    const codes = new Uint8Array(tone.length);
    const decoded = new Int16Array(tone.length);
    encodeAlaw(tone, codes);
    decodeAlaw(codes, decoded);
    const snr = snrDb(tone, decoded);
    expect(snr).toBeGreaterThan(36);
    expect(snr).toBeLessThan(41);
  });

  it('every 16-bit input decodes back within the companding step (≤ |x|/16, ≥ 16 near zero)', () => {
    // The table encoders index by the top 13/14 bits; this checks them over the whole input range,
    // not only on decoded levels: the error stays within the segment's step size.
    for (let pcm = -32768; pcm < 32768; pcm += 7) {
      const a = alawToLinear(linearToAlaw(pcm));
      const u = ulawToLinear(linearToUlaw(pcm));
      expect(Math.abs(a - pcm)).toBeLessThanOrEqual(Math.max(16, Math.abs(pcm) >> 4));
      expect(Math.abs(u - pcm)).toBeLessThanOrEqual(Math.max(16, Math.abs(pcm) >> 4));
    }
  });
});
