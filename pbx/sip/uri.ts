/** SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966, RFC 5118 IPv6 forms); other schemes kept opaque. */
import { SipParseError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import { formatParams, parseUint, scanParams } from './grammar.js';
import type { Params } from './grammar.js';

/** A `sip:` or `sips:` URI. */
export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  /** User part as written (may carry %-escapes). */
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Host name, IPv4 address or IPv6 reference with brackets (`[::1]`), lowercased. */
  readonly host: string;
  readonly port: number | undefined;
  readonly params: Params;
  /** URI headers after `?`, raw `name=value` pairs. */
  readonly headers: readonly string[];
}

/** A `tel:` URI (RFC 3966). */
export interface TelUri {
  readonly scheme: 'tel';
  readonly number: string;
  readonly params: Params;
}

/** Any other absolute URI, kept as written. */
export interface OtherUri {
  readonly scheme: string;
  readonly raw: string;
}

/** A parsed URI. */
export type Uri = SipUri | TelUri | OtherUri;

/** True for the sip/sips form. */
export function isSipUri(uri: Uri): uri is SipUri {
  return uri.scheme === 'sip' || uri.scheme === 'sips';
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
/** One DNS label: alphanumerics with inner hyphens (linear: no nested quantifiers). */
const HOST_LABEL = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const IPV6 = /^\[[0-9a-fA-F:.]+\]$/;
const USER_CHARS = /^([a-zA-Z0-9\-_.!~*'()&=+$,;?/]|%[0-9a-fA-F]{2})+$/;
const PASSWORD_CHARS = /^([a-zA-Z0-9\-_.!~*'()&=+$,]|%[0-9a-fA-F]{2})*$/;

/** Parses a URI; throws SipParseError with the fault. Work is linear in the input length. */
export function parseUri(raw: string, maxParams = DEFAULT_LIMITS.maxUriParams): Uri {
  const m = SCHEME.exec(raw);
  if (m === null) throw new SipParseError('URI has no scheme');
  const scheme = (m[1] ?? '').toLowerCase();
  const rest = raw.slice(m[0].length);
  if (scheme === 'sip' || scheme === 'sips') return parseSip(scheme, rest, maxParams);
  if (scheme === 'tel') return parseTel(rest, maxParams);
  if (rest.length === 0 || /[\s<>"]/.test(rest)) throw new SipParseError('bad URI');
  return { scheme, raw };
}

function parseSip(scheme: 'sip' | 'sips', rest: string, maxParams: number): SipUri {
  // A literal '@' can only end the userinfo: parameters and headers must escape it (§25.1), while the
  // user part may hold '?', ';' and ':' (RFC 4475 §3.1.1.2).
  const at = rest.indexOf('@');
  const userinfo = at === -1 ? undefined : parseUserinfo(rest.slice(0, at));
  const afterUser = rest.slice(at + 1);
  const q = afterUser.indexOf('?');
  const hostport = q === -1 ? afterUser : afterUser.slice(0, q);
  const headers = q === -1 ? [] : afterUser.slice(q + 1).split('&');
  if (headers.length > maxParams) throw new SipParseError('too many URI headers');
  const { host, port, end: i } = parseHostPort(hostport);
  const { params, end } = scanParams(hostport, i, maxParams);
  if (end !== hostport.length) throw new SipParseError('bad URI parameters');
  return { scheme, user: userinfo?.user, password: userinfo?.password, host, port, params, headers };
}

function parseUserinfo(userinfo: string): { user: string; password: string | undefined } {
  const colon = userinfo.indexOf(':');
  const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
  const password = colon === -1 ? undefined : userinfo.slice(colon + 1);
  if (!USER_CHARS.test(user)) throw new SipParseError('bad URI user part');
  if (password !== undefined && !PASSWORD_CHARS.test(password)) throw new SipParseError('bad URI password');
  return { user, password };
}

/** host[:port] at the start of `s`; `end` is where parameters begin. */
function parseHostPort(s: string): { host: string; port: number | undefined; end: number } {
  let i = 0;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1) throw new SipParseError('unterminated IPv6 reference');
    i = close + 1;
  } else {
    while (i < s.length && s[i] !== ':' && s[i] !== ';') i++;
  }
  const host = s.slice(0, i);
  if (!(IPV6.test(host) || isHostname(host))) throw new SipParseError(`bad URI host "${host}"`);
  if (s[i] !== ':') return { host: host.toLowerCase(), port: undefined, end: i };
  let end = s.indexOf(';', i);
  if (end === -1) end = s.length;
  const port = parseUint(s.slice(i + 1, end), 5);
  if (port === undefined || port > 65535) throw new SipParseError('bad URI port');
  return { host: host.toLowerCase(), port, end };
}

/** RFC 3261 `hostname` / IPv4: dot-separated labels of alphanumerics and inner hyphens; linear scan. */
function isHostname(host: string): boolean {
  if (host.length === 0 || host.length > 255) return false;
  const labels = host.endsWith('.') ? host.slice(0, -1).split('.') : host.split('.');
  return labels.every((label) => HOST_LABEL.test(label));
}

function parseTel(rest: string, maxParams: number): TelUri {
  const semi = rest.indexOf(';');
  const number = semi === -1 ? rest : rest.slice(0, semi);
  if (!/^\+?[0-9A-Fa-f*#().\-p w]+$/.test(number)) throw new SipParseError('bad tel URI number');
  const { params, end } = scanParams(rest, semi === -1 ? rest.length : semi, maxParams);
  if (end !== rest.length) throw new SipParseError('bad tel URI parameters');
  return { scheme: 'tel', number, params };
}

/** Formats a URI back to text (a parsed URI formats to an equivalent of its input). */
export function formatUri(uri: Uri): string {
  if (isSipUri(uri)) {
    let s = `${uri.scheme}:`;
    if (uri.user !== undefined) {
      s += uri.user;
      if (uri.password !== undefined) s += `:${uri.password}`;
      s += '@';
    }
    s += uri.host;
    if (uri.port !== undefined) s += `:${uri.port}`;
    s += formatParams(uri.params);
    if (uri.headers.length > 0) s += `?${uri.headers.join('&')}`;
    return s;
  }
  if (uri.scheme === 'tel' && 'number' in uri) return `tel:${uri.number}${formatParams(uri.params)}`;
  return 'raw' in uri ? uri.raw : `${uri.scheme}:`;
}

/** The host of a SIP URI without IPv6 brackets (what a socket API wants). */
export function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The host as written in a URI or Via: IPv6 addresses get brackets (RFC 5118 §4). */
export function uriHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

/** Decodes %-escapes of a URI user part (`%41lice` -> `Alice`); malformed escapes are kept as written. */
export function unescapeUser(user: string): string {
  return user.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
