/**
 * Minimal bencode (BitTorrent BEP 3) for rtpengine's ng control protocol: integers, byte strings (decoded
 * as UTF-8 strings, which is what SDP and ng keys are), lists and dictionaries with sorted keys.
 */

/** A bencodable value. */
export type BValue = number | string | Buffer | BValue[] | { [key: string]: BValue };

/** Thrown on malformed input; `offset` is where decoding stopped. */
export class BencodeError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`bencode: ${message} at offset ${offset}`);
    this.name = 'BencodeError';
  }
}

/** Encodes a value; dictionary keys are written in sorted (raw byte) order as BEP 3 requires. */
export function bencode(value: BValue): Buffer {
  const parts: Buffer[] = [];
  encodeInto(value, parts);
  return Buffer.concat(parts);
}

function encodeInto(value: BValue, parts: Buffer[]): void {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`bencode: ${value} is not an integer`);
    parts.push(Buffer.from(`i${value}e`));
  } else if (typeof value === 'string' || Buffer.isBuffer(value)) {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    parts.push(Buffer.from(`${bytes.length}:`), bytes);
  } else if (Array.isArray(value)) {
    parts.push(Buffer.from('l'));
    for (const item of value) encodeInto(item, parts);
    parts.push(Buffer.from('e'));
  } else {
    parts.push(Buffer.from('d'));
    for (const key of Object.keys(value).sort()) {
      const item = value[key];
      if (item === undefined) continue;
      encodeInto(key, parts);
      encodeInto(item, parts);
    }
    parts.push(Buffer.from('e'));
  }
}

/** Decodes exactly one value spanning the whole input; strings come back as UTF-8 strings. */
export function bdecode(input: Buffer): BValue {
  const state = { pos: 0 };
  const value = decodeAt(input, state, 0);
  if (state.pos !== input.length) throw new BencodeError('trailing bytes', state.pos);
  return value;
}

const MAX_DEPTH = 64;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

function decodeAt(input: Buffer, state: { pos: number }, depth: number): BValue {
  if (depth > MAX_DEPTH) throw new BencodeError('nesting too deep', state.pos);
  const c = input[state.pos];
  if (c === undefined) throw new BencodeError('unexpected end', state.pos);
  if (c === 0x69 /* i */) return decodeInt(input, state);
  if (c === 0x6c /* l */) {
    state.pos++;
    const list: BValue[] = [];
    while (input[state.pos] !== 0x65 /* e */) list.push(decodeAt(input, state, depth + 1));
    state.pos++;
    return list;
  }
  if (c === 0x64 /* d */) {
    state.pos++;
    const dict: { [key: string]: BValue } = {};
    while (input[state.pos] !== 0x65 /* e */) {
      const key = decodeString(input, state);
      dict[key] = decodeAt(input, state, depth + 1);
    }
    state.pos++;
    return dict;
  }
  if (c >= DIGIT_0 && c <= DIGIT_9) return decodeString(input, state);
  throw new BencodeError(`unexpected byte 0x${c.toString(16)}`, state.pos);
}

function decodeInt(input: Buffer, state: { pos: number }): number {
  const end = input.indexOf(0x65, state.pos);
  if (end < 0) throw new BencodeError('unterminated integer', state.pos);
  const text = input.toString('latin1', state.pos + 1, end);
  if (!/^(0|-?[1-9][0-9]*)$/.test(text)) throw new BencodeError(`bad integer "${text}"`, state.pos);
  state.pos = end + 1;
  return Number(text);
}

function decodeString(input: Buffer, state: { pos: number }): string {
  const colon = input.indexOf(0x3a, state.pos);
  if (colon < 0) throw new BencodeError('missing string length', state.pos);
  const lengthText = input.toString('latin1', state.pos, colon);
  if (!/^(0|[1-9][0-9]*)$/.test(lengthText)) throw new BencodeError(`bad length "${lengthText}"`, state.pos);
  const start = colon + 1;
  const end = start + Number(lengthText);
  if (end > input.length) throw new BencodeError('string past end of input', state.pos);
  state.pos = end;
  return input.toString('utf8', start, end);
}
