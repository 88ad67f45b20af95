/**
 * Request and response validation after parsing (RFC 3261 §8.2, §18.3; RFC 4475): what a UAS must
 * refuse, with the status to answer and a reason phrase that says what was wrong.
 */
import { SipParseError } from './errors.js';
import { splitList } from './grammar.js';
import {
  callId,
  contacts,
  contentLength,
  contentType,
  cseq,
  expiresHeader,
  fromHeader,
  maxForwards,
  optionTags,
  rack,
  rseq,
  toHeader,
  topVia,
  vias,
} from './headers.js';
import { hdr, header, headerCount } from './message.js';
import type { SipHeader, SipMessage, SipRequest, SipResponse } from './message.js';
import { requestFault } from './parser.js';
import { isSipUri, parseUri } from './uri.js';
import type { Uri } from './uri.js';

/** Why a request must be refused: the status to send, its reason phrase and any headers it needs. */
export interface SipRejection {
  readonly status: number;
  readonly reason: string;
  /** E.g. Unsupported for 420, Accept for 415 (RFC 3261 §21.4.16, §21.4.13). */
  readonly headers?: readonly SipHeader[];
}

/** What this UAS supports, for the Require and body checks. */
export interface ValidateOptions {
  /** Option tags this element supports (RFC 3261 §8.2.2.3); default `['100rel']`. */
  readonly supported?: readonly string[];
}

/** Headers that may appear at most once (RFC 3261 §7.3, §20). */
const SINGLE = [
  'from',
  'to',
  'call-id',
  'cseq',
  'max-forwards',
  'content-length',
  'content-type',
  'expires',
] as const;

const SUPPORTED_SCHEMES = new Set(['sip', 'sips', 'tel']);

/** Methods defined by RFC 3261 and its extensions; an unknown one with a mismatched CSeq gets 501. */
const KNOWN_METHODS = new Set([
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'PRACK',
  'UPDATE',
  'INFO',
  'SUBSCRIBE',
  'NOTIFY',
  'REFER',
  'MESSAGE',
  'PUBLISH',
]);

/** Methods whose body is a session description offer or answer (RFC 3261 §13, RFC 3311, RFC 3262). */
const SDP_METHODS = new Set(['INVITE', 'UPDATE', 'PRACK', 'ACK']);

/** Checks a parsed request; null when it is acceptable, else the rejection to send. */
export function validateRequest(req: SipRequest, opts: ValidateOptions = {}): SipRejection | null {
  if (req.version.toUpperCase() !== 'SIP/2.0') return { status: 505, reason: 'Version Not Supported' };
  const fault = requestFault(req);
  if (fault !== undefined) return bad(fault);
  const common = checkCommon(req);
  if (common !== null) return bad(common);
  return checkHeaders(req) ?? checkRequestUri(req) ?? checkAsUas(req, opts.supported ?? ['100rel']);
}

/** Checks a parsed response; null when usable, else why it must be dropped (§18.1.2). */
export function validateResponse(res: SipResponse): { reason: string } | null {
  if (res.version.toUpperCase() !== 'SIP/2.0') return { reason: 'unsupported SIP version' };
  const common = checkCommon(res);
  if (common !== null) return { reason: common };
  try {
    cseq(res);
    rseq(res);
  } catch (err) {
    return { reason: reasonOf(err) };
  }
  return null;
}

function bad(reason: string): SipRejection {
  return { status: 400, reason: cap(reason) };
}

/** Mandatory headers, duplicates, Via, From/To, Call-ID and the body length. */
function checkCommon(msg: SipMessage): string | null {
  for (const name of ['via', 'from', 'to', 'call-id', 'cseq'] as const) {
    if (headerCount(msg, name) === 0) return `Missing ${display(name)} header`;
  }
  for (const name of SINGLE) {
    if (headerCount(msg, name) > 1) return `Duplicate ${display(name)} header`;
  }
  try {
    if (vias(msg).length === 0) return 'Missing Via header';
    fromHeader(msg);
    toHeader(msg);
    callId(msg);
    const cl = contentLength(msg);
    if (cl !== undefined && cl > msg.body.length) return 'Content-Length larger than the message body';
    if (msg.body.length > 0 && headerCount(msg, 'content-type') === 0) return 'Body without Content-Type';
    contentType(msg);
  } catch (err) {
    return cap(reasonOf(err));
  }
  return null;
}

