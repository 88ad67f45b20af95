// WAV files for the softphone tests: the tone a softphone plays (baresip's `aufile` source) and the analysis of
// what the other softphone decoded (baresip's `sndfile` dump): 16-bit PCM, any rate, mono or stereo.
import { readFile, writeFile } from 'node:fs/promises';
import { rms, tone, toneShare as toneShareOfSamples } from '../../test/support/audio.js';

/** PCM samples of a WAV file, channels mixed down to mono. */
export interface Pcm {
  /** Sample rate in Hz. */
  readonly rate: number;
  /** Channels in the file (the samples below are their average). */
  readonly channels: number;
  /** Mono samples. */
  readonly samples: Int16Array;
}

/** Writes a 16-bit mono WAV holding `seconds` of a sine at `frequency` Hz (amplitude 8000 of 32767). */
export async function writeToneWav(
  path: string,
  frequency: number,
  seconds: number,
  rate: number,
): Promise<void> {
  const samples = tone(frequency, rate, seconds, 8000);
  const count = samples.length;
  const wav = Buffer.alloc(44 + count * 2);
  wav.write('RIFF', 0, 'ascii');
  wav.writeUInt32LE(36 + count * 2, 4);
  wav.write('WAVEfmt ', 8, 'ascii');
  wav.writeUInt32LE(16, 16); // fmt chunk size
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28); // byte rate
  wav.writeUInt16LE(2, 32); // block align
  wav.writeUInt16LE(16, 34); // bits per sample
  wav.write('data', 36, 'ascii');
  wav.writeUInt32LE(count * 2, 40);
  samples.forEach((v, i) => wav.writeInt16LE(v, 44 + i * 2));
  await writeFile(path, wav);
}

/**
 * Reads a 16-bit PCM WAV. A data chunk whose size is 0 or past the end (a dump whose header was not
 * finalised) is read to the end of the file.
 */
export async function readWav(path: string): Promise<Pcm> {
  const wav = await readFile(path);
  if (wav.toString('ascii', 0, 4) !== 'RIFF' || wav.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${path}: not a WAV file`);
  }
  let channels = 0;
  let rate = 0;
  let bits = 0;
  for (let at = 12; at + 8 <= wav.length;) {
    const id = wav.toString('ascii', at, at + 4);
    const size = wav.readUInt32LE(at + 4);
    if (id === 'fmt ') {
      channels = wav.readUInt16LE(at + 10);
      rate = wav.readUInt32LE(at + 12);
      bits = wav.readUInt16LE(at + 22);
    } else if (id === 'data') {
      if (bits !== 16 || channels < 1)
        throw new Error(`${path}: ${bits}-bit, ${channels} channels; want 16-bit`);
      const end = size === 0 || at + 8 + size > wav.length ? wav.length : at + 8 + size;
      const frames = Math.floor((end - at - 8) / (2 * channels));
      const samples = new Int16Array(frames);
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < channels; c++) sum += wav.readInt16LE(at + 8 + (i * channels + c) * 2);
        samples[i] = Math.round(sum / channels);
      }
      return { rate, channels, samples };
    }
    at += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

/** Seconds of audio in `pcm`. */
export function durationOf(pcm: Pcm): number {
  return pcm.samples.length / pcm.rate;
}

/** Root mean square of the samples (0 for silence). */
export function rmsOf(pcm: Pcm): number {
  return rms(pcm.samples);
}

/**
 * The share of the signal's energy at `frequency` (Goertzel over the whole buffer, normalised by the total
 * energy): about 1 for a clean tone at that frequency, about 0 for another tone or for noise.
 */
export function toneShare(pcm: Pcm, frequency: number): number {
  return toneShareOfSamples(pcm.samples, frequency, pcm.rate);
}
