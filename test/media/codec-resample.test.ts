import { describe, expect, it } from 'vitest';
import {
  MAX_NARROW_FRAME,
  RESAMPLE_FACTOR,
  createDownsampler,
  createUpsampler,
} from '../../pbx/media/codecs/resample.js';
import { correlation, rms, tone } from '../support/audio.js';

/** Runs `input` through `process` in frames of `frame` input samples. */
function inFrames(
  input: Int16Array,
  frame: number,
  ratio: number,
  process: (i: Int16Array, o: Int16Array) => number,
): Int16Array {
  const out = new Int16Array(Math.round(input.length * ratio));
  let written = 0;
  for (let at = 0; at < input.length; at += frame) {
    const chunk = new Int16Array(Math.round(frame * ratio));
    const n = process(input.subarray(at, at + frame), chunk);
    out.set(chunk.subarray(0, n), written);
    written += n;
  }
  return out.subarray(0, written);
}

describe('8 kHz <-> 48 kHz resampler', () => {
  it('a 1 kHz tone 8k -> 48k -> 8k in 20 ms frames keeps correlation >= 0.99 with the input', () => {
    const input = tone(1000, 8000, 1);
    const up = createUpsampler();
    const down = createDownsampler();
    const wide = inFrames(input, 160, RESAMPLE_FACTOR, (i, o) => up.process(i, o));
    expect(wide.length).toBe(48000);
    const back = inFrames(wide, 960, 1 / RESAMPLE_FACTOR, (i, o) => down.process(i, o));
    expect(back.length).toBe(8000);
    // Each stage delays by 119.5 samples at 48 kHz; with the decimator keeping the last sample of each
    // group of 6, the round trip is (239 - 5) / 6 = 39 samples at 8 kHz.
    const c = correlation(input, back, 39, 200, 7800);
    expect(c).toBeGreaterThanOrEqual(0.99);
    // Gain is preserved within 0.2 dB in the pass band.
    expect(20 * Math.log10(rms(back.subarray(400)) / rms(input.subarray(400)))).toBeCloseTo(0, 1);
  });

  it('the 48 kHz signal is a clean 1 kHz tone (no images at 7/9 kHz, no clicks at frame joints)', () => {
    const up = createUpsampler();
    const wide = inFrames(tone(1000, 8000, 0.2), 160, RESAMPLE_FACTOR, (i, o) => up.process(i, o));
    // Align by the filter delay (119.5 samples): compare against the ideal tone shifted by 119.5.
    let worst = 0;
    for (let i = 1200; i < wide.length; i++) {
      const expected = 10000 * Math.sin((2 * Math.PI * 1000 * (i - 119.5)) / 48000);
      worst = Math.max(worst, Math.abs((wide[i] ?? 0) - expected));
    }
    expect(worst).toBeLessThan(100); // < 1% of the amplitude, at every sample incl. frame boundaries
  });

  it.each([
    [4200, 60],
    [5000, 70],
    [6000, 70],
    [12000, 70],
  ])('attenuates %i Hz by >= %i dB going 48k -> 8k', (frequency, dB) => {
    const down = createDownsampler();
    const input = tone(frequency, 48000, 1);
    const narrow = inFrames(input, 960, 1 / RESAMPLE_FACTOR, (i, o) => down.process(i, o));
    const attenuation = 20 * Math.log10(rms(input) / rms(narrow.subarray(400)));
    expect(attenuation).toBeGreaterThanOrEqual(dB);
  });

  it('passes 300-3300 Hz within 0.5 dB going 48k -> 8k', () => {
    for (const frequency of [300, 1000, 2000, 3000, 3300]) {
      const down = createDownsampler();
      const input = tone(frequency, 48000, 1);
      const narrow = inFrames(input, 960, 1 / RESAMPLE_FACTOR, (i, o) => down.process(i, o));
      expect(Math.abs(20 * Math.log10(rms(narrow.subarray(400)) / rms(input)))).toBeLessThan(0.5);
    }
  });

  it('bounds work by the output room and the preallocated frame, clips and resets', () => {
    const up = createUpsampler();
    expect(up.inputRate).toBe(8000);
    expect(up.outputRate).toBe(48000);
    expect(up.process(new Int16Array(160), new Int16Array(600))).toBe(600); // 100 inputs fit
    expect(up.process(new Int16Array(2000), new Int16Array(12000))).toBe(MAX_NARROW_FRAME * RESAMPLE_FACTOR);
    const loud = new Int16Array(160).fill(32767);
    const out = new Int16Array(960);
    for (let k = 0; k < 3; k++) up.process(loud, out);
    expect(Math.max(...out)).toBe(32767); // overshoot of the filter is clipped, not wrapped
    up.reset();
    up.process(new Int16Array(160), out);
    expect(out.every((x) => x === 0)).toBe(true);

    const down = createDownsampler();
    expect(down.process(new Int16Array(965), new Int16Array(200))).toBe(160); // whole groups of 6 only
    down.process(new Int16Array(960).fill(-32768), new Int16Array(160));
    down.reset();
    const silent = new Int16Array(160);
    down.process(new Int16Array(960), silent);
    expect(silent.every((x) => x === 0)).toBe(true);
  });
});
