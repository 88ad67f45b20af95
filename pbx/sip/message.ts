/**
 * The SIP message model (RFC 3261 §7). Messages are immutable values: builders return new ones.
 *
 * Header names and values are *byte strings*: the wire bytes decoded as latin1, so that any message
 * serializes back to exactly the bytes it came from. Use `utf8Text()` to show a value to a person.
 */

/** One header field line; `key` is the canonical lowercase long name used for lookups. */
export interface SipHeader {
  /** Canonical lowercase long form (`v` -> `via`, `Call-Id` -> `call-id`). */
  readonly key: string;
  /** The name as it is written on the wire (as received, or the canonical spelling when built). */
  readonly name: string;
  /** The value with surrounding whitespace removed and line folding replaced by one space. */
  readonly value: string;
}

/** A SIP request (RFC 3261 §7.1). */
export interface SipRequest {
  readonly type: 'request';
  readonly method: string;
  /** The Request-URI as written. */
  readonly uri: string;
  readonly version: string;
  readonly headers: readonly SipHeader[];
  readonly body: Buffer;
}

/** A SIP response (RFC 3261 §7.2). */
export interface SipResponse {
  readonly type: 'response';
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly SipHeader[];
  readonly body: Buffer;
}

/** Either kind of SIP message. */
export type SipMessage = SipRequest | SipResponse;

/** Compact header forms (RFC 3261 §7.3.3, RFC 3515, RFC 3841, RFC 4028). */
const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  x: 'session-expires',
  y: 'identity',
  b: 'referred-by',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
};

/** Canonical spellings for headers this pbx writes (everything else is written Title-Case). */
const SPELLING: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  rseq: 'RSeq',
  rack: 'RAck',
  'mime-version': 'MIME-Version',
};

/** The canonical lowercase long form of a header name (`i` -> `call-id`, `VIA` -> `via`). */
export function headerKey(name: string): string {
  const known = KEY_CACHE.get(name);
  if (known !== undefined) return known;
  const lower = name.toLowerCase();
  const key = COMPACT[lower] ?? lower;
  // Memoise the spellings seen; bounded so hostile header names cannot grow it without limit.
  if (KEY_CACHE.size < 2048) KEY_CACHE.set(name, key);
  return key;
}

const KEY_CACHE = new Map<string, string>();

/** The spelling this pbx writes for a header key (`call-id` -> `Call-ID`, `max-forwards` -> `Max-Forwards`). */
export function headerSpelling(key: string): string {
  const known = SPELLING[key] ?? SPELLING_CACHE.get(key);
  if (known !== undefined) return known;
  const spelled = key.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
  // Memoised like headerKey, and bounded the same way.
  if (SPELLING_CACHE.size < 2048) SPELLING_CACHE.set(key, spelled);
  return spelled;
}

const SPELLING_CACHE = new Map<string, string>();

/** Builds a header field from a name (any case or compact form) and a value. */
export function hdr(name: string, value: string | number): SipHeader {
  const key = headerKey(name);
  return { key, name: headerSpelling(key), value: String(value) };
}

/** The first value of a header, or undefined. Matching is case-insensitive and understands compact forms. */
export function header(msg: SipMessage, name: string): string | undefined {
  const key = headerKey(name);
  for (const h of msg.headers) if (h.key === key) return h.value;
  return undefined;
}

/** Every header line with this name, in order (a comma list on one line stays one entry). */
export function headerLines(msg: SipMessage, name: string): string[] {
  const key = headerKey(name);
  const out: string[] = [];
  for (const h of msg.headers) if (h.key === key) out.push(h.value);
  return out;
}

/** Number of header lines with this name. */
export function headerCount(msg: SipMessage, name: string): number {
  const key = headerKey(name);
  let n = 0;
  for (const h of msg.headers) if (h.key === key) n++;
  return n;
}

/** Returns a copy of the message with every `name` header removed. */
export function withoutHeader<M extends SipMessage>(msg: M, name: string): M {
  const key = headerKey(name);
  return { ...msg, headers: msg.headers.filter((h) => h.key !== key) };
}

/** Returns a copy with every `name` header replaced by one line `value` (appended if absent, in place if present). */
export function withHeader<M extends SipMessage>(msg: M, name: string, value: string | number): M {
  const h = hdr(name, value);
  const out: SipHeader[] = [];
  let placed = false;
  for (const cur of msg.headers) {
    if (cur.key !== h.key) out.push(cur);
    else if (!placed) {
      out.push(h);
      placed = true;
    }
  }
  if (!placed) out.push(h);
  return { ...msg, headers: out };
}

/** Returns a copy with `headers` inserted before the first existing header of the same key (or appended). */
export function prependHeader<M extends SipMessage>(msg: M, name: string, value: string): M {
  const h = hdr(name, value);
  const idx = msg.headers.findIndex((cur) => cur.key === h.key);
  const out = [...msg.headers];
  out.splice(idx === -1 ? out.length : idx, 0, h);
  return { ...msg, headers: out };
}

/** Returns a copy with a new body; Content-Length is set to match (Content-Type given or kept). */
export function withBody<M extends SipMessage>(msg: M, body: Buffer, contentType?: string): M {
  let out = withHeader({ ...msg, body }, 'Content-Length', body.length);
  if (contentType !== undefined) out = withHeader(out, 'Content-Type', contentType);
  else if (body.length === 0) out = withoutHeader(out, 'Content-Type');
  return out;
}

/** Decodes a byte string (latin1-decoded wire bytes) as UTF-8 text for display, logs and events. */
export function utf8Text(value: string): string {
  return Buffer.from(value, 'latin1').toString('utf8');
}

/** Encodes UTF-8 text into a byte string suitable for a header value. */
export function byteString(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}
