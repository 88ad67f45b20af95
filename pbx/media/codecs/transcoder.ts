// One direction of a transcoded media line, as a relay per-packet transform: RTP in (codec A),
// RTP out (codec B). Payloads are decoded, resampled (8 kHz <-> 48 kHz) and re-encoded; RFC 4733
// telephone-events pass with their payload type mapped and times rescaled.
//
// Packetisation: one packet in gives at most one packet out, of the same duration (20 ms in -> 20 ms
// out; 10, 40 and 60 ms work too). Towards Opus, a PCMU/PCMA packet whose duration is not an Opus
// frame size (2.5/5/10/20/40/60 ms, RFC 6716 §2.1.4; e.g. 30 ms, a common carrier ptime) is held
// (`transform` returns the empty HELD buffer: nothing to send, nothing dropped) and joined with the
// following packets until they make one (30 + 30 -> one 60 ms Opus packet, with the first one's
// timestamp and marker); a gap in the timestamps (a lost packet) discards what was held.
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
import { translateSenderReports } from './rtcp-sr.js';
import type { SenderState } from './rtcp-sr.js';
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
  /** Payloads the codec refused (corrupt Opus, unsupported duration), and held audio discarded by a gap. */
  codecErrors: number;
  /** Packets held to be joined with the next ones into one Opus frame (e.g. 30 ms G.711). */
  held: number;
}

/** Opus frame sizes (RFC 6716 §2.1.4) in 48 kHz samples: 2.5, 5, 10, 20, 40 and 60 ms. */
const OPUS_FRAME_SAMPLES: ReadonlySet<number> = new Set([120, 240, 480, 960, 1920, 2880]);
/** The longest Opus frame (60 ms): held audio that passes it without fitting a frame size is discarded. */
const OPUS_LONGEST_FRAME = 2880;

/**
 * What `transform` returns for a packet it keeps to send with the next one (see Packetisation above):
 * a zero-length Buffer, so relays send nothing and count no drop for it.
 */
export const HELD: Buffer = Buffer.alloc(0);

/** Audio held towards Opus until it fills an Opus frame. */
interface HeldAudio {
  readonly pcm: Int16Array;
  count: number;
  /** Input RTP timestamp and marker of the first held packet. */
  timestamp: number;
  marker: boolean;
  /** The input timestamp the next packet must have to continue the held audio. */
  next: number;
}

/** A per-direction RTP transform; `transform` returns null for a packet that must be dropped. */
export interface Transcoder {
  /** Converts one RTP packet; null means drop (see `stats` for why), HELD means kept for the next one. */
  transform(packet: Buffer): Buffer | null;
  /**
   * Translates the RTCP of the same direction (RFC 3550 §7.1): sender reports of the transcoded stream get
   * the output clock's RTP timestamp and the packet/octet counts of what was sent; the rest passes as is.
   */
  translateRtcp(packet: Buffer): Buffer;
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
  /** Towards Opus only: audio waiting to fill an Opus frame. */
  readonly held: HeldAudio | undefined;
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
      held:
        options.to.codec === 'opus'
          ? { pcm: new Int16Array(OPUS_LONGEST_FRAME), count: 0, timestamp: 0, marker: false, next: 0 }
          : undefined,
    };
  } catch (err) {
    decoder.close();
    throw err;
  }
}

/** Decoded (and resampled) audio of one packet, at the encoder's rate; `inputSamples` at the input clock. */
interface DecodedAudio {
  readonly pcm: Int16Array;
  readonly count: number;
  readonly inputSamples: number;
}

/** Decodes and resamples the parsed packet's payload (throws CodecError). */
function decodePayload(pipeline: Pipeline, packet: Buffer, view: RtpView): DecodedAudio {
  const samples = pipeline.decoder.decode(packet, view.payloadOffset, view.payloadLength, pipeline.decoded);
  if (pipeline.resampler === undefined)
    return { pcm: pipeline.decoded, count: samples, inputSamples: samples };
  const count = pipeline.resampler.process(pipeline.decoded, pipeline.resampled, samples);
  return { pcm: pipeline.resampled, count, inputSamples: samples };
}

