import type { SdpLine } from './lines.js';
import { lineType, tokenize } from './lines.js';
import type { SdpCodec } from './types.js';

/** Codecs the relay can transcode between, by their SDP encoding names (RFC 3551 §6, RFC 7587 §7). */
export type TranscodeCodec = 'PCMU' | 'PCMA' | 'opus';

/** A codec and the payload type it has on one leg. */
export interface CodecOnLeg {
  readonly codec: TranscodeCodec;
  readonly payloadType: number;
}

/** The transcodable codecs in the order they are appended to an offer. */
export const TRANSCODE_CODECS: readonly TranscodeCodec[] = ['PCMU', 'PCMA', 'opus'];

/** Formats that carry no audio of their own: an answer listing only these has chosen no codec. */
const NOT_AUDIO: ReadonlySet<string> = new Set(['telephone-event', 'cn', 'red', 'ulpfec', 'flexfec', 'rtx']);

/** RTP clock rate of a transcodable codec (RFC 3551 §4.5.14: 8000; RFC 7587 §4.1: always 48000). */
export function transcodeClockRate(codec: TranscodeCodec): 8000 | 48000 {
  return codec === 'opus' ? 48000 : 8000;
}

/** Which transcodable codec an SDP codec is, if any (names are case-insensitive, RFC 4855 §3). */
export function transcodeCodecOf(codec: SdpCodec): TranscodeCodec | undefined {
  const name = codec.name.toLowerCase();
  if (name === 'pcmu' && codec.clockRate === 8000) return 'PCMU';
  if (name === 'pcma' && codec.clockRate === 8000) return 'PCMA';
  if (name === 'opus' && codec.clockRate === 48000) return 'opus';
  return undefined;
}

/** True for a codec that carries audio (not DTMF events, comfort noise, redundancy or retransmission). */
export function isAudioCodec(codec: SdpCodec): boolean {
  return !NOT_AUDIO.has(codec.name.toLowerCase());
}

/** Only plain RTP can be decoded: SRTP (RTP/SAVP, DTLS) is encrypted end to end and only relayed. */
export function isPlainRtpAudio(type: string, proto: string): boolean {
  return type === 'audio' && /^RTP\/AVPF?$/i.test(proto);
}

/** Line index ranges `[start, end)` of the m= sections; `start` is the m= line. */
export interface Section {
  readonly start: number;
  readonly end: number;
}

/** The m= sections of a body, in order. */
export function sectionsOf(lines: readonly SdpLine[]): Section[] {
  const starts: number[] = [];
  lines.forEach((line, i) => {
    if (lineType(line.text) === 'm') starts.push(i);
  });
  return starts.map((start, k) => ({ start, end: starts[k + 1] ?? lines.length }));
}

/** Line types that come between m= and the section's attributes (RFC 8866 §5). */
const BEFORE_ATTRIBUTES: ReadonlySet<string> = new Set(['i', 'c', 'b', 'k']);

const PAYLOAD_ATTRIBUTE = /^a=(rtpmap|fmtp|rtcp-fb):(\d{1,3})(?:[ \t]|$)/;

/** The payload type a payload-specific attribute (`a=rtpmap`, `a=fmtp`, `a=rtcp-fb`) is about, if it is one. */
export function payloadAttribute(text: string): { name: string; payloadType: number } | undefined {
  const match = PAYLOAD_ATTRIBUTE.exec(text);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  return { name: match[1], payloadType: Number(match[2]) };
}

/** Payload types a section uses: numeric formats of the m= line and every payload-specific attribute. */
export function usedPayloadTypes(lines: readonly SdpLine[], section: Section): Set<number> {
  const used = new Set<number>();
  for (const token of tokenize(lines[section.start]?.text ?? '').slice(3)) {
    if (/^\d{1,3}$/.test(token.value)) used.add(Number(token.value));
  }
  for (let i = section.start + 1; i < section.end; i++) {
    const attribute = payloadAttribute(lines[i]?.text ?? '');
    if (attribute) used.add(attribute.payloadType);
  }
  return used;
}

