/** Keys that match messages to transactions (RFC 3261 §17.1.3, §17.2.3, §9.2). */
import {
  BRANCH_COOKIE,
  callId,
  cseq,
  formatVia,
  fromHeader,
  tagOf,
  toHeader,
  topVia,
  viaBranch,
} from '../sip/index.js';
import type { SipMessage, SipRequest, SipResponse, Via } from '../sip/index.js';

/** True when a branch carries the RFC 3261 magic cookie, i.e. it is unique per transaction (§8.1.1.7). */
export function hasCookie(branch: string | undefined): branch is string {
  return branch !== undefined && branch.startsWith(BRANCH_COOKIE);
}

/** §17.1.3: a client transaction is identified by its top Via branch and its method. */
export function clientKey(branch: string, method: string): string {
  return `${branch}|${method}`;
}

/** §17.1.3: the client key a response matches (top Via branch + CSeq method), or undefined when malformed. */
export function responseKey(res: SipResponse): string | undefined {
  try {
    const branch = viaBranch(topVia(res));
    return branch === undefined ? undefined : clientKey(branch, cseq(res).method);
  } catch {
    return undefined;
  }
}

/** §17.2.3: an ACK matches the INVITE transaction it acknowledges; every other method matches itself. */
export function matchMethod(req: SipRequest): string {
  return req.method === 'ACK' ? 'INVITE' : req.method;
}

/** How a request finds its server transaction: the RFC 3261 key, or the RFC 2543 key plus a To tag check. */
export interface ServerMatch {
  readonly key: string;
  /** True when the top Via branch lacks the magic cookie (RFC 2543 peers, §17.2.3). */
  readonly legacy: boolean;
}

/** The sent-by of a Via: host and port as written (§17.2.3 compares them, not the transport). */
function sentBy(via: Via): string {
  return via.port === undefined ? via.host : `${via.host}:${via.port}`;
}

/**
 * §17.2.3 match key for a request with `method` as the transaction method (`matchMethod(req)`, or
 * INVITE when looking up the transaction a CANCEL cancels, §9.2). With the magic cookie: branch +
 * sent-by + method. Without: Request-URI, From tag, Call-ID, CSeq and top Via (the To tag is checked
 * apart by `legacyToTagMatches`, because for an ACK it is the tag of the response, not the request).
 */
export function serverMatch(req: SipRequest, method: string): ServerMatch {
  const via = topVia(req);
  const branch = viaBranch(via);
  if (hasCookie(branch)) return { key: [branch, sentBy(via), method].join('|'), legacy: false };
  const fields = [req.uri, tagOf(fromHeader(req)) ?? '', callId(req), cseq(req).seq, method, formatVia(via)];
  return { key: fields.join('|'), legacy: true };
}

/** The To tag of a message, or undefined (also when the To header cannot be read). */
function toTag(msg: SipMessage): string | undefined {
  try {
    return tagOf(toHeader(msg));
  } catch {
    return undefined;
  }
}

/**
 * RFC 2543 matching (§17.2.3): a request's To tag equals the one of the request that created the
 * transaction; an ACK's To tag equals the one of the response the transaction sent.
 */
export function legacyToTagMatches(
  req: SipRequest,
  original: SipRequest,
  lastResponse: SipResponse | undefined,
): boolean {
  const reference = req.method === 'ACK' && lastResponse !== undefined ? lastResponse : original;
  return toTag(req) === toTag(reference);
}
