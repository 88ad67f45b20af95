// One direction of a transcoded media line, as a relay per-packet transform: RTP in (codec A),
// RTP out (codec B). Payloads are decoded, resampled (8 kHz <-> 48 kHz) and re-encoded; RFC 4733
// telephone-events pass with their payload type mapped and times rescaled.
//
// Packetisation: one packet in gives at most one packet out, of the same duration (20 ms in -> 20 ms
// out; 10, 40 and 60 ms work too). A PCMU/PCMA packet whose duration is not an Opus frame size
// (2.5/5/10/20/40/60 ms, e.g. 30 ms) cannot become one Opus packet and is dropped (stats.codecErrors).
// Output: the input's SSRC and CSRCs (RFC 3550 §7.1 translator), no header extension (its contents,
// e.g. audio level, no longer describe the payload), no padding; sequence numbers count the packets
// actually sent, so they stay continuous when input is dropped; timestamps are the input's mapped
// to the target clock; the marker bit is kept. Packets of any other payload type (CN, RTCP on a
// muxed port) are dropped and counted: the relay must demultiplex RTCP before calling `transform`.
import { CodecError } from './errors.js';
import { MAX_PAYLOAD, clockRateOf, createFrameDecoder, createFrameEncoder } from './frame-codec.js';
import type { AudioCodec, FrameDecoder, FrameEncoder } from './frame-codec.js';
import { OPUS_MAX_FRAME } from './opus.js';
import type { OpusEncoderOptions } from './opus.js';
import { createDownsampler, createUpsampler } from './resample.js';
import type { Resampler } from './resample.js';
import { createTimestampMapper } from './rtp-clock.js';
import type { TimestampMapper } from './rtp-clock.js';
import { buildRtp, emptyRtpView, parseRtp } from './rtp-packet.js';
import type { RtpView } from './rtp-packet.js';
import { convertEventPayload } from './telephone-event.js';

/** One side of the conversion: a codec and the payload type negotiated for it on that leg. */
export interface TranscoderEndpoint {
  readonly codec: AudioCodec;
  readonly payloadType: number;
}

/** Options of `createTranscoder`. */
export interface TranscoderOptions {
  readonly from: TranscoderEndpoint;
  readonly to: TranscoderEndpoint;
  /** RFC 4733 telephone-event payload types on each leg; absent: events are dropped. */
  readonly telephoneEvent?: { readonly fromPt: number; readonly toPt: number };
  /** Opus encoder settings when `to` is Opus. */
  readonly opus?: OpusEncoderOptions;
  /** First output sequence number (default: the first input packet's). */
  readonly initialSequence?: number;
  /** First output timestamp (default: the first input packet's value). */
  readonly initialTimestamp?: number;
}

/** Per-direction counters, aggregated by the relay into its metrics. */
export interface TranscoderStats {
  /** Audio packets decoded and re-encoded. */
  transcoded: number;
  /** telephone-event packets passed through. */
  events: number;
  /** Packets that are not valid RTP, have an empty or malformed payload. */
  malformed: number;
  /** Packets of a payload type this direction does not carry. */
  unknownPayloadType: number;
  /** Payloads the codec refused (corrupt Opus, unsupported duration). */
  codecErrors: number;
}

/** A per-direction RTP transform; `transform` returns null for a packet that must be dropped. */
export interface Transcoder {
  /** Converts one RTP packet; null means drop (see `stats` for why). */
  transform(packet: Buffer): Buffer | null;
  /** Counters since creation. */
  readonly stats: Readonly<TranscoderStats>;
  /** Frees codec state; afterwards `transform` returns null. Idempotent. */
  close(): void;
}

/** Picks the resampler between two clock rates; undefined when they are equal. */
function resamplerFor(fromRate: number, toRate: number): Resampler | undefined {
  if (fromRate === toRate) return undefined;
  return fromRate < toRate ? createUpsampler() : createDownsampler();
}

/** Preallocated per-direction state. */
interface Pipeline {
  readonly decoder: FrameDecoder;
  readonly encoder: FrameEncoder;
  readonly resampler: Resampler | undefined;
  readonly decoded: Int16Array;
  readonly resampled: Int16Array;
  readonly payload: Buffer;
}

/** Creates decoder, resampler, encoder and scratch buffers for one direction. */
function openPipeline(options: TranscoderOptions): Pipeline {
  const decoder = createFrameDecoder(options.from.codec);
  try {
    const encoder = createFrameEncoder(options.to.codec, options.opus ?? {});
    return {
      decoder,
      encoder,
      resampler: resamplerFor(decoder.clockRate, encoder.clockRate),
      decoded: new Int16Array(OPUS_MAX_FRAME),
      resampled: new Int16Array(OPUS_MAX_FRAME),
      payload: Buffer.alloc(MAX_PAYLOAD),
    };
  } catch (err) {
    decoder.close();
    throw err;
  }
}