/** CSeq, Max-Forwards, Contact, RAck, Expires, Date and the branch of a request. */
function checkHeaders(req: SipRequest): SipRejection | null {
  try {
    const cs = cseq(req);
    if (cs.method !== req.method) {
      // RFC 4475 §3.1.2.18: an unknown method with a mismatched CSeq is better answered 501.
      if (!KNOWN_METHODS.has(req.method)) return { status: 501, reason: 'Not Implemented' };
      return bad('CSeq method does not match request method');
    }
    maxForwards(req);
    if (req.method === 'REGISTER' || req.method === 'INVITE') contacts(req);
    if (req.method === 'PRACK') rack(req);
    expiresHeader(req);
  } catch (err) {
    return bad(reasonOf(err));
  }
  const date = header(req, 'date');
  if (date !== undefined && !RFC1123_GMT.test(date))
    return bad('Bad Date header: must be an RFC 1123 date in GMT');
  // RFC 4475 §3.2.1: a branch that is only the magic cookie identifies no transaction.
  if (topVia(req).params.get('branch') === 'z9hG4bK')
    return bad('Missing transaction identifier in Via branch');
  return null;
}

/** `Sat, 13 Nov 2010 23:29:00 GMT` (RFC 3261 §20.17: SIP-date is rfc1123-date, always GMT). */
const RFC1123_GMT =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** The Request-URI parses, has a scheme we serve and no headers (§19.1.1); a REGISTER's AOR is a SIP URI. */
function checkRequestUri(req: SipRequest): SipRejection | null {
  let uri: Uri;
  try {
    uri = parseUri(req.uri);
  } catch (err) {
    return bad(`Bad Request-URI: ${reasonOf(err)}`);
  }
  if (!SUPPORTED_SCHEMES.has(uri.scheme)) return { status: 416, reason: 'Unsupported URI Scheme' };
  if (isSipUri(uri) && uri.headers.length > 0) return bad('Headers are not allowed in the Request-URI');
  if (req.method === 'REGISTER') return checkRegisterUris(req);
  return null;
}

/** RFC 3261 §10.3 steps 3 and 8: the address-of-record and the contacts must be URIs we can use. */
function checkRegisterUris(req: SipRequest): SipRejection | null {
  const aor = schemeOf(toHeader(req).uri);
  if (aor !== 'sip' && aor !== 'sips') return { status: 416, reason: 'Unsupported URI Scheme in To' };
  const list = contacts(req);
  if (list !== '*' && list.some((c) => !SUPPORTED_SCHEMES.has(schemeOf(c.uri)))) {
    return { status: 416, reason: 'Unsupported URI Scheme in Contact' };
  }
  return null;
}

function schemeOf(uri: string): string {
  const colon = uri.indexOf(':');
  return colon === -1 ? '' : uri.slice(0, colon).toLowerCase();
}

/** UAS rules: Require (§8.2.2.3, never for ACK/CANCEL), body type (§8.2.3) and Accept for SDP methods. */
function checkAsUas(req: SipRequest, supported: readonly string[]): SipRejection | null {
  if (req.method === 'ACK' || req.method === 'CANCEL') return null;
  let unsupported: string[];
  try {
    unsupported = optionTags(req, 'require').filter((tag) => !supported.includes(tag));
  } catch (err) {
    return bad(reasonOf(err));
  }
  if (unsupported.length > 0) {
    return { status: 420, reason: 'Bad Extension', headers: [hdr('Unsupported', unsupported.join(', '))] };
  }
  return SDP_METHODS.has(req.method) ? checkSdpBody(req) : null;
}

/** An offer/answer method carries SDP (or multipart) and, for INVITE, accepts SDP back (§8.2.3, §21.4.7). */
function checkSdpBody(req: SipRequest): SipRejection | null {
  const type = contentType(req) ?? '';
  if (req.body.length > 0 && type !== 'application/sdp' && !type.startsWith('multipart/')) {
    return { status: 415, reason: 'Unsupported Media Type', headers: [hdr('Accept', 'application/sdp')] };
  }
  const accept = header(req, 'accept');
  if (req.method === 'INVITE' && accept !== undefined && !acceptsSdp(accept)) {
    return { status: 406, reason: 'Not Acceptable', headers: [hdr('Accept', 'application/sdp')] };
  }
  return null;
}

/** True when an Accept header admits application/sdp (RFC 3261 §20.1). An empty Accept admits nothing. */
function acceptsSdp(accept: string): boolean {
  return splitList(accept).some((range) => {
    const type = (range.split(';')[0] ?? '').trim().toLowerCase();
    return type === 'application/sdp' || type === 'application/*' || type === '*/*';
  });
}

function reasonOf(err: unknown): string {
  if (err instanceof SipParseError) return err.reason;
  throw err;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const DISPLAY: Readonly<Record<string, string>> = {
  via: 'Via',
  from: 'From',
  to: 'To',
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'max-forwards': 'Max-Forwards',
  'content-length': 'Content-Length',
  'content-type': 'Content-Type',
  expires: 'Expires',
};

function display(key: string): string {
  return DISPLAY[key] ?? key;
}
