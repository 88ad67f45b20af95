/**
 * Request and response validation after parsing (RFC 3261 §8.2, §16.3, §18.3): what a UAS must refuse,
 * with the status to answer and a reason phrase that says what was wrong.
 */
import { SipParseError } from './errors.js';
import {
  callId,
  contacts,
  contentLength,
  contentType,
  cseq,
  expiresHeader,
  fromHeader,
  maxForwards,
  rack,
  rseq,
  toHeader,
  vias,
} from './headers.js';
import { headerCount } from './message.js';
import type { SipMessage, SipRequest, SipResponse } from './message.js';
import { requestFault } from './parser.js';
import { parseUri } from './uri.js';

/** Why a request must be refused: the status to send and its reason phrase. */
export interface SipRejection {
  readonly status: number;
  readonly reason: string;
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

/** Checks a parsed request; null when it is acceptable, else the rejection to send. */
export function validateRequest(req: SipRequest): SipRejection | null {
  if (req.version.toUpperCase() !== 'SIP/2.0') return { status: 505, reason: 'Version Not Supported' };
  const fault = requestFault(req);
  if (fault !== undefined) return { status: 400, reason: cap(fault) };
  const common = checkCommon(req);
  if (common !== null) return { status: 400, reason: common };
  try {
    const cs = cseq(req);
    if (cs.method !== req.method) return { status: 400, reason: 'CSeq method does not match request method' };
    maxForwards(req);
    if (req.method === 'REGISTER' || req.method === 'INVITE') contacts(req);
    if (req.method === 'PRACK') rack(req);
    expiresHeader(req);
  } catch (err) {
    return { status: 400, reason: cap(reasonOf(err)) };
  }
  let scheme: string;
  try {
    scheme = parseUri(req.uri).scheme;
  } catch (err) {
    return { status: 400, reason: `Bad Request-URI: ${reasonOf(err)}` };
  }
  if (!SUPPORTED_SCHEMES.has(scheme)) return { status: 416, reason: 'Unsupported URI Scheme' };
  return null;
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
