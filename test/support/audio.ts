/**
 * Audio for codec, relay and whole-system tests: test tones, the measures that tell whether a tone survived a
 * codec or a relay (correlation with the input at the best delay, a tone's share of the energy, RMS), and the
 * pbx's own G.711 and Opus codecs run frame by frame as an RTP sender and receiver would. Every function is pure:
 * it reads its arguments, returns new arrays, and closes any codec it opens.
 */
import {
  createOpusDecoder,
  createOpusEncoder,
  decodeUlaw,
  encodeUlaw,
} from '../../pbx/media/codecs/index.js';

/** `seconds` of a sine at `frequency` Hz sampled at `rate` Hz, peak `amplitude` (of 32767). */
export function tone(frequency: number, rate: number, seconds: number, amplitude = 10000): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequency * i) / rate));
  return out;
}

/** Root mean square of `samples` (0 when there are none). */
export function rms(samples: Int16Array): number {
  let energy = 0;
  for (const v of samples) energy += v * v;
  return samples.length === 0 ? 0 : Math.sqrt(energy / samples.length);
}

/**
 * Normalised correlation of a[i] with b[i + lag] over i in [from, to): 1 for the same waveform, about 0 for
 * unrelated ones, 0 when either is silent there (samples past the end count as silence).
 */
export function correlation(a: Int16Array, b: Int16Array, lag: number, from: number, to: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = from; i < to; i++) {
    const x = a[i] ?? 0;
    const y = b[i + lag] ?? 0;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb || 1);
}

/**
 * The delay of `b` behind `a` (a codec's or resampler's latency, searched in [0, maxLag)) that correlates them
 * best over [from, to), and that correlation: the first lag wins a tie.
 */
export function bestCorrelation(
  a: Int16Array,
  b: Int16Array,
  from: number,
  to: number,
  maxLag: number,
): { lag: number; c: number } {
  let best = { lag: 0, c: -1 };
  for (let lag = 0; lag < maxLag; lag++) {
    const c = correlation(a, b, lag, from, to);
    if (c > best.c) best = { lag, c };
  }
  return best;
}

/**
 * The share of the energy of `samples` (at `rate` Hz) that is at `frequency` (Goertzel over the whole buffer,
 * normalised by the total energy): about 1 for a clean tone at that frequency, about 0 for another tone or noise,
 * 0 for silence. Its square root is the correlation with a sinusoid of that frequency at the best phase, which
 * needs no alignment with the input.
 */
export function toneShare(samples: Int16Array, frequency: number, rate: number): number {
  const k = 2 * Math.cos((2 * Math.PI * frequency) / rate);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const v of samples) {
    const s = v + k * s1 - s2;
    s2 = s1;
    s1 = s;
    energy += v * v;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2; // |X(f)|^2
  return energy === 0 ? 0 : (2 * power) / (samples.length * energy);
}

/**
 * G.711 µ-law payloads of consecutive `frame`-sample frames of `pcm` (160: 20 ms at 8 kHz). Every payload is a
 * whole frame long; a short last frame leaves the rest of its payload 0.
 */
export function encodePcmuFrames(pcm: Int16Array, frame = 160): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  for (let at = 0; at < pcm.length; at += frame) {
    const codes = new Uint8Array(frame);
    encodeUlaw(pcm.subarray(at, at + frame), codes);
    payloads.push(codes);
  }
  return payloads;
}

/** The PCM of G.711 µ-law `payloads`, one after the other. */
export function decodePcmuFrames(payloads: readonly Uint8Array[]): Int16Array {
  const pcm = new Int16Array(payloads.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const payload of payloads) at += decodeUlaw(payload, pcm.subarray(at, at + payload.length));
  return pcm;
}

/** Mono Opus payloads of consecutive `frame`-sample frames of 48 kHz `pcm` (960: 20 ms), one encoder for all. */
export function encodeOpusFrames(pcm: Int16Array, frame = 960): Uint8Array[] {
  const encoder = createOpusEncoder({ channels: 1 });
  const out = new Uint8Array(4000);
  const payloads: Uint8Array[] = [];
  try {
    for (let at = 0; at < pcm.length; at += frame) {
      const n = encoder.encode(pcm.subarray(at, at + frame), frame, out);
      payloads.push(out.slice(0, n));
    }
  } finally {
    encoder.close();
  }
  return payloads;
}

/** The 48 kHz mono PCM of Opus `payloads`, one after the other, through one decoder (as a receiver would). */
export function decodeOpusFrames(payloads: readonly Uint8Array[]): Int16Array {
  const decoder = createOpusDecoder({ channels: 1 });
  const frame = new Int16Array(5760); // 120 ms, the longest Opus frame
  const chunks: Int16Array[] = [];
  try {
    for (const payload of payloads) chunks.push(frame.slice(0, decoder.decode(payload, frame)));
  } finally {
    decoder.close();
  }
  const pcm = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    pcm.set(chunk, at);
    at += chunk.length;
  }
  return pcm;
}
