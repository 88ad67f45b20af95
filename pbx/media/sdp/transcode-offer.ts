import { describeLines } from './describe.js';
import type { SdpLine } from './lines.js';
import { joinLines, splitLines } from './lines.js';
import type { CodecOnLeg, LineEdits, Section, TranscodeCodec } from './transcode-lines.js';
import {
  appendFormats,
  applyEdits,
  attributeInsertPoint,
  freePayloadType,
  isAudioCodec,
  isPlainRtpAudio,
  noEdits,
  payloadAttribute,
  sectionEol,
  sectionsOf,
  TRANSCODE_CODECS,
  transcodeClockRate,
  transcodeCodecOf,
  usedPayloadTypes,
} from './transcode-lines.js';
import type { SdpCodec, SdpMedia } from './types.js';

/** Payload types tried first for appended codecs: the static ones, then the values most stacks use. */
const PREFERRED_PT: Readonly<Record<TranscodeCodec | 'telephone-event', readonly number[]>> = {
  PCMU: [0],
  PCMA: [8],
  opus: [111],
  'telephone-event': [101, 110],
};

/** `a=fmtp` of an appended Opus (RFC 7587 §6.1): we can decode in-band FEC, the rest are the defaults. */
const OPUS_FMTP = 'useinbandfec=1';
/** Events of an appended telephone-event when the offerer's has no `a=fmtp` (RFC 4733 §7.1.1: DTMF 0-15, flash 16). */
const DEFAULT_EVENTS = '0-16';

/** A payload-specific attribute line of the offer, kept to describe the offerer's codec in a transcoded answer. */
export interface PayloadAttributeLine {
  readonly payloadType: number;
  readonly text: string;
}

/** One audio m= line of an offer as planTranscodeOffer left it; planTranscodeAnswer reads the answer with it. */
export interface OfferedLine {
  /** Payload types the offerer itself listed that carry audio (not telephone-event, CN, ...). */
  readonly ownAudio: readonly number[];
  /** The offerer's preferred transcodable codec: its first among PCMU, PCMA and Opus. */
  readonly best: CodecOnLeg;
  /** The offerer's telephone-event payload type at the best codec's clock rate, if it offered one. */
  readonly bestEvents?: number;
  /** The offerer's own `a=rtpmap`/`a=fmtp` lines for `best` and `bestEvents`, copied into a transcoded answer. */
  readonly bestAttributes: readonly PayloadAttributeLine[];
  /** What we appended: the codecs the offerer did not list (and telephone-event at their clock rates). */
  readonly added: readonly SdpCodec[];
}

/** What an offer was extended with, per m= line (null: left as it was). */
export interface TranscodeOffer {
  readonly lines: readonly (OfferedLine | null)[];
}

/** planTranscodeOffer's result: the body to pass on and what the answer must be read against. */
export interface TranscodeOfferPlan {
  readonly body: Buffer;
  readonly offer: TranscodeOffer;
}

/**
 * Extends an offer for transcoding: each live plain-RTP audio m= line that lists at least one of PCMU, PCMA and Opus
 * gets the others appended after its own formats (so an answerer that shares a codec with the offerer still picks
 * the offerer's, and the call stays in bypass), each with an `a=rtpmap` (and for Opus an `a=fmtp`) on a payload type
 * the line does not use; when the offerer offers telephone-event, it is appended at any new clock rate too. Every
 * other line passes byte for byte. The body is returned as it is when nothing was added.
 */
export function planTranscodeOffer(body: Buffer): TranscodeOfferPlan {
  const lines = splitLines(body);
  const description = describeLines(lines);
  const sections = sectionsOf(lines);
  const edits = noEdits();
  const offered = description.media.map((media, i) => {
    const section = sections[i];
    return section === undefined ? null : extendLine(lines, section, media, edits);
  });
  const changed = offered.some((line) => line !== null && line.added.length > 0);
  return { body: changed ? joinLines(applyEdits(lines, edits)) : body, offer: { lines: offered } };
}