/**
 * Adds a packet's audio to what is held towards Opus: true when the held audio now fills an Opus frame,
 * false when it waits for more. Audio that does not continue the held audio (a timestamp gap) or cannot
 * fill a frame any more replaces it (returns false after counting the loss in `stats.codecErrors`).
 */
function holdAudio(held: HeldAudio, audio: DecodedAudio, view: RtpView, stats: TranscoderStats): boolean {
  if (
    held.count > 0 &&
    (view.timestamp >>> 0 !== held.next || held.count + audio.count > OPUS_LONGEST_FRAME)
  ) {
    stats.codecErrors++;
    held.count = 0;
  }
  if (held.count + audio.count > OPUS_LONGEST_FRAME) return false;
  if (held.count === 0) {
    held.timestamp = view.timestamp;
    held.marker = view.marker;
  }
  held.pcm.set(audio.pcm.subarray(0, audio.count), held.count);
  held.count += audio.count;
  held.next = (view.timestamp + audio.inputSamples) >>> 0;
  return OPUS_FRAME_SAMPLES.has(held.count);
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
    held: 0,
  };
  const view: RtpView = emptyRtpView();
  const fields = { payloadType: 0, marker: false, sequence: 0, timestamp: 0 };
  let sequence: number | undefined = options.initialSequence;
  let started = false;
  let closed = false;
  /** The stream as sent, for RTCP sender reports (nothing to translate before its first packet). */
  const sent: SenderState & { ssrc: number; packets: number; octets: number } = {
    ssrc: 0,
    packets: 0,
    octets: 0,
    map: (ts: number): number => clock.map(ts),
  };

  /** Next output sequence number: continuous over the packets actually sent. */
  function nextSequence(): number {
    sequence = started ? ((sequence ?? 0) + 1) & 0xffff : (sequence ?? view.sequence) & 0xffff;
    started = true;
    return sequence;
  }

  /** Builds the output packet around the first `length` bytes of the scratch payload. */
  function emit(
    packet: Buffer,
    payloadType: number,
    length: number,
    timing: { readonly timestamp: number; readonly marker: boolean } = view,
  ): Buffer {
    fields.payloadType = payloadType;
    fields.marker = timing.marker;
    fields.sequence = nextSequence();
    fields.timestamp = clock.map(timing.timestamp);
    sent.ssrc = view.ssrc;
    sent.packets++;
    sent.octets += length;
    return buildRtp(packet, view, fields, pipeline.payload, length);
  }

  /** Audio path: decode, resample, encode (towards Opus, possibly after holding it for the next packet). */
  function audio(packet: Buffer): Buffer | null {
    try {
      const decoded = decodePayload(pipeline, packet, view);
      const held = pipeline.held;
      if (held === undefined || (held.count === 0 && OPUS_FRAME_SAMPLES.has(decoded.count))) {
        const length = pipeline.encoder.encode(decoded.pcm, decoded.count, pipeline.payload);
        stats.transcoded++;
        return emit(packet, options.to.payloadType, length);
      }
      if (!holdAudio(held, decoded, view, stats)) return holdResult(held);
      const length = pipeline.encoder.encode(held.pcm, held.count, pipeline.payload);
      held.count = 0;
      stats.transcoded++;
      return emit(packet, options.to.payloadType, length, held);
    } catch {
      stats.codecErrors++;
      return null;
    }
  }

  /** A packet holdAudio kept (HELD) or could not use at all (null: longer than an Opus frame). */
  function holdResult(held: HeldAudio): Buffer | null {
    if (held.count === 0) {
      stats.codecErrors++;
      return null;
    }
    stats.held++;
    return HELD;
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
    translateRtcp(packet: Buffer): Buffer {
      return sent.packets === 0 ? packet : translateSenderReports(packet, sent);
    },
    close(): void {
      if (closed) return;
      closed = true;
      pipeline.decoder.close();
      pipeline.encoder.close();
    },
  };
}
