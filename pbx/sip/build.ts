/** Builders for messages created by code: well-formed by construction (RFC 3261 §8.1.1, §8.2.6). */
import { formatParams } from './grammar.js';
import type { Params } from './grammar.js';
import { formatVia, parseNameAddr, topVia } from './headers.js';
import type { Via } from './headers.js';
import { hdr, header, headerLines } from './message.js';
import type { SipHeader, SipRequest, SipResponse } from './message.js';

const REASONS: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  421: 'Extension Required',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

/** The standard reason phrase of a status code (RFC 3261 §21). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 200 ? 'Progress' : status < 300 ? 'OK' : 'Error');
}

/** Keeps a reason phrase to printable ASCII and a sane length, so peer input never breaks a status line. */
function cleanReason(reason: string): string {
  return reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}

/** Options for a response built from a request. */
export interface ResponseOptions {
  /** To tag to add when the request's To has none (ignored for 100, §8.2.6.2). */
  readonly toTag?: string;
  /** Extra headers, appended after the copied ones. */
  readonly headers?: readonly SipHeader[];
  readonly body?: Buffer;
  readonly contentType?: string;
}

/**
 * A response to `req` (RFC 3261 §8.2.6): Via (all, in order), From, To (+tag), Call-ID, CSeq copied;
 * Timestamp copied into 100 Trying (§8.2.6.1).
 */
export function createResponse(
  req: SipRequest,
  status: number,
  reason?: string,
  opts: ResponseOptions = {},
): SipResponse {
  const headers: SipHeader[] = [];
  for (const v of headerLines(req, 'via')) headers.push(hdr('Via', v));
  copyHeader(req, headers, 'From');
  const to = header(req, 'to');
  if (to !== undefined) {
    const tagged = status > 100 && opts.toTag !== undefined && !hasTag(to) ? `${to};tag=${opts.toTag}` : to;
    headers.push(hdr('To', tagged));
  }
  copyHeader(req, headers, 'Call-ID');
  copyHeader(req, headers, 'CSeq');
  if (status === 100) copyHeader(req, headers, 'Timestamp');
  if (opts.headers !== undefined) headers.push(...opts.headers);
  const body = appendBody(headers, opts.body, opts.contentType);
  return {
    type: 'response',
    version: 'SIP/2.0',
    status,
    reason: cleanReason(reason ?? reasonPhrase(status)),
    headers,
    body,
  };
}

/** Appends Content-Type (when there is a body) and Content-Length; returns the body. */
function appendBody(headers: SipHeader[], body: Buffer | undefined, contentType: string | undefined): Buffer {
  const b = body ?? Buffer.alloc(0);
  if (b.length > 0 && contentType !== undefined) headers.push(hdr('Content-Type', contentType));
  headers.push(hdr('Content-Length', b.length));
  return b;
}

function copyHeader(req: SipRequest, into: SipHeader[], name: string): void {
  const value = header(req, name);
  if (value !== undefined) into.push(hdr(name, value));
}

function hasTag(nameAddr: string): boolean {
  try {
    return parseNameAddr(nameAddr).params.has('tag');
  } catch {
    return /;\s*tag\s*=/i.test(nameAddr);
  }
}

/** Fields of a request built by code. */
export interface RequestSpec {
  readonly method: string;
  readonly uri: string;
  /** Headers in order; Content-Length is added (and Content-Type when a body and type are given). */
  readonly headers: readonly SipHeader[];
  readonly body?: Buffer;
  readonly contentType?: string;
}

/** A request with a correct Content-Length. */
export function createRequest(spec: RequestSpec): SipRequest {
  const body = spec.body ?? Buffer.alloc(0);
  const headers = spec.headers.filter(
    (h) => h.key !== 'content-length' && (spec.contentType === undefined || h.key !== 'content-type'),
  );
  if (body.length > 0 && spec.contentType !== undefined) headers.push(hdr('Content-Type', spec.contentType));
  headers.push(hdr('Content-Length', body.length));
  return { type: 'request', method: spec.method, uri: spec.uri, version: 'SIP/2.0', headers, body };
}

/** Where a request came from, as the transport saw it. */
export interface MessageSource {
  readonly transport: 'udp' | 'tcp';
  readonly address: string;
  readonly port: number;
  readonly connectionId?: number;
}

/**
 * Stamps the top Via of a received request with where it really came from: `received` when sent-by
 * differs from the source address (RFC 3261 §18.2.1) and `rport` with the source port when the client
 * asked for it (RFC 3581 §4, which also requires `received` then). Values a client wrote into either
 * parameter are overwritten, so nobody can aim our responses at a third party. IPv6 `received` values
 * carry no brackets (RFC 5118 §4.5). Returns the request unchanged when nothing needs changing.
 */
