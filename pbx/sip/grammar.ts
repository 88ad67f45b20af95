/**
 * Low-level RFC 3261 §25 scanning helpers shared by the header and URI parsers. Every loop advances
 * at least one character per step, so work is linear in the input.
 */
import { SipParseError } from './errors.js';
import { MAX_LIST_ENTRIES } from './limits.js';

/** Ordered parameters; names lowercase, values raw (quotes kept) or null for a bare flag. */
export type Params = ReadonlyMap<string, string | null>;

const TOKEN_CHARS = new Uint8Array(128);
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~") {
  TOKEN_CHARS[ch.charCodeAt(0)] = 1;
}

/** True when `s` is a non-empty RFC 3261 `token`. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] !== 1) return false;
  }
  return true;
}

/** True for SP and HTAB. */
export function isWsp(c: number): boolean {
  return c === 32 || c === 9;
}

/** Index of the first non-whitespace character at or after `i`. */
export function skipWs(s: string, i: number): number {
  while (i < s.length && isWsp(s.charCodeAt(i))) i++;
  return i;
}

/** Index just past the closing quote of the quoted-string that opens at `i`; throws if unterminated. */
export function endOfQuoted(s: string, i: number): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 92 /* \ */) j += 2;
    else if (c === 34 /* " */) return j + 1;
    else j++;
  }
  throw new SipParseError('unterminated quoted string');
}

/** The content of a quoted-string with its quoted-pairs resolved (`"a\"b"` -> `a"b`). */
export function unquote(quoted: string): string {
  if (quoted.length < 2 || !quoted.startsWith('"')) return quoted;
  return quoted.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Splits a header value at commas that are outside quoted strings and angle brackets (RFC 3261 §7.3.1). */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  let angle = false;
  while (i < value.length) {
    const c = value.charCodeAt(i);
    if (c === 34 && !angle) {
      i = endOfQuoted(value, i);
      continue;
    }
    if (c === 60) angle = true;
    else if (c === 62) angle = false;
    else if (c === 44 && !angle) {
      pushEntry(out, value.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  pushEntry(out, value.slice(start));
  return out;
}

function pushEntry(out: string[], entry: string): void {
  const trimmed = entry.trim();
  if (trimmed.length === 0) return;
  if (out.length >= MAX_LIST_ENTRIES) throw new SipParseError('too many list entries');
  out.push(trimmed);
}

/** Result of scanning a parameter list. */
export interface ParamScan {
  readonly params: Map<string, string | null>;
  /** Index of the first character not consumed. */
  readonly end: number;
}

/**
 * Scans `;name[=value]` parameters starting at `i` (which must point at `;` or the end). Values may be
 * tokens, quoted strings or IPv6 references; a parameter ends at `;`, whitespace or the end.
 */
export function scanParams(s: string, i: number, maxParams: number): ParamScan {
  const params = new Map<string, string | null>();
  i = skipWs(s, i);
  while (i < s.length && s.charCodeAt(i) === 59 /* ; */) {
    if (params.size >= maxParams) throw new SipParseError('too many parameters');
    i = skipWs(s, i + 1);
    const nameStart = i;
    while (i < s.length && !isParamEnd(s.charCodeAt(i)) && s.charCodeAt(i) !== 61 /* = */) i++;
    const name = s.slice(nameStart, i);
    if (!isToken(name)) throw new SipParseError(`bad parameter name "${name}"`);
    i = skipWs(s, i);
    let value: string | null = null;
    if (s.charCodeAt(i) === 61) {
      const valueStart = skipWs(s, i + 1);
      i = endOfParamValue(s, valueStart);
      value = s.slice(valueStart, i);
      if (value.length === 0) throw new SipParseError(`empty value for parameter "${name}"`);
      i = skipWs(s, i);
    }
    params.set(name.toLowerCase(), value);
  }
  return { params, end: i };
}

function isParamEnd(c: number): boolean {
  return c === 59 || c === 32 || c === 9;
}

/** End of a parameter value: a quoted string, an IPv6 reference or a run up to `;` or whitespace. */
function endOfParamValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 34 /* " */) return endOfQuoted(s, i);
  if (c === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close === -1) throw new SipParseError('unterminated IPv6 reference in parameter');
    return close + 1;
  }
  while (i < s.length && !isParamEnd(s.charCodeAt(i))) i++;
  return i;
}

/** Formats parameters back to `;a=b;c` form. */
export function formatParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/** Parses an unsigned decimal integer of at most `maxDigits` digits, or returns undefined. */
export function parseUint(s: string, maxDigits = 10): number | undefined {
  // 1*DIGIT allows leading zeros (RFC 4475 §3.1.1.1 "0068"); they do not count towards maxDigits.
  let first = 0;
  while (first < s.length - 1 && s.charCodeAt(first) === 48 && first < 32) first++;
  if (s.length === 0 || s.length - first > maxDigits) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(s);
}
