/** Typed views of the headers the stack relies on (RFC 3261 §20). Each throws SipParseError when malformed. */
import { SipParseError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import {
  endOfQuoted,
  formatParams,
  isToken,
  isWsp,
  parseUint,
  scanParams,
  skipWs,
  splitList,
  unquote,
} from './grammar.js';
import type { Params } from './grammar.js';
import { header, headerLines } from './message.js';
import type { SipMessage } from './message.js';

/** From, To, Contact, Route, Record-Route value: `"Display" <uri>;params` or a bare `uri;params`. */
export interface NameAddr {
  /** Display name without quotes and escapes, or undefined. */
  readonly displayName: string | undefined;
  /** The URI as written (no angle brackets). */
  readonly uri: string;
  /** Header parameters (after the URI), names lowercase. */
  readonly params: Params;
}

const MAX_PARAMS = DEFAULT_LIMITS.maxUriParams;

/** Parses one name-addr or addr-spec (RFC 3261 §20.10: parameters after a bare URI belong to the header). */
export function parseNameAddr(value: string, maxParams = MAX_PARAMS): NameAddr {
  const s = value.trim();
  const lt = findAngle(s);
  let displayName: string | undefined;
  let uri: string;
  let i: number;
  if (lt !== -1) {
    displayName = displayNameBefore(s, lt);
    const gt = s.indexOf('>', lt);
    if (gt === -1) throw new SipParseError('unterminated <URI>');
    uri = s.slice(lt + 1, gt);
    i = gt + 1;
  } else {
    i = 0;
    while (i < s.length && s[i] !== ';' && !isWsp(s.charCodeAt(i))) i++;
    uri = s.slice(0, i);
    if (uri.includes('?') || uri.includes(','))
      throw new SipParseError('URI with headers or comma must be in <>');
  }
  if (uri.length === 0 || uri.includes(' ')) throw new SipParseError('bad URI in name-addr');
  const { params, end } = scanParams(s, i, maxParams);
  if (end !== s.length) throw new SipParseError('unexpected text after name-addr');
  return { displayName, uri, params };
}

/** The display name before the `<` at `lt`: a quoted string or a run of tokens (RFC 3261 §25.1). */
function displayNameBefore(s: string, lt: number): string | undefined {
  if (s.startsWith('"')) {
    const end = endOfQuoted(s, 0);
    if (s.slice(end, lt).trim().length > 0) throw new SipParseError('text between display name and URI');
    return unquote(s.slice(0, end));
  }
  const text = s.slice(0, lt).trim();
  if (text.length === 0) return undefined;
  for (const word of text.split(/[ \t]+/)) {
    if (!isToken(word)) throw new SipParseError(`bad display name "${text}"`);
  }
  return text;
}

/** Position of the `<` opening the URI, skipping a leading quoted display name; -1 when addr-spec form. */
function findAngle(s: string): number {
  let i = 0;
  if (s.startsWith('"')) i = endOfQuoted(s, 0);
  const lt = s.indexOf('<', i);
  if (lt === -1) return -1;
  // In addr-spec form a ';' before any '<' means the '<' is inside a parameter value, which is illegal anyway.
  return lt;
}

/** Formats a name-addr, always with angle brackets so URI parameters cannot be mistaken for header ones. */
export function formatNameAddr(na: NameAddr): string {
  const display =
    na.displayName === undefined
      ? ''
      : isToken(na.displayName.replace(/ /g, ''))
        ? `${na.displayName} `
        : `"${na.displayName.replace(/(["\\])/g, '\\$1')}" `;
  return `${display}<${na.uri}>${formatParams(na.params)}`;
}

/** The tag parameter of a From or To value. */
export function tagOf(na: NameAddr): string | undefined {
  return na.params.get('tag') ?? undefined;
}

/** One Via entry (RFC 3261 §20.42, RFC 3581 rport). */
export interface Via {
  /** `SIP/2.0`. */
  readonly protocol: string;
  /** Upper-case transport: UDP, TCP, TLS, SCTP, WS, WSS. */
  readonly transport: string;
  /** sent-by host (IPv6 with brackets). */
  readonly host: string;
  readonly port: number | undefined;
  readonly params: Params;
}

/** Branch parameter, or undefined. */
export function viaBranch(via: Via): string | undefined {
  return via.params.get('branch') ?? undefined;
}

/** Parses every Via entry of one header line. */
export function parseViaLine(value: string, maxParams = MAX_PARAMS): Via[] {
  return splitList(value).map((entry) => parseViaEntry(entry, maxParams));
}

function parseViaEntry(s: string, maxParams: number): Via {
  const { protocol, transport, end: afterProtocol } = parseViaProtocol(s);
  let i = skipWs(s, afterProtocol);
  const hostStart = i;
  if (s[i] === '[') {
    const close = s.indexOf(']', i);
    if (close === -1) throw new SipParseError('bad Via host');
    i = close + 1;
  } else {
    while (i < s.length && s[i] !== ':' && s[i] !== ';' && !isWsp(s.charCodeAt(i))) i++;
  }
  const host = s.slice(hostStart, i).toLowerCase();
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/.test(host)) throw new SipParseError('bad Via host');
  const { port, end: afterPort } = parseViaPort(s, skipWs(s, i));
  const { params, end } = scanParams(s, afterPort, maxParams);
  if (end !== s.length) throw new SipParseError('bad Via parameters');
  return { protocol, transport, host, port, params };
}

