/**
 * The SIP message parser (RFC 3261 §7): start line, header fields with folding, body by Content-Length.
 * Header values are parsed lazily by the typed accessors in headers.ts, so a parse touches each byte of
 * the header section a small, fixed number of times.
 */
import { SipParseError } from './errors.js';
import { isToken, isWsp, parseUint } from './grammar.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { ParseLimits } from './limits.js';
import { headerKey } from './message.js';
import type { SipHeader, SipMessage, SipRequest, SipResponse } from './message.js';

/** A request the parser could frame but found structurally faulty: answer it with 400 and this reason. */
export interface RequestFault {
  readonly fault: string;
}

/** Parses one SIP message from a datagram or a framed stream message. Throws SipParseError when unparseable. */
export function parseMessage(data: Buffer, limits?: Partial<ParseLimits>): SipMessage {
  const lim = limits === undefined ? DEFAULT_LIMITS : { ...DEFAULT_LIMITS, ...limits };
  if (data.length > lim.maxMessageBytes) throw new SipParseError('message too large');
  let start = 0;
  // §7.5: CRLFs before the start line are ignored.
  while (start < data.length && (data[start] === 13 || data[start] === 10)) start++;
  const { headEnd, bodyStart } = findHeaderEnd(data, start);
  const head = data.toString('latin1', start, headEnd);
  let nl = head.indexOf('\n');
  if (nl === -1) nl = head.length;
  const startLine = stripCr(head.slice(0, nl));
  const section = readHeaders(head, nl + 1, lim);
  const body = bodyOf(data.subarray(bodyStart), section.contentLength);
  if (startLine.startsWith('SIP/') || startLine.startsWith('sip/')) {
    return parseResponse(startLine, section.headers, body);
  }
  return parseRequest(startLine, section.headers, body, section.faults);
}

interface HeaderSection {
  readonly headers: SipHeader[];
  readonly faults: string[];
  readonly contentLength: string | undefined;
}

/** Reads header lines from `pos`, unfolding continuation lines (§7.3.1) and enforcing the limits. */
function readHeaders(head: string, pos: number, lim: ParseLimits): HeaderSection {
  const headers: SipHeader[] = [];
  const faults: string[] = [];
  let contentLength: string | undefined;
  while (pos < head.length) {
    let nl = head.indexOf('\n', pos);
    if (nl === -1) nl = head.length;
    let line = stripCr(head.slice(pos, nl));
    pos = nl + 1;
    while (pos < head.length && isWsp(head.charCodeAt(pos))) {
      let next = head.indexOf('\n', pos);
      if (next === -1) next = head.length;
      line += ' ' + stripCr(head.slice(pos, next)).trim();
      pos = next + 1;
      if (line.length > lim.maxHeaderLineBytes) throw new SipParseError('header line too long');
    }
    if (line.length > lim.maxHeaderLineBytes) throw new SipParseError('header line too long');
    if (headers.length >= lim.maxHeaders) throw new SipParseError('too many headers');
    const h = parseHeaderLine(line);
    if (h === undefined) {
      faults.push(`malformed header line "${line.slice(0, 40)}"`);
      continue;
    }
    if (h.key === 'content-length' && contentLength === undefined) contentLength = h.value;
    headers.push(h);
  }
  return { headers, faults, contentLength };
}

/** §18.3: bytes beyond Content-Length are discarded; a larger Content-Length is caught by validation. */
function bodyOf(rest: Buffer, contentLength: string | undefined): Buffer {
  if (contentLength === undefined) return rest;
  const cl = parseUint(contentLength, 10);
  return cl !== undefined && cl <= rest.length ? rest.subarray(0, cl) : rest;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function findHeaderEnd(data: Buffer, start: number): { headEnd: number; bodyStart: number } {
  const crlf = data.indexOf('\n\r\n', start, 'latin1');
  const lf = data.indexOf('\n\n', start, 'latin1');
  if (crlf === -1 && lf === -1) throw new SipParseError('no end of header section');
  if (lf !== -1 && (crlf === -1 || lf < crlf)) return { headEnd: lf, bodyStart: lf + 2 };
  return { headEnd: crlf, bodyStart: crlf + 3 };
}

function parseHeaderLine(line: string): SipHeader | undefined {
  const colon = line.indexOf(':');
  if (colon <= 0) return undefined;
  let nameEnd = colon;
  while (nameEnd > 0 && isWsp(line.charCodeAt(nameEnd - 1))) nameEnd--;
  const name = line.slice(0, nameEnd);
  if (!isToken(name)) return undefined;
  return { key: headerKey(name), name, value: line.slice(colon + 1).trim() };
}

function parseRequest(line: string, headers: SipHeader[], body: Buffer, faults: string[]): SipRequest {
  const parts = line.split(' ');
  let method: string | undefined;
  let uri: string | undefined;
  let version: string | undefined;
  if (parts.length === 3) [method, uri, version] = parts;
  else {
    // Extra whitespace in the request line or inside the Request-URI (RFC 4475 §3.1.2.6, §3.1.2.7):
    // the message is still answerable, with 400.
    const loose = line.trim().split(/[ \t]+/);
    if (loose.length < 3) throw new SipParseError('bad request line');
    method = loose[0];
    version = loose[loose.length - 1];
    uri = loose.slice(1, -1).join(' ');
    faults.unshift(loose.length === 3 ? 'bad whitespace in request line' : 'whitespace in Request-URI');
  }
  if (method === undefined || uri === undefined || version === undefined)
    throw new SipParseError('bad request line');
  if (!isToken(method)) throw new SipParseError('bad method');
  if (!/^SIP\/\d{1,3}\.\d{1,3}$/i.test(version)) throw new SipParseError('bad SIP version in request line');
  if (uri.length === 0) throw new SipParseError('empty Request-URI');
  const req: SipRequest = { type: 'request', method, uri, version, headers, body };
  const fault = faults[0];
  if (fault === undefined) return req;
  const faulty: SipRequest & RequestFault = { ...req, fault };
  return faulty;
}

function parseResponse(line: string, headers: SipHeader[], body: Buffer): SipResponse {
  const sp = line.indexOf(' ');
  if (sp === -1) throw new SipParseError('bad status line');
  const version = line.slice(0, sp);
  if (!/^SIP\/\d{1,3}\.\d{1,3}$/i.test(version)) throw new SipParseError('bad SIP version in status line');
  const code = line.slice(sp + 1, sp + 4);
  const status = parseUint(code, 3);
  const after = line.charCodeAt(sp + 4);
  if (status === undefined || status < 100 || status > 699 || (line.length > sp + 4 && after !== 32)) {
    throw new SipParseError('bad status code');
  }
  return { type: 'response', version, status, reason: line.slice(sp + 5), headers, body };
}

/** The structural fault the parser recorded on a request, if any. */
export function requestFault(req: SipRequest): string | undefined {
  return (req as SipRequest & Partial<RequestFault>).fault;
}
