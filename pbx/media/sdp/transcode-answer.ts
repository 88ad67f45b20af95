import { describeLines } from './describe.js';
import type { SdpLine } from './lines.js';
import { joinLines, splitLines } from './lines.js';
import type { CodecOnLeg, LineEdits, Section } from './transcode-lines.js';
import {
  applyEdits,
  attributeInsertPoint,
  noEdits,
  payloadAttribute,
  replaceFormats,
  sectionEol,
  sectionsOf,
  transcodeClockRate,
  transcodeCodecOf,
} from './transcode-lines.js';
import type { OfferedLine, TranscodeOffer } from './transcode-offer.js';
import type { SdpMedia } from './types.js';

/** One m= line whose legs share no codec: the relay converts between the two codecs, both ways. */
export interface TranscodedLine {
  /** Position of the m= line, 0-based (the relay line index). */
  readonly index: number;
  /** The offerer's codec and payload type (what the answer passed to the offerer now lists). */
  readonly offerer: CodecOnLeg;
  /** The answerer's choice among the appended codecs, with the payload type of the extended offer. */
  readonly answerer: CodecOnLeg;
  /** RFC 4733 telephone-event payload types on each leg, when both have one at their codec's clock rate. */
  readonly telephoneEvent?: { readonly offerer: number; readonly answerer: number };
}

/** planTranscodeAnswer's result: the answer to pass to the offerer and the lines to transcode (empty: bypass). */
export interface TranscodeAnswerPlan {
  readonly body: Buffer;
  readonly lines: readonly TranscodedLine[];
}

/**
 * Reads an answer to an offer that planTranscodeOffer extended. Per m= line: when the answerer kept a codec the
 * offerer listed, the line stays in bypass and the appended payload types are removed from the answer passed on; when
 * it chose only appended codecs, the answer passed on lists the offerer's best codec with the offerer's payload type
 * (and its telephone-event when both sides have one) and the line is transcoded. Payload-specific attributes
 * (`a=rtpmap`, `a=fmtp`, `a=rtcp-fb`) of removed payload types go with them; every other line passes byte for byte.
 * The body is returned as it is when nothing changes.
 */
export function planTranscodeAnswer(offer: TranscodeOffer, body: Buffer): TranscodeAnswerPlan {
  const lines = splitLines(body);
  const description = describeLines(lines);
  const sections = sectionsOf(lines);
  const edits = noEdits();
  const transcoded: TranscodedLine[] = [];
  description.media.forEach((media, i) => {
    const offered = offer.lines[i];
    const section = sections[i];
    if (offered === null || offered === undefined || section === undefined || media.rejected) return;
    const line = readLine(lines, section, media, offered, edits);
    if (line !== undefined) transcoded.push(line);
  });
  const changed = edits.replace.size > 0 || edits.remove.size > 0 || edits.insert.size > 0;
  return { body: changed ? joinLines(applyEdits(lines, edits)) : body, lines: transcoded };
}

/** Plans one answered m= line and records its edits; the transcoding, if the answerer chose an appended codec. */
function readLine(
  lines: readonly SdpLine[],
  section: Section,
  media: SdpMedia,
  offered: OfferedLine,
  edits: LineEdits,
): TranscodedLine | undefined {
  const own = new Set(offered.ownAudio);
  const keptOwn = media.formats.some((f) => own.has(Number(f)));
  const chosen = keptOwn ? undefined : answererChoice(media, offered);
  if (chosen === undefined) {
    dropAppended(lines, section, media, offered, edits);
    return undefined;
  }
  const answerEvents = media.telephoneEvents.find((e) => e.clockRate === transcodeClockRate(chosen.codec));
  const events =
    offered.bestEvents === undefined || answerEvents === undefined
      ? undefined
      : { offerer: offered.bestEvents, answerer: answerEvents.payloadType };
  const formats = events ? [offered.best.payloadType, events.offerer] : [offered.best.payloadType];
  const attributes = offered.bestAttributes.filter((a) => formats.includes(a.payloadType)).map((a) => a.text);
  // Every payload type of the answer is the answerer's: none of its attributes describes the offerer's codec.
  const answered = new Set(media.formats.map(Number).filter(Number.isInteger));
  const at = setFormats(lines, section, formats.map(String), answered, edits);
  if (attributes.length > 0) edits.insert.set(at, { texts: attributes, eol: sectionEol(lines, section) });
  return {
    index: media.index,
    offerer: offered.best,
    answerer: chosen,
    ...(events ? { telephoneEvent: events } : {}),
  };
}

/** Bypass: the answer passed on must not list what the offerer never offered (RFC 3264 §6.1). */
function dropAppended(
  lines: readonly SdpLine[],
  section: Section,
  media: SdpMedia,
  offered: OfferedLine,
  edits: LineEdits,
): void {
  const added = new Set(offered.added.map((c) => c.payloadType));
  const keep = media.formats.filter((f) => !added.has(Number(f)));
  // Nothing appended was answered; or only appended ones were (no audio codec at all): an m= line needs a format.
  if (keep.length === media.formats.length || keep.length === 0) return;
  setFormats(lines, section, keep, added, edits);
}

/** The answerer's first listed codec among those we appended (RFC 3264 §6.1: it keeps the offer's payload types). */
function answererChoice(media: SdpMedia, offered: OfferedLine): CodecOnLeg | undefined {
  for (const format of media.formats) {
    const added = offered.added.find((c) => String(c.payloadType) === format);
    const codec = added === undefined ? undefined : transcodeCodecOf(added);
    if (added !== undefined && codec !== undefined) return { codec, payloadType: added.payloadType };
  }
  return undefined;
}

/**
 * Sets the m= format list and removes the payload-specific attributes of `drop`; returns where attributes for the
 * new list go: where the first removed one was, else the usual place.
 */
function setFormats(
  lines: readonly SdpLine[],
  section: Section,
  formats: readonly string[],
  drop: ReadonlySet<number>,
  edits: LineEdits,
): number {
  let first: number | undefined;
  for (let i = section.start + 1; i < section.end; i++) {
    const attribute = payloadAttribute(lines[i]?.text ?? '');
    if (attribute === undefined || !drop.has(attribute.payloadType)) continue;
    edits.remove.add(i);
    first ??= i;
  }
  edits.replace.set(section.start, replaceFormats(lines[section.start]?.text ?? '', formats));
  return first ?? attributeInsertPoint(lines, section);
}
