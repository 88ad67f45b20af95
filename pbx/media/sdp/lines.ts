import { SdpError } from './errors.js';

/** Largest SDP body accepted; real offers are a few KiB, WebRTC ones with many candidates < 20 KiB. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Most lines accepted in one body (bounded work for describe and rewrite). */
export const MAX_LINES = 1000;

/** One line of an SDP body as received: its text and its own line ending (RFC 8866 §5 wants CRLF, LF is common). */
export interface SdpLine {
  readonly text: string;
  readonly eol: '' | '\n' | '\r\n';
}

/** A whitespace-separated field of a line, with its position so a rewrite can keep every separator byte. */
export interface Token {
  readonly start: number;
  readonly end: number;
  readonly value: string;
}

/**
 * Splits a body into lines. Decoding is latin1 so that every byte maps to one char and back: bytes that are not
 * UTF-8 (or are) survive a rewrite unchanged.
 */
export function splitLines(body: Buffer): SdpLine[] {
  if (body.length > MAX_BODY_BYTES) {
    throw new SdpError(`body of ${body.length} bytes exceeds ${MAX_BODY_BYTES}`);
  }
  const s = body.toString('latin1');
  const lines: SdpLine[] = [];
  let start = 0;
  while (start < s.length) {
    if (lines.length >= MAX_LINES) throw new SdpError(`more than ${MAX_LINES} lines`);
    const nl = s.indexOf('\n', start);
    if (nl === -1) {
      lines.push({ text: s.slice(start), eol: '' });
      break;
    }
    const crlf = nl > start && s.charCodeAt(nl - 1) === 13;
    lines.push({ text: s.slice(start, crlf ? nl - 1 : nl), eol: crlf ? '\r\n' : '\n' });
    start = nl + 1;
  }
  return lines;
}

/** Joins lines back into a body, each with its own ending. */
export function joinLines(lines: readonly SdpLine[]): Buffer {
  let s = '';
  for (const line of lines) s += line.text + line.eol;
  return Buffer.from(s, 'latin1');
}

/** The `<type>` letter of a `<type>=<value>` line, or undefined for blank or malformed lines. */
export function lineType(text: string): string | undefined {
  return text.length >= 2 && text[1] === '=' ? text[0] : undefined;
}

/** Splits `text` from offset `from` into fields separated by runs of spaces or tabs. */
export function tokenize(text: string, from = 2): Token[] {
  const tokens: Token[] = [];
  let i = from;
  while (i < text.length) {
    while (i < text.length && isBlank(text.charCodeAt(i))) i++;
    const start = i;
    while (i < text.length && !isBlank(text.charCodeAt(i))) i++;
    if (i > start) tokens.push({ start, end: i, value: text.slice(start, i) });
  }
  return tokens;
}

/** Replaces the tokens at the given indexes, keeping every other byte of the line (separators, trailing blanks). */
export function replaceTokens(
  text: string,
  tokens: readonly Token[],
  replace: ReadonlyMap<number, string>,
): string {
  let out = '';
  let pos = 0;
  tokens.forEach((token, index) => {
    const value = replace.get(index);
    if (value === undefined) return;
    out += text.slice(pos, token.start) + value;
    pos = token.end;
  });
  return out + text.slice(pos);
}

/** `a=<name>[:<value>]` split into name and value (RFC 8866 §5.13); undefined value for property attributes. */
export function splitAttribute(text: string): { name: string; value: string | undefined } {
  const body = text.slice(2).trimEnd();
  const colon = body.indexOf(':');
  return colon === -1
    ? { name: body, value: undefined }
    : { name: body.slice(0, colon), value: body.slice(colon + 1) };
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}
