// The three audio codecs behind one frame-level interface, at each codec's own RTP clock rate:
// PCMU/PCMA 8000 Hz (RFC 3551 §4.5.14), Opus 48000 Hz (RFC 7587 §4.1).
import { CodecError } from './errors.js';
import { ALAW_TO_LINEAR, ULAW_TO_LINEAR, encodeAlaw, encodeUlaw } from './g711.js';
import { OPUS_MAX_PACKET, createOpusDecoder, createOpusEncoder } from './opus.js';
import type { OpusEncoderOptions } from './opus.js';
import { MAX_NARROW_FRAME } from './resample.js';

/** Codecs the transcoder converts between (RTP encoding names, RFC 3551 / RFC 7587). */
export type AudioCodec = 'PCMU' | 'PCMA' | 'opus';

/** Decodes one RTP payload to mono PCM at `clockRate`. */
export interface FrameDecoder {
  /** RTP clock = sample rate of the PCM produced. */
  readonly clockRate: 8000 | 48000;
  /** Decodes `length` payload bytes at `offset` of `packet` into `out`; returns samples (throws CodecError). */
  decode(packet: Uint8Array, offset: number, length: number, out: Int16Array): number;
  /** Releases native state; idempotent. */
  close(): void;
}

/** Encodes mono PCM at `clockRate` into one RTP payload. */
export interface FrameEncoder {
  /** RTP clock = sample rate of the PCM expected. */
  readonly clockRate: 8000 | 48000;
  /** Encodes `count` samples of `pcm` into `out`; returns the payload length. */
  encode(pcm: Int16Array, count: number, out: Uint8Array): number;
  /** Releases native state; idempotent. */
  close(): void;
}

/** RTP clock rate of a codec. */
export function clockRateOf(codec: AudioCodec): 8000 | 48000 {
  return codec === 'opus' ? 48000 : 8000;
}

/** Creates a decoder for `codec` (Opus: mono output, stereo streams mixed down by libopus). */
export function createFrameDecoder(codec: AudioCodec): FrameDecoder {
  if (codec === 'opus') {
    const opus = createOpusDecoder({ channels: 1 });
    return {
      clockRate: 48000,
      decode: (packet, offset, length, out) => opus.decode(packet, out, offset, length),
      close: () => opus.close(),
    };
  }
  const table = codec === 'PCMU' ? ULAW_TO_LINEAR : ALAW_TO_LINEAR;
  return {
    clockRate: 8000,
    decode(packet: Uint8Array, offset: number, length: number, out: Int16Array): number {
      if (length > Math.min(out.length, MAX_NARROW_FRAME)) {
        throw new CodecError('PBX_ERR_CODEC_DECODE', 'G.711 payload longer than a frame', String(length));
      }
      for (let i = 0; i < length; i++) out[i] = table[packet[offset + i] ?? 0] ?? 0;
      return length;
    },
    close(): void {},
  };
}

/** Creates an encoder for `codec`; `opus` options apply to Opus only. */
export function createFrameEncoder(codec: AudioCodec, opus: OpusEncoderOptions = {}): FrameEncoder {
  if (codec === 'opus') {
    const encoder = createOpusEncoder({ ...opus, channels: 1 });
    return {
      clockRate: 48000,
      encode: (pcm, count, out) => encoder.encode(pcm, count, out),
      close: () => encoder.close(),
    };
  }
  const encode = codec === 'PCMU' ? encodeUlaw : encodeAlaw;
  return { clockRate: 8000, encode: (pcm, count, out) => encode(pcm, out, count), close(): void {} };
}

/** Largest payload any encoder here writes (Opus bound; G.711 frames are at most 960 bytes). */
export const MAX_PAYLOAD = OPUS_MAX_PACKET;