/** An optional `:port` after the sent-by host. */
function parseViaPort(s: string, i: number): { port: number | undefined; end: number } {
  if (s[i] !== ':') return { port: undefined, end: i };
  i = skipWs(s, i + 1);
  const start = i;
  while (i < s.length && s[i] !== ';' && !isWsp(s.charCodeAt(i))) i++;
  const port = parseUint(s.slice(start, i), 5);
  if (port === undefined || port > 65535) throw new SipParseError('bad Via port');
  return { port, end: i };
}

/** The common spelling, matched without the general scan below. */
const VIA_PROTOCOL = /^SIP\/2\.0\/([A-Za-z]+)(?=[ \t])/;

/** `SIP / 2.0 / UDP` with optional whitespace around the slashes (§20.42, RFC 4475 §3.1.1.1). */
function parseViaProtocol(s: string): { protocol: string; transport: string; end: number } {
  const fast = VIA_PROTOCOL.exec(s);
  if (fast !== null)
    return { protocol: 'SIP/2.0', transport: (fast[1] ?? '').toUpperCase(), end: fast[0].length };
  return scanViaProtocol(s);
}

/** The general form, with whitespace allowed around the slashes. */
function scanViaProtocol(s: string): { protocol: string; transport: string; end: number } {
  const parts: string[] = [];
  let i = 0;
  for (let k = 0; k < 3; k++) {
    i = skipWs(s, i);
    const start = i;
    while (i < s.length && s[i] !== '/' && !isWsp(s.charCodeAt(i))) i++;
    const part = s.slice(start, i);
    if (!isToken(part)) throw new SipParseError('bad Via protocol');
    parts.push(part);
    i = skipWs(s, i);
    if (k < 2) {
      if (s[i] !== '/') throw new SipParseError('bad Via protocol');
      i++;
    }
  }
  const [name = '', version = '', transport = ''] = parts;
  return { protocol: `${name.toUpperCase()}/${version}`, transport: transport.toUpperCase(), end: i };
}

/** Formats a Via entry. */
export function formatVia(via: Via): string {
  return `${via.protocol}/${via.transport} ${via.host}${via.port === undefined ? '' : `:${via.port}`}${formatParams(via.params)}`;
}

/** Every Via of the message, top first. */
export function vias(msg: SipMessage): Via[] {
  const out: Via[] = [];
  for (const line of headerLines(msg, 'via')) out.push(...parseViaLine(line));
  return out;
}

/**
 * Parsed top Vias by header list: a request's top Via is read by validation, stamping, transaction matching
 * and response routing (four or five parses of one line per message before). Messages are never changed in
 * place (a changed message is a new object with a new header list), so an entry cannot go stale; it lives as
 * long as its message. The Via is shared: callers copy before changing it (stampVia copies its params).
 */
const TOP_VIAS = new WeakMap<SipMessage['headers'], Via>();

/** The topmost Via; throws when there is none. */
export function topVia(msg: SipMessage): Via {
  const known = TOP_VIAS.get(msg.headers);
  if (known !== undefined) return known;
  const line = header(msg, 'via');
  if (line === undefined) throw new SipParseError('missing Via header');
  const first = splitList(line)[0];
  if (first === undefined) throw new SipParseError('empty Via header');
  const via = parseViaEntry(first, MAX_PARAMS);
  TOP_VIAS.set(msg.headers, via);
  return via;
}

/** CSeq value (RFC 3261 §20.16). */
export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** Parses the CSeq header; the number must be below 2**31 (§8.1.1.5). */
export function cseq(msg: SipMessage): CSeq {
  const value = header(msg, 'cseq');
  if (value === undefined) throw new SipParseError('missing CSeq header');
  return parseCSeq(value);
}

/** Parses a CSeq value such as `314159 INVITE`. */
export function parseCSeq(value: string): CSeq {
  const m = /^(\d{1,10})[ \t]+(\S+)$/.exec(value.trim());
  const seq = m === null ? undefined : Number(m[1]);
  if (m === null || seq === undefined || seq >= 2 ** 31 || !isToken(m[2] ?? '')) {
    throw new SipParseError('bad CSeq header');
  }
  return { seq, method: m[2] ?? '' };
}

/** The Call-ID; throws when missing or empty. */
export function callId(msg: SipMessage): string {
  const value = header(msg, 'call-id');
  if (value === undefined || value.length === 0) throw new SipParseError('missing Call-ID header');
  if (/\s/.test(value)) throw new SipParseError('bad Call-ID header');
  return value;
}

