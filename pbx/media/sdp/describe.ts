import { codecsBySection, isTelephoneEvent } from './codecs.js';
import { SdpError } from './errors.js';
import type { MediaField } from './fields.js';
import { isHoldAddress, parseConnection, parseMediaLine, parseOrigin, parseRtcp } from './fields.js';
import { signalsIce } from './ice.js';
import type { SdpLine } from './lines.js';
import { lineType, splitAttribute, splitLines } from './lines.js';
import type {
  SdpCodec,
  SdpConnection,
  SdpDescription,
  SdpDirection,
  SdpMedia,
  SdpOrigin,
  SdpRtcp,
} from './types.js';

/** Most `m=` lines accepted: a call uses audio + video (+ a few rejected ones); more is abuse. */
export const MAX_MEDIA = 16;

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

interface Level {
  connection?: SdpConnection;
  direction?: SdpDirection;
  ice: boolean;
}

interface Section extends Level {
  readonly field: MediaField;
  rtcp?: SdpRtcp;
  rtcpMux: boolean;
}

interface Draft {
  origin?: SdpOrigin;
  readonly session: Level;
  readonly sections: Section[];
}

/** Describes an SDP body: origin, connection addresses, and per media line what the relay needs; throws SdpError. */
export function describeSdp(body: Buffer): SdpDescription {
  return describeLines(splitLines(body));
}

/** describeSdp over lines already split (rewriteSdp shares the split). */
export function describeLines(lines: readonly SdpLine[]): SdpDescription {
  checkStart(lines);
  const draft: Draft = { session: { ice: false }, sections: [] };
  for (const line of lines) visit(draft, line.text.trimEnd());
  const codecs = codecsBySection(
    lines,
    draft.sections.map((s) => s.field.formats),
  );
  const media = draft.sections.map((s, i) => finishMedia(draft.session, s, i, codecs[i] ?? []));
  return {
    ...(draft.origin ? { origin: draft.origin } : {}),
    ...(draft.session.connection ? { connection: draft.session.connection } : {}),
    ...(draft.session.direction ? { direction: draft.session.direction } : {}),
    media,
  };
}

/** Real phones drop s= or t= now and then, but a body that is not SDP at all must not pass (RFC 8866 §5: v= first). */
function checkStart(lines: readonly SdpLine[]): void {
  const first = lines.find((l) => l.text.trim() !== '');
  if (first === undefined) throw new SdpError('empty body');
  if (!first.text.trimStart().startsWith('v=')) throw new SdpError('body does not start with v=');
}

function visit(draft: Draft, text: string): void {
  const section = draft.sections.at(-1);
  switch (lineType(text)) {
    case 'o': {
      // Every line the rewrite will touch is parsed, so a malformed one fails here and not half-way through.
      if (section) return;
      const origin = parseOrigin(text);
      draft.origin ??= origin;
      return;
    }
    case 'c': {
      const connection = parseConnection(text);
      (section ?? draft.session).connection ??= connection;
      return;
    }
    case 'm':
      if (draft.sections.length >= MAX_MEDIA) throw new SdpError(`more than ${MAX_MEDIA} m= lines`);
      draft.sections.push({ field: parseMediaLine(text, draft.sections.length), rtcpMux: false, ice: false });
      return;
    case 'a':
      visitAttribute(section ?? draft.session, section, text);
      return;
    default:
      // v=, s=, t=, b=, i=, ... and blank or junk lines: nothing the relay needs; rewriteSdp passes them through.
      return;
  }
}

function visitAttribute(level: Level, section: Section | undefined, text: string): void {
  const { name, value } = splitAttribute(text);
  if (value === undefined && DIRECTIONS.has(name)) level.direction ??= name as SdpDirection;
  if (signalsIce(name)) level.ice = true;
  if (!section) return;
  if (name === 'rtcp-mux') section.rtcpMux = true;
  if (name !== 'rtcp' || value === undefined) return;
  const rtcp = parseRtcp(value);
  section.rtcp ??= rtcp;
}

function finishMedia(session: Level, s: Section, index: number, codecs: SdpCodec[]): SdpMedia {
  const rejected = s.field.port === 0;
  const connection = s.connection ?? session.connection;
  if (!connection && !rejected) throw new SdpError(`m= line ${index + 1} has no connection address`);
  const ice = s.ice || session.ice;
  const direction = s.direction ?? session.direction ?? 'sendrecv';
  return {
    index,
    type: s.field.type,
    port: s.field.port,
    portCount: s.field.portCount,
    proto: s.field.proto,
    formats: s.field.formats,
    ...(connection ? { connection, family: connection.addrType } : {}),
    ...(s.rtcp ? { rtcp: s.rtcp } : {}),
    rtcpMux: s.rtcpMux,
    ice,
    direction,
    onHold: isOnHold(connection, ice, direction),
    rejected,
    codecs,
    telephoneEvents: codecs.filter(isTelephoneEvent),
  };
}

/** RFC 3264 §8.4: sendonly/inactive, or the older c=0.0.0.0, which with ICE is only the JSEP "no candidate yet"
 * placeholder (RFC 8839 §4.2.1.3) and not a hold. */
function isOnHold(connection: SdpConnection | undefined, ice: boolean, direction: SdpDirection): boolean {
  if (direction === 'sendonly' || direction === 'inactive') return true;
  return connection !== undefined && isHoldAddress(connection) && !ice;
}
