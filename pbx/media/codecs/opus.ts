// Opus (RFC 6716, RTP payload RFC 7587) through libopus in wasm. 48 kHz only: RFC 7587 §4.1 fixes the
// RTP clock at 48000 whatever the audio bandwidth. Buffers in the wasm heap are allocated once per
// codec and freed by `close()`, which is idempotent.
import { CodecError } from './errors.js';
import { OPUS, opusNative } from './opus-native.js';
import type { OpusNativeHandler, OpusNativeModule } from './opus-native.js';

/** Opus RTP clock and the only rate this wrapper runs at (RFC 7587 §4.1). */
export const OPUS_SAMPLE_RATE = 48000;
/** Samples per channel in a 20 ms frame at 48 kHz. */
export const OPUS_FRAME_20MS = 960;
/** Samples per channel in the longest Opus packet (120 ms), the size `decode` output must allow. */
export const OPUS_MAX_FRAME = OPUS.maxFrameSamples;
/** Largest packet `encode` may produce. */
export const OPUS_MAX_PACKET = OPUS.maxPacketBytes;

/** Decodes Opus packets to interleaved 16-bit PCM at 48 kHz. */
export interface OpusDecoder {
  /** Output channels: 1 mixes a stereo stream down (libopus does it in the decoder), 2 keeps both. */
  readonly channels: 1 | 2;
  /**
   * Decodes one packet (bytes `offset .. offset+length` of `packet`, default all) into `out` (room for
   * OPUS_MAX_FRAME * channels); returns samples per channel. The range form spares a subarray per call.
   */
  decode(packet: Uint8Array, out: Int16Array, offset?: number, length?: number): number;
  /** Frees the wasm state; further calls throw. Safe to call twice. */
  close(): void;
}

/** Encodes 16-bit PCM at 48 kHz into Opus packets. */
export interface OpusEncoder {
  /** Input channels. */
  readonly channels: 1 | 2;
  /** Encodes `frameSize` samples/channel of `pcm` into `out`; returns the packet length in bytes. */
  encode(pcm: Int16Array, frameSize: number, out: Uint8Array): number;
  /** Frees the wasm state; further calls throw. Safe to call twice. */
  close(): void;
}

/** Options of `createOpusDecoder`. */
export interface OpusDecoderOptions {
  /** Output channels (default 1: stereo streams are mixed down). */
  readonly channels?: 1 | 2;
}

/** Options of `createOpusEncoder`. */
export interface OpusEncoderOptions {
  /** Input channels (default 1). */
  readonly channels?: 1 | 2;
  /** Target bitrate in bit/s (default 32000, wideband voice). */
  readonly bitrate?: number;
  /** libopus application (default 'voip'). */
  readonly application?: 'voip' | 'audio';
  /** Encoder complexity 0..10 (default 5: half the CPU of 10, inaudible difference for voice). */
  readonly complexity?: number;
}

/** Valid Opus frame sizes at 48 kHz: 2.5, 5, 10, 20, 40, 60 ms (RFC 6716 §2.1.4). */
const FRAME_SIZES: ReadonlySet<number> = new Set([120, 240, 480, 960, 1920, 2880]);

/** A handler with its wasm buffers: PCM (two int16 slots per sample) and one packet buffer. */
interface NativeState {
  readonly native: OpusNativeModule;
  readonly handler: OpusNativeHandler;
  readonly pcmPtr: number;
  readonly packetPtr: number;
  closed: boolean;
}

/** Creates a libopus handler and its buffers; throws CodecError if libopus refuses. */
function openState(channels: 1 | 2, application: number): NativeState {
  const native = opusNative();
  let handler: OpusNativeHandler;
  try {
    handler = new native.OpusScriptHandler(OPUS_SAMPLE_RATE, channels, application);
  } catch (err) {
    throw new CodecError('PBX_ERR_CODEC_UNSUPPORTED', 'libopus refused to create a codec', String(err));
  }
  // opusscript's C++ side moves PCM as one byte per int16 slot: 4 bytes per sample.
  const pcmPtr = native._malloc(OPUS_MAX_FRAME * channels * 4);
  const packetPtr = native._malloc(OPUS_MAX_PACKET);
  return { native, handler, pcmPtr, packetPtr, closed: false };
}

/** Releases a handler and its buffers once. */
function closeState(state: NativeState): void {
  if (state.closed) return;
  state.closed = true;
  state.native.OpusScriptHandler.destroy_handler(state.handler);
  state.native._free(state.pcmPtr);
  state.native._free(state.packetPtr);
}

/** Throws if the codec was closed. */
function assertOpen(state: NativeState): void {
  if (state.closed) throw new CodecError('PBX_ERR_CODEC_UNSUPPORTED', 'opus codec used after close');
}