/** The first of `preferred`, else the lowest dynamic payload type (RFC 3551 §6: 96-127) not in `used`. */
export function freePayloadType(used: ReadonlySet<number>, preferred: readonly number[]): number | undefined {
  for (const pt of preferred) if (!used.has(pt)) return pt;
  for (let pt = 96; pt <= 127; pt++) if (!used.has(pt)) return pt;
  return undefined;
}

/** The m= line with `formats` appended after its last field; every existing byte stays. */
export function appendFormats(text: string, formats: readonly number[]): string {
  const last = tokenize(text).at(-1);
  if (last === undefined || formats.length === 0) return text;
  return `${text.slice(0, last.end)} ${formats.join(' ')}${text.slice(last.end)}`;
}

/** The m= line with its format list replaced by `formats` (single spaces); media, port and proto stay. */
export function replaceFormats(text: string, formats: readonly (number | string)[]): string {
  const tokens = tokenize(text);
  const proto = tokens[2];
  const last = tokens.at(-1);
  if (proto === undefined || last === undefined) return text;
  return `${text.slice(0, proto.end)} ${formats.join(' ')}${text.slice(last.end)}`;
}

/**
 * Where attributes for new payload types go in a section: after its last `a=rtpmap`/`a=fmtp`, else after the m=,
 * i=, c=, b= and k= lines that must precede attributes (RFC 8866 §5). Returns the index to insert before.
 */
export function attributeInsertPoint(lines: readonly SdpLine[], section: Section): number {
  let after = section.start;
  for (let i = section.start + 1; i < section.end; i++) {
    const name = payloadAttribute(textAt(lines, i))?.name;
    if (name === 'rtpmap' || name === 'fmtp') after = i;
  }
  if (after !== section.start) return after + 1;
  let i = section.start + 1;
  while (i < section.end && BEFORE_ATTRIBUTES.has(lineType(textAt(lines, i)) ?? '')) i++;
  return i;
}

/** The text of line `i`, '' past the end. */
function textAt(lines: readonly SdpLine[], i: number): string {
  return lines[i]?.text ?? '';
}

/** Line ending for lines added to a section: the m= line's own, else (last line of the body) the one before it, else CRLF. */
export function sectionEol(lines: readonly SdpLine[], section: Section): SdpLine['eol'] {
  for (let i = section.start; i >= 0; i--) {
    const eol = lines[i]?.eol;
    if (eol) return eol;
  }
  return '\r\n';
}

/** Changes to a body's lines, by index of the original lines. */
export interface LineEdits {
  readonly replace: Map<number, string>;
  readonly remove: Set<number>;
  /** Lines to insert before the original line at the key (the number of lines: at the end), with their ending. */
  readonly insert: Map<number, { readonly texts: readonly string[]; readonly eol: SdpLine['eol'] }>;
}

/** An empty set of edits. */
export function noEdits(): LineEdits {
  return { replace: new Map(), remove: new Set(), insert: new Map() };
}

/**
 * Applies edits; untouched lines keep their text and ending. Lines inserted after a last line without an ending give
 * it one and end the body without one themselves, so "no final line ending" survives.
 */
export function applyEdits(lines: readonly SdpLine[], edits: LineEdits): SdpLine[] {
  const out: SdpLine[] = [];
  const insert = (at: number): void => {
    const add = edits.insert.get(at);
    if (add === undefined || add.texts.length === 0) return;
    const last = out.at(-1);
    let finalEol: SdpLine['eol'] = add.eol;
    if (last !== undefined && last.eol === '') {
      out[out.length - 1] = { text: last.text, eol: add.eol };
      finalEol = '';
    }
    add.texts.forEach((text, k) => out.push({ text, eol: k === add.texts.length - 1 ? finalEol : add.eol }));
  };
  lines.forEach((line, i) => {
    insert(i);
    if (edits.remove.has(i)) return;
    out.push({ text: edits.replace.get(i) ?? line.text, eol: line.eol });
  });
  insert(lines.length);
  return out;
}