/** Plans one m= line and records its edits; null when it cannot be transcoded. */
function extendLine(
  lines: readonly SdpLine[],
  section: Section,
  media: SdpMedia,
  edits: LineEdits,
): OfferedLine | null {
  if (media.rejected || !isPlainRtpAudio(media.type, media.proto) || hasCrypto(lines, section)) return null;
  const bestCodec = media.codecs.find((c) => transcodeCodecOf(c) !== undefined);
  const bestKind = bestCodec === undefined ? undefined : transcodeCodecOf(bestCodec);
  if (bestCodec === undefined || bestKind === undefined) return null;
  const best: CodecOnLeg = { codec: bestKind, payloadType: bestCodec.payloadType };
  const bestEvents = media.telephoneEvents.find((e) => e.clockRate === transcodeClockRate(bestKind));
  const used = usedPayloadTypes(lines, section);
  const added = appendedCodecs(media, used);
  // A format without a known codec (dynamic, no rtpmap) counts as audio: an answer keeping it keeps bypass.
  const notAudio = new Set(media.codecs.filter((c) => !isAudioCodec(c)).map((c) => c.payloadType));
  const ownAudio = media.formats
    .filter((f) => /^\d{1,3}$/.test(f))
    .map(Number)
    .filter((pt) => !notAudio.has(pt));
  const line: OfferedLine = {
    ownAudio,
    best,
    ...(bestEvents ? { bestEvents: bestEvents.payloadType } : {}),
    bestAttributes: attributesFor(lines, section, [best.payloadType, bestEvents?.payloadType]),
    added,
  };
  if (added.length === 0) return line;
  const events = eventsList(lines, section, media);
  const m = lines[section.start]?.text ?? '';
  edits.replace.set(
    section.start,
    appendFormats(
      m,
      added.map((c) => c.payloadType),
    ),
  );
  edits.insert.set(attributeInsertPoint(lines, section), {
    texts: added.flatMap((c) => attributeLines(c, events)),
    eol: sectionEol(lines, section),
  });
  return line;
}

/** The transcodable codecs the line lacks, then telephone-event at their clock rates; payload types claimed in `used`. */
function appendedCodecs(media: SdpMedia, used: Set<number>): SdpCodec[] {
  const have = new Set(media.codecs.map(transcodeCodecOf));
  const added: SdpCodec[] = [];
  const claim = (name: TranscodeCodec | 'telephone-event', clockRate: number, channels?: number): void => {
    const payloadType = freePayloadType(used, PREFERRED_PT[name]);
    if (payloadType === undefined) return;
    used.add(payloadType);
    added.push(
      channels === undefined ? { payloadType, name, clockRate } : { payloadType, name, clockRate, channels },
    );
  };
  for (const codec of TRANSCODE_CODECS) {
    if (!have.has(codec)) claim(codec, transcodeClockRate(codec), codec === 'opus' ? 2 : undefined);
  }
  if (media.telephoneEvents.length === 0) return added;
  const rates = new Set(media.telephoneEvents.map((e) => e.clockRate));
  for (const codec of [...added]) {
    if (rates.has(codec.clockRate)) continue;
    rates.add(codec.clockRate);
    claim('telephone-event', codec.clockRate);
  }
  return added;
}

/** SDES keys on a plain RTP/AVP line (best-effort SRTP): the answer may turn on encryption the relay cannot undo. */
function hasCrypto(lines: readonly SdpLine[], section: Section): boolean {
  for (let i = section.start + 1; i < section.end; i++)
    if (lines[i]?.text.startsWith('a=crypto:')) return true;
  return false;
}

/** `a=rtpmap` (+ `a=fmtp`) lines announcing an appended codec. */
function attributeLines(codec: SdpCodec, events: string): string[] {
  const pt = codec.payloadType;
  const rtpmap = `a=rtpmap:${pt} ${codec.name}/${codec.clockRate}${codec.channels ? `/${codec.channels}` : ''}`;
  if (codec.name === 'opus') return [rtpmap, `a=fmtp:${pt} ${OPUS_FMTP}`];
  if (codec.name === 'telephone-event') return [rtpmap, `a=fmtp:${pt} ${events}`];
  return [rtpmap];
}

/** The events the offerer's telephone-event supports (its first `a=fmtp` value), so appended ones promise no more. */
function eventsList(lines: readonly SdpLine[], section: Section, media: SdpMedia): string {
  const pts = new Set(media.telephoneEvents.map((e) => e.payloadType));
  for (const attribute of attributesFor(lines, section, [...pts])) {
    const value = /^a=fmtp:\d+[ \t]+(\S.*?)\s*$/.exec(attribute.text)?.[1];
    if (value !== undefined) return value;
  }
  return DEFAULT_EVENTS;
}

/** The section's `a=rtpmap` and `a=fmtp` lines for the given payload types, in body order. */
function attributesFor(
  lines: readonly SdpLine[],
  section: Section,
  payloadTypes: readonly (number | undefined)[],
): PayloadAttributeLine[] {
  const out: PayloadAttributeLine[] = [];
  for (let i = section.start + 1; i < section.end; i++) {
    const text = lines[i]?.text ?? '';
    const attribute = payloadAttribute(text);
    if (attribute === undefined || attribute.name === 'rtcp-fb') continue;
    if (payloadTypes.includes(attribute.payloadType)) {
      out.push({ payloadType: attribute.payloadType, text: text.trimEnd() });
    }
  }
  return out;
}