/** Creates an Opus decoder at 48 kHz; call `close()` when the stream ends. */
export function createOpusDecoder(options: OpusDecoderOptions = {}): OpusDecoder {
  const channels = options.channels ?? 1;
  const state = openState(channels, OPUS.applicationVoip);
  return {
    channels,
    decode(packet: Uint8Array, out: Int16Array, offset = 0, length = packet.length - offset): number {
      assertOpen(state);
      return decodeInto(state, channels, packet, offset, length, out);
    },
    close(): void {
      closeState(state);
    },
  };
}

/** Runs one decode through the wasm heap and unpacks the byte-per-slot PCM into `out`. */
function decodeInto(
  state: NativeState,
  channels: number,
  packet: Uint8Array,
  offset: number,
  length: number,
  out: Int16Array,
): number {
  if (length <= 0 || length > OPUS_MAX_PACKET || offset < 0 || offset + length > packet.length) {
    throw new CodecError('PBX_ERR_CODEC_DECODE', 'opus packet length out of range', String(length));
  }
  const { native, handler, pcmPtr, packetPtr } = state;
  const bytes = native.HEAPU8;
  for (let i = 0; i < length; i++) bytes[packetPtr + i] = packet[offset + i] ?? 0;
  const frames = handler._decode(packetPtr, length, pcmPtr);
  if (frames < 0) throw new CodecError('PBX_ERR_CODEC_DECODE', 'libopus could not decode', String(frames));
  const total = frames * channels;
  if (total > out.length)
    throw new CodecError('PBX_ERR_CODEC_DECODE', 'output buffer too small', String(total));
  const heap = native.HEAPU16;
  const base = pcmPtr >> 1;
  for (let i = 0; i < total; i++) {
    const lo = heap[base + 2 * i] ?? 0;
    const hi = heap[base + 2 * i + 1] ?? 0;
    out[i] = (hi << 8) | lo;
  }
  return frames;
}

/** Creates an Opus encoder at 48 kHz; call `close()` when the stream ends. */
export function createOpusEncoder(options: OpusEncoderOptions = {}): OpusEncoder {
  const channels = options.channels ?? 1;
  const application = options.application === 'audio' ? OPUS.applicationAudio : OPUS.applicationVoip;
  const state = openState(channels, application);
  state.handler._encoder_ctl(OPUS.setBitrate, options.bitrate ?? 32000);
  state.handler._encoder_ctl(OPUS.setComplexity, options.complexity ?? 5);
  return {
    channels,
    encode(pcm: Int16Array, frameSize: number, out: Uint8Array): number {
      assertOpen(state);
      return encodeInto(state, channels, pcm, frameSize, out);
    },
    close(): void {
      closeState(state);
    },
  };
}

/** Packs PCM byte-per-slot into the wasm heap, encodes, copies the packet into `out`. */
function encodeInto(
  state: NativeState,
  channels: number,
  pcm: Int16Array,
  frameSize: number,
  out: Uint8Array,
): number {
  const total = frameSize * channels;
  if (!FRAME_SIZES.has(frameSize) || pcm.length < total) {
    throw new CodecError('PBX_ERR_CODEC_ENCODE', 'invalid opus frame size', String(frameSize));
  }
  const { native, handler, pcmPtr, packetPtr } = state;
  const heap = native.HEAPU16;
  const base = pcmPtr >> 1;
  for (let i = 0; i < total; i++) {
    const sample = pcm[i] ?? 0;
    heap[base + 2 * i] = sample & 0xff;
    heap[base + 2 * i + 1] = (sample >> 8) & 0xff;
  }
  const bytes = handler._encode(pcmPtr, total, packetPtr, frameSize);
  if (bytes < 0) throw new CodecError('PBX_ERR_CODEC_ENCODE', 'libopus could not encode', String(bytes));
  if (bytes > out.length)
    throw new CodecError('PBX_ERR_CODEC_ENCODE', 'output buffer too small', String(bytes));
  const heap8 = native.HEAPU8;
  for (let i = 0; i < bytes; i++) out[i] = heap8[packetPtr + i] ?? 0;
  return bytes;
}

/** Averages interleaved stereo into mono: `frames` samples per channel from `stereo` into `mono`. */
export function mixDownStereo(stereo: Int16Array, frames: number, mono: Int16Array): number {
  const n = Math.min(frames, stereo.length >> 1, mono.length);
  for (let i = 0; i < n; i++) mono[i] = ((stereo[2 * i] ?? 0) + (stereo[2 * i + 1] ?? 0)) >> 1;
  return n;
}
