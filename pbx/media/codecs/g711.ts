// ITU-T G.711 µ-law (PCMU) and A-law (PCMA), RFC 3551 §4.5.14. The algorithms are the classic
// Sun Microsystems / CCITT reference (g711.c: linear2ulaw, ulaw2linear, linear2alaw, alaw2linear),
// with one correction from the ITU-T G.191 STL (ulaw_compress): a negative µ-law input takes its
// magnitude as the one's complement (~x >> 2), as A-law always did, so -1..-4 encode as negative
// zero (0x7F) instead of Sun's -8 (0x7E). Decoding is identical in both references.
// Decoding is a 256-entry table; encoding is a table indexed by the bits the reference encoder looks
// at (µ-law: the top 14 bits, pcm >> 2; A-law: the top 13 bits, pcm >> 3), so it is exact and O(1).

/** µ-law segment end points over the biased 14-bit magnitude (reference `seg_uend`). */
const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff] as const;
/** A-law segment end points over the 13-bit magnitude (reference `seg_aend`). */
const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff] as const;
/** µ-law bias (0x84 = 132) added before the segment search. */
const BIAS = 0x84;
/** Largest magnitude (in pcm >> 2 units) µ-law can represent before clipping. */
const CLIP = 8159;

/** Segment of a magnitude: the first end point it does not exceed, 8 when beyond the last. */
function segment(value: number, ends: readonly number[]): number {
  for (let seg = 0; seg < ends.length; seg++) {
    if (value <= (ends[seg] ?? 0)) return seg;
  }
  return ends.length;
}

/** Reference µ-law encoder of one 16-bit sample (only the top 14 bits matter). */
function linearToUlawReference(pcm: number): number {
  let value = pcm >> 2;
  let mask = 0xff;
  if (value < 0) {
    value = ~value; // G.191 ulaw_compress: (~lin) >> 2 == ~(lin >> 2)
    mask = 0x7f;
  }
  if (value > CLIP) value = CLIP;
  value += BIAS >> 2;
  const seg = segment(value, SEG_UEND);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((value >> (seg + 1)) & 0x0f)) ^ mask;
}

/** Reference µ-law decoder of one code word. */
function ulawToLinearReference(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & 0x0f) << 3) + BIAS;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? BIAS - t : t - BIAS;
}

/** Reference A-law encoder of one 16-bit sample (only the top 13 bits matter). */
function linearToAlawReference(pcm: number): number {
  let value = pcm >> 3;
  let mask = 0xd5;
  if (value < 0) {
    mask = 0x55;
    value = -value - 1;
  }
  const seg = segment(value, SEG_AEND);
  if (seg >= 8) return 0x7f ^ mask;
  const quant = seg < 2 ? (value >> 1) & 0x0f : (value >> seg) & 0x0f;
  return ((seg << 4) | quant) ^ mask;
}

/** Reference A-law decoder of one code word. */
function alawToLinearReference(code: number): number {
  const a = (code ^ 0x55) & 0xff;
  const seg = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  if (seg === 0) t += 8;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

/** Fills a decode table by running a reference decoder over all 256 code words. */
function buildDecodeTable(decode: (code: number) => number): Int16Array {
  const table = new Int16Array(256);
  for (let code = 0; code < 256; code++) table[code] = decode(code);
  return table;
}

/** Fills an encode table indexed by the top `bits` of a sample (two's complement, masked). */
function buildEncodeTable(bits: number, encode: (pcm: number) => number): Uint8Array {
  const size = 1 << bits;
  const shift = 16 - bits;
  const table = new Uint8Array(size);
  for (let index = 0; index < size; index++) {
    const signed = index >= size / 2 ? index - size : index;
    table[index] = encode(signed << shift);
  }
  return table;
}

/** µ-law code word -> linear sample (256 entries, Sun reference values). */
export const ULAW_TO_LINEAR: Readonly<Int16Array> = buildDecodeTable(ulawToLinearReference);
/** A-law code word -> linear sample (256 entries, Sun reference values). */
export const ALAW_TO_LINEAR: Readonly<Int16Array> = buildDecodeTable(alawToLinearReference);
const LINEAR_TO_ULAW = buildEncodeTable(14, linearToUlawReference);
const LINEAR_TO_ALAW = buildEncodeTable(13, linearToAlawReference);

/** Encodes one 16-bit linear sample to a µ-law code word. */
export function linearToUlaw(pcm: number): number {
  return LINEAR_TO_ULAW[(pcm >> 2) & 0x3fff] ?? 0xff;
}

/** Encodes one 16-bit linear sample to an A-law code word. */
export function linearToAlaw(pcm: number): number {
  return LINEAR_TO_ALAW[(pcm >> 3) & 0x1fff] ?? 0xd5;
}

/** Decodes one µ-law code word to a 16-bit linear sample. */
export function ulawToLinear(code: number): number {
  return ULAW_TO_LINEAR[code & 0xff] ?? 0;
}

/** Decodes one A-law code word to a 16-bit linear sample. */
export function alawToLinear(code: number): number {
  return ALAW_TO_LINEAR[code & 0xff] ?? 0;
}

/** Encodes `count` samples of `pcm` into `out` as µ-law; returns the count written. */
export function encodeUlaw(pcm: Int16Array, out: Uint8Array, count = pcm.length): number {
  return encodeWith(LINEAR_TO_ULAW, 2, 0x3fff, pcm, out, count);
}

/** Encodes `count` samples of `pcm` into `out` as A-law; returns the count written. */
export function encodeAlaw(pcm: Int16Array, out: Uint8Array, count = pcm.length): number {
  return encodeWith(LINEAR_TO_ALAW, 3, 0x1fff, pcm, out, count);
}

/** Decodes `count` µ-law code words of `codes` into `out`; returns the count written. */
export function decodeUlaw(codes: Uint8Array, out: Int16Array, count = codes.length): number {
  return decodeWith(ULAW_TO_LINEAR, codes, out, count);
}

/** Decodes `count` A-law code words of `codes` into `out`; returns the count written. */
export function decodeAlaw(codes: Uint8Array, out: Int16Array, count = codes.length): number {
  return decodeWith(ALAW_TO_LINEAR, codes, out, count);
}

/** Shared table-driven encode loop; bounded by the shortest of the three lengths. */
function encodeWith(
  table: Uint8Array,
  shift: number,
  mask: number,
  pcm: Int16Array,
  out: Uint8Array,
  count: number,
): number {
  const n = Math.min(count, pcm.length, out.length);
  for (let i = 0; i < n; i++) out[i] = table[((pcm[i] ?? 0) >> shift) & mask] ?? 0;
  return n;
}

/** Shared table-driven decode loop; bounded by the shortest of the three lengths. */
function decodeWith(table: Int16Array, codes: Uint8Array, out: Int16Array, count: number): number {
  const n = Math.min(count, codes.length, out.length);
  for (let i = 0; i < n; i++) out[i] = table[codes[i] ?? 0] ?? 0;
  return n;
}