export function stampVia(req: SipRequest, source: MessageSource): SipRequest {
  const via = topVia(req);
  const params = new Map(via.params);
  const bare = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
  const wantsRport = params.has('rport');
  if (bare !== source.address || wantsRport || params.has('received')) params.set('received', source.address);
  if (wantsRport) params.set('rport', String(source.port));
  if (
    params.get('received') === via.params.get('received') &&
    params.get('rport') === via.params.get('rport')
  ) {
    return req;
  }
  const stamped = formatVia({ ...via, params });
  const idx = req.headers.findIndex((h) => h.key === 'via');
  const first = req.headers[idx];
  if (first === undefined) return req;
  const rest = splitRest(first.value);
  const headers = [...req.headers];
  headers[idx] = hdr('Via', rest === undefined ? stamped : `${stamped}, ${rest}`);
  return { ...req, headers };
}

/** The part of a Via line after its first entry, or undefined. */
function splitRest(line: string): string | undefined {
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') inQuote = !inQuote;
    else if (c === ',' && !inQuote) return line.slice(i + 1).trim();
  }
  return undefined;
}

/** Where a response goes (RFC 3261 §18.2.2 and RFC 3581 §4). */
export interface ResponseDestination {
  readonly transport: 'udp' | 'tcp';
  readonly address: string;
  readonly port: number;
  /** For a reliable transport: reuse the connection the request came on, when it is still open. */
  readonly connectionId?: number;
}

/**
 * The destination of a response from its top Via (already stamped by `stampVia`) and the request's
 * source (RFC 3261 §18.2.2, RFC 3581 §4). A reliable transport answers on the request's connection.
 * `maddr` is deliberately ignored: honouring it would let any sender direct our responses to a
 * multicast group or a third party.
 */
export function responseDestination(via: Via, source: MessageSource): ResponseDestination {
  if (source.transport === 'tcp') {
    const dest = { transport: 'tcp' as const, address: source.address, port: source.port };
    return source.connectionId === undefined ? dest : { ...dest, connectionId: source.connectionId };
  }
  const host = via.params.get('received') ?? via.host;
  const address = host.startsWith('[') ? host.slice(1, -1) : host;
  const rport = via.params.get('rport');
  const port = rport !== undefined && rport !== null ? Number(rport) : (via.port ?? 5060);
  return { transport: 'udp', address, port };
}

/** Formats a Via header value for this element (branch must start with the RFC 3261 magic cookie). */
export function viaValue(
  transport: 'udp' | 'tcp',
  host: string,
  port: number,
  branch: string,
  extra?: Params,
): string {
  const params = new Map<string, string | null>([['branch', branch]]);
  params.set('rport', null);
  if (extra !== undefined) for (const [k, v] of extra) params.set(k, v);
  return `SIP/2.0/${transport.toUpperCase()} ${host}:${port}${formatParams(params)}`;
}

/** RFC 3261 §8.1.1.7 magic cookie that marks a branch as globally unique. */
export const BRANCH_COOKIE = 'z9hG4bK';

/** Largest request sent over UDP when the path MTU is unknown (RFC 3261 §18.1.1). */
export const UDP_REQUEST_LIMIT = 1300;

/** How a request should travel, and whether UDP is the fallback when a TCP connection cannot be made. */
export interface RequestTransportChoice {
  readonly transport: 'udp' | 'tcp';
  /** True when TCP was chosen only for size: RFC 3261 §18.1.1 lets the sender retry over UDP. */
  readonly udpFallback: boolean;
}

/**
 * RFC 3261 §18.1.1: a request larger than 1300 bytes goes over a congestion-controlled transport
 * (TCP) when the target allows it — i.e. its URI does not pin `transport=udp` and we listen on TCP.
 * A target that asks for TCP always gets TCP. The caller rewrites the top Via to the chosen transport.
 */
export function requestTransport(
  size: number,
  target: { readonly transport: 'udp' | 'tcp'; readonly pinned: boolean },
  tcpAvailable: boolean,
): RequestTransportChoice {
  if (target.transport === 'tcp') return { transport: 'tcp', udpFallback: false };
  if (size > UDP_REQUEST_LIMIT && tcpAvailable && !target.pinned)
    return { transport: 'tcp', udpFallback: true };
  return { transport: 'udp', udpFallback: false };
}