/** The From header as a name-addr. */
export function fromHeader(msg: SipMessage): NameAddr {
  return requiredNameAddr(msg, 'from');
}

/** The To header as a name-addr. */
export function toHeader(msg: SipMessage): NameAddr {
  return requiredNameAddr(msg, 'to');
}

function requiredNameAddr(msg: SipMessage, name: string): NameAddr {
  const value = header(msg, name);
  if (value === undefined) throw new SipParseError(`missing ${name === 'from' ? 'From' : 'To'} header`);
  try {
    return parseNameAddr(value);
  } catch (err) {
    throw new SipParseError(
      `bad ${name === 'from' ? 'From' : 'To'} header: ${(err as SipParseError).reason}`,
    );
  }
}

/** Max-Forwards (0..255), or undefined when absent. */
export function maxForwards(msg: SipMessage): number | undefined {
  const value = header(msg, 'max-forwards');
  if (value === undefined) return undefined;
  const n = parseUint(value, 3);
  if (n === undefined || n > 255) throw new SipParseError('bad Max-Forwards header');
  return n;
}

/** Content-Length, or undefined when absent. */
export function contentLength(msg: SipMessage): number | undefined {
  const value = header(msg, 'content-length');
  if (value === undefined) return undefined;
  const n = parseUint(value, 10);
  if (n === undefined) throw new SipParseError('bad Content-Length header');
  return n;
}

/** Content-Type media type, lowercased and without parameters, or undefined. */
export function contentType(msg: SipMessage): string | undefined {
  const value = header(msg, 'content-type');
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  const type = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type))
    throw new SipParseError('bad Content-Type header');
  return type;
}

/** A Contact entry with its expires parameter parsed. */
export interface ContactEntry extends NameAddr {
  readonly expires: number | undefined;
}

/** Contact header values: `'*'` for the wildcard (RFC 3261 §10.2.2), else the entries in order. */
export function contacts(msg: SipMessage): '*' | ContactEntry[] {
  const out: ContactEntry[] = [];
  for (const line of headerLines(msg, 'contact')) {
    for (const entry of splitList(line)) {
      if (entry === '*') {
        if (out.length > 0 || headerLines(msg, 'contact').length > 1)
          throw new SipParseError('Contact * mixed with contacts');
        return '*';
      }
      const na = parseNameAddr(entry);
      const exp = na.params.get('expires');
      const expires = exp === undefined || exp === null ? undefined : parseUint(exp, 10);
      if (exp !== undefined && expires === undefined) throw new SipParseError('bad Contact expires');
      out.push({ ...na, expires });
    }
  }
  return out;
}

/** Route or Record-Route entries, in order. */
export function routeSet(msg: SipMessage, name: 'route' | 'record-route'): NameAddr[] {
  const out: NameAddr[] = [];
  for (const line of headerLines(msg, name))
    for (const entry of splitList(line)) out.push(parseNameAddr(entry));
  return out;
}

/** Option tags of Require, Supported, Proxy-Require or Unsupported, lowercased. */
export function optionTags(
  msg: SipMessage,
  name: 'require' | 'supported' | 'proxy-require' | 'unsupported',
): string[] {
  const out: string[] = [];
  for (const line of headerLines(msg, name)) {
    for (const entry of splitList(line)) {
      if (!isToken(entry)) throw new SipParseError(`bad option tag "${entry}"`);
      out.push(entry.toLowerCase());
    }
  }
  return out;
}

/** The Expires header (seconds), or undefined. */
export function expiresHeader(msg: SipMessage): number | undefined {
  const value = header(msg, 'expires');
  if (value === undefined) return undefined;
  const n = parseUint(value, 10);
  if (n === undefined) throw new SipParseError('bad Expires header');
  return n;
}

/** RSeq (RFC 3262 §7.1), or undefined. */
export function rseq(msg: SipMessage): number | undefined {
  const value = header(msg, 'rseq');
  if (value === undefined) return undefined;
  const n = parseUint(value, 10);
  if (n === undefined || n < 1 || n >= 2 ** 31) throw new SipParseError('bad RSeq header');
  return n;
}

/** RAck value (RFC 3262 §7.2). */
export interface RAck {
  readonly rseq: number;
  readonly cseq: number;
  readonly method: string;
}

/** RAck, or undefined. */
export function rack(msg: SipMessage): RAck | undefined {
  const value = header(msg, 'rack');
  if (value === undefined) return undefined;
  const m = /^(\d{1,10})[ \t]+(\d{1,10})[ \t]+(\S+)$/.exec(value.trim());
  if (m === null || !isToken(m[3] ?? '')) throw new SipParseError('bad RAck header');
  return { rseq: Number(m[1]), cseq: Number(m[2]), method: m[3] ?? '' };
}