/** Decodes, resamples and encodes the parsed packet's payload into `pipeline.payload`; returns its length. */
function transcodePayload(pipeline: Pipeline, packet: Buffer, view: RtpView): number {
  const samples = pipeline.decoder.decode(packet, view.payloadOffset, view.payloadLength, pipeline.decoded);
  let pcm = pipeline.decoded;
  let count = samples;
  if (pipeline.resampler !== undefined) {
    count = pipeline.resampler.process(pipeline.decoded, pipeline.resampled, samples);
    pcm = pipeline.resampled;
  }
  return pipeline.encoder.encode(pcm, count, pipeline.payload);
}

/** Validates the options: 7-bit payload types, events not on the audio payload type. */
function checkOptions(options: TranscoderOptions): void {
  const pts = [options.from.payloadType, options.to.payloadType];
  if (options.telephoneEvent) pts.push(options.telephoneEvent.fromPt, options.telephoneEvent.toPt);
  for (const pt of pts) {
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) {
      throw new CodecError('PBX_ERR_CODEC_UNSUPPORTED', 'payload type out of range', String(pt));
    }
  }
  if (options.telephoneEvent?.fromPt === options.from.payloadType) {
    throw new CodecError(
      'PBX_ERR_CODEC_UNSUPPORTED',
      'telephone-event shares the audio payload type',
      String(pts[0]),
    );
  }
}

/** Creates the transform for one direction (`from` leg -> `to` leg) of a transcoded media line. */
export function createTranscoder(options: TranscoderOptions): Transcoder {
  checkOptions(options);
  const pipeline = openPipeline(options);
  const fromRate = clockRateOf(options.from.codec);
  const toRate = clockRateOf(options.to.codec);
  const clock: TimestampMapper = createTimestampMapper(fromRate, toRate, options.initialTimestamp);
  const stats: TranscoderStats = {
    transcoded: 0,
    events: 0,
    malformed: 0,
    unknownPayloadType: 0,
    codecErrors: 0,
  };
  const view: RtpView = emptyRtpView();
  const fields = { payloadType: 0, marker: false, sequence: 0, timestamp: 0 };
  let sequence: number | undefined = options.initialSequence;
  let started = false;
  let closed = false;

  /** Next output sequence number: continuous over the packets actually sent. */
  function nextSequence(): number {
    sequence = started ? ((sequence ?? 0) + 1) & 0xffff : (sequence ?? view.sequence) & 0xffff;
    started = true;
    return sequence;
  }

  /** Builds the output packet around the first `length` bytes of the scratch payload. */
  function emit(packet: Buffer, payloadType: number, length: number): Buffer {
    fields.payloadType = payloadType;
    fields.marker = view.marker;
    fields.sequence = nextSequence();
    fields.timestamp = clock.map(view.timestamp);
    return buildRtp(packet, view, fields, pipeline.payload, length);
  }

  /** Audio path: decode, resample, encode. */
  function audio(packet: Buffer): Buffer | null {
    let length: number;
    try {
      length = transcodePayload(pipeline, packet, view);
    } catch {
      stats.codecErrors++;
      return null;
    }
    stats.transcoded++;
    return emit(packet, options.to.payloadType, length);
  }

  /** telephone-event path: rescale durations, map the payload type. */
  function event(packet: Buffer, toPt: number): Buffer | null {
    if (
      !convertEventPayload(packet, view.payloadOffset, view.payloadLength, pipeline.payload, fromRate, toRate)
    ) {
      stats.malformed++;
      return null;
    }
    stats.events++;
    return emit(packet, toPt, view.payloadLength);
  }

  return {
    stats,
    transform(packet: Buffer): Buffer | null {
      if (closed) return null;
      if (!parseRtp(packet, view) || view.payloadLength === 0) {
        stats.malformed++;
        return null;
      }
      if (view.payloadType === options.from.payloadType) return audio(packet);
      const events = options.telephoneEvent;
      if (events !== undefined && view.payloadType === events.fromPt) return event(packet, events.toPt);
      stats.unknownPayloadType++;
      return null;
    },
    close(): void {
      if (closed) return;
      closed = true;
      pipeline.decoder.close();
      pipeline.encoder.close();
    },
  };
}
