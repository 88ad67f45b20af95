// Codecs and transcoding for the media relay (ARCHITECTURE.md, "Media"): G.711 tables, Opus through
// libopus (wasm), 8 <-> 48 kHz resampling and the per-direction RTP transcoder.
export { CodecError } from './errors.js';
export type { CodecErrorCode } from './errors.js';
export {
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
} from './g711.js';
export {
  OPUS_FRAME_20MS,
  OPUS_MAX_FRAME,
  OPUS_MAX_PACKET,
  OPUS_SAMPLE_RATE,
  createOpusDecoder,
  createOpusEncoder,
  mixDownStereo,
} from './opus.js';
export type { OpusDecoder, OpusDecoderOptions, OpusEncoder, OpusEncoderOptions } from './opus.js';
export { RESAMPLE_FACTOR, createDownsampler, createUpsampler } from './resample.js';
export type { Resampler } from './resample.js';
export { clockRateOf } from './frame-codec.js';
export type { AudioCodec } from './frame-codec.js';
export { createTranscoder, HELD } from './transcoder.js';
export type { Transcoder, TranscoderEndpoint, TranscoderOptions, TranscoderStats } from './transcoder.js';
export { readOggPackets, parseOpusHead } from './ogg.js';
export type { OpusHead } from './ogg.js';
