import { PbxError } from '../core/errors.js';

/** Largest SIP message accepted by default: the UDP payload ceiling, so both transports agree (RFC 3261 §18.1.1). */
export const DEFAULT_MAX_MESSAGE_BYTES = 65_535;

/** Largest header section accepted by default; bounds the scan for CRLFCRLF before any body is known. */
export const DEFAULT_MAX_HEADER_BYTES = 16_384;

/** Why a byte stream could not be split into SIP messages (RFC 3261 §18.3); each one closes the connection. */
export type FramingErrorReason =
  'headerTooLarge' | 'messageTooLarge' | 'missingContentLength' | 'invalidContentLength';

/** A framing failure: after it the stream has no trustworthy message boundary, so the connection must go. */
export class FramingError extends PbxError {
  /** Which rule the stream broke. */
  readonly reason: FramingErrorReason;

  constructor(reason: FramingErrorReason, message: string) {
    super('PBX_ERR_TRANSPORT_FRAMING', message);
    this.name = 'FramingError';
    this.reason = reason;
  }
}

/** One result of framing: a whole message, an RFC 5626 §3.5.1 CRLFCRLF ping, or a terminal error. */
export type FrameEvent =
  | { readonly type: 'message'; readonly data: Buffer }
  | { readonly type: 'ping' }
  | { readonly type: 'error'; readonly error: FramingError };

/** Size limits for a framer; defaults are DEFAULT_MAX_MESSAGE_BYTES and DEFAULT_MAX_HEADER_BYTES. */
export interface FramerLimits {
  /** Header section plus body, in bytes. */
  readonly maxMessageBytes?: number;
  /** Header section including the final CRLFCRLF, in bytes. */
  readonly maxHeaderBytes?: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');
const COMPACT_L = 0x6c; // 'l', compact form of Content-Length (RFC 3261 §7.3.3, §20.14)
const CL_CAP = 0x1_0000_0000; // clamp absurd lengths; anything this big is over every limit anyway
const EMPTY = Buffer.alloc(0);
const MIN_CAPACITY = 4096;
const PING: FrameEvent = Object.freeze({ type: 'ping' });

/** Result of looking for Content-Length in a header section: its value, or why there is none. */
type ContentLength = number | 'missing' | 'invalid';

/**
 * Splits a SIP byte stream into messages by CRLFCRLF and Content-Length (RFC 3261 §18.3).
 * Feed chunks with `push`, then drain events with `next` until it returns undefined.
 * Work is bounded: the CRLFCRLF search resumes where it stopped, and bytes are copied at most once
 * into the internal buffer and once out (a chunk holding exactly one message is handed out as is).
 */
export class StreamFramer {
  readonly #maxMessage: number;
  readonly #maxHeader: number;
  #store: Buffer = EMPTY;
  #owned = false;
  #start = 0;
  #end = 0;
  #scan = 0;
  #total = -1;
  #failed = false;

  constructor(limits: FramerLimits = {}) {
    this.#maxMessage = limits.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#maxHeader = Math.min(limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES, this.#maxMessage);
  }

  /** Bytes received and not yet returned as a message or ping. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Appends a chunk; the framer keeps a reference to it, so callers must not reuse its memory. */
  push(chunk: Buffer): void {
    if (this.#failed || chunk.length === 0) return;
    if (this.#start === this.#end) {
      this.#store = chunk;
      this.#owned = false;
      this.#start = 0;
      this.#end = chunk.length;
      this.#scan = 0;
      return;
    }
    this.#reserve(chunk.length);
    chunk.copy(this.#store, this.#end);
    this.#end += chunk.length;
  }

  /** Returns the next complete event, or undefined when more bytes are needed (or after an error). */
  next(): FrameEvent | undefined {
    while (!this.#failed) {
      if (this.#total < 0) {
        const keepAlive = this.#keepAlive();
        if (keepAlive === 'ping') return PING;
        if (keepAlive === 'wait') return undefined;
        if (keepAlive === 'skipped') continue;
        const error = this.#findHeader();
        if (error !== undefined) return this.#fail(error);
        if (this.#total < 0) return undefined;
      }
      if (this.#end - this.#start < this.#total) return undefined;
      return { type: 'message', data: this.#take() };
    }
    return undefined;
  }

  /** Makes room for `extra` more bytes in an owned buffer, compacting or growing it. */
  #reserve(extra: number): void {
    const pending = this.#end - this.#start;
    if (this.#owned && this.#end + extra <= this.#store.length) return;
    if (this.#owned && pending + extra <= this.#store.length) {
      this.#store.copyWithin(0, this.#start, this.#end);
    } else {
      const grown = Buffer.allocUnsafe(Math.max(MIN_CAPACITY, (pending + extra) * 2));
      this.#store.copy(grown, 0, this.#start, this.#end);
      this.#store = grown;
      this.#owned = true;
    }
    this.#scan -= this.#start;
    this.#end = pending;
    this.#start = 0;
  }

  /** RFC 5626 §3.5.1: CRLFCRLF between messages is a ping; RFC 3261 §7.5: a lone CRLF is skipped. */
  #keepAlive(): 'ping' | 'skipped' | 'wait' | 'none' {
    const s = this.#store;
    const i = this.#start;
    const avail = this.#end - i;
    if (avail === 0) return 'wait';
    if (s[i] !== CR) return 'none';
    if (avail < 2) return 'wait';
    if (s[i + 1] !== LF) return 'none';
    if (avail < 3) return 'wait';
    if (s[i + 2] === CR && avail < 4) return 'wait';
    if (s[i + 2] === CR && s[i + 3] === LF) {
      this.#consume(4);
      return 'ping';
    }
    this.#consume(2);
    return 'skipped';
  }

  /** Looks for the end of the header section from where the last search stopped; sets #total when found. */
  #findHeader(): FramingError | undefined {
    const view = this.#end === this.#store.length ? this.#store : this.#store.subarray(0, this.#end);
    const at = view.indexOf(CRLFCRLF, Math.max(this.#scan, this.#start));
    if (at < 0) {
      if (this.#end - this.#start > this.#maxHeader) return headerTooLarge(this.#maxHeader);
      this.#scan = Math.max(this.#start, this.#end - 3);
      return undefined;
    }
    const headerBytes = at + 4 - this.#start;
    if (headerBytes > this.#maxHeader) return headerTooLarge(this.#maxHeader);
    const length = findContentLength(this.#store, this.#start, at + 2);
    if (length === 'missing') {
      return new FramingError(
        'missingContentLength',
        'Content-Length is mandatory on streams (RFC 3261 §18.3)',
      );
    }
    if (length === 'invalid')
      return new FramingError('invalidContentLength', 'Content-Length is not a number');
    if (headerBytes + length > this.#maxMessage) {
      return new FramingError('messageTooLarge', `message exceeds ${this.#maxMessage} bytes`);
    }
    this.#total = headerBytes + length;
    return undefined;
  }

  /** Hands out the framed message: the chunk itself when it is exactly one message, else a copy. */
  #take(): Buffer {
    const total = this.#total;
    const store = this.#store;
    let data: Buffer;
    if (!this.#owned && this.#start === 0 && total === store.length) {
      data = store;
    } else {
      data = Buffer.allocUnsafe(total);
      store.copy(data, 0, this.#start, this.#start + total);
    }
    this.#total = -1;
    this.#consume(total);
    return data;
  }

  #consume(bytes: number): void {
    this.#start += bytes;
    if (this.#start === this.#end) {
      this.#store = EMPTY; // an idle connection holds no buffer
      this.#owned = false;
      this.#start = this.#end = 0;
    }
    this.#scan = this.#start;
  }

  #fail(error: FramingError): FrameEvent {
    this.#failed = true;
    this.#store = EMPTY;
    this.#start = this.#end = this.#scan = 0;
    return { type: 'error', error };
  }
}

function headerTooLarge(limit: number): FramingError {
  return new FramingError('headerTooLarge', `header section exceeds ${limit} bytes`);
}

/**
 * Finds Content-Length (or compact `l`) in the header lines of buf[from, to), where `to` is just past the
 * CRLF of the last header line. Folded values are unfolded (RFC 3261 §7.3.1); conflicting duplicates are
 * invalid, since two framings of one stream would let a message smuggle another.
 */
export function findContentLength(buf: Buffer, from: number, to: number): ContentLength {
  let result = -1;
  let line = nextLine(buf, from, to); // the start line never carries a header
  while (line < to) {
    const first = buf[line];
    if (first !== SP && first !== HT) {
      const valueAt = matchName(buf, line, to);
      if (valueAt >= 0) {
        const value = readLength(buf, valueAt, to);
        if (value < 0 || (result >= 0 && value !== result)) return 'invalid';
        result = value;
      }
    }
    line = nextLine(buf, line, to);
  }
  return result < 0 ? 'missing' : result;
}

function nextLine(buf: Buffer, at: number, to: number): number {
  const lf = buf.indexOf(LF, at);
  return lf < 0 || lf >= to ? to : lf + 1;
}

function lower(byte: number | undefined): number {
  return byte !== undefined && byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : (byte ?? -1);
}

/** Returns the index after the colon when the line's header name is Content-Length or `l`, else -1. */
function matchName(buf: Buffer, at: number, to: number): number {
  let i = at;
  if (lower(buf[i]) === COMPACT_L && (buf[i + 1] === COLON || buf[i + 1] === SP || buf[i + 1] === HT)) {
    i += 1;
  } else {
    if (to - at < CONTENT_LENGTH.length) return -1;
    for (let k = 0; k < CONTENT_LENGTH.length; k++) if (lower(buf[i + k]) !== CONTENT_LENGTH[k]) return -1;
    i += CONTENT_LENGTH.length;
  }
  while (buf[i] === SP || buf[i] === HT) i++;
  return buf[i] === COLON ? i + 1 : -1;
}

/** Skips SP, HT and folding CRLFs (a CRLF followed by SP/HT); stops at a line's real end. */
function skipLws(buf: Buffer, at: number, to: number): number {
  let i = at;
  for (;;) {
    const c = buf[i];
    if (c === SP || c === HT) i++;
    else if (c === CR && buf[i + 1] === LF && i + 2 < to && (buf[i + 2] === SP || buf[i + 2] === HT)) i += 3;
    else return i;
  }
}

/** Reads `*DIGIT` surrounded by LWS up to the end of the line; -1 when anything else is there. */
function readLength(buf: Buffer, at: number, to: number): number {
  let i = skipLws(buf, at, to);
  const digitsAt = i;
  let value = 0;
  for (let c = buf[i]; c !== undefined && c >= DIGIT_0 && c <= DIGIT_9; c = buf[++i]) {
    value = Math.min(value * 10 + (c - DIGIT_0), CL_CAP);
  }
  if (i === digitsAt) return -1;
  i = skipLws(buf, i, to);
  return buf[i] === CR && i < to ? value : -1;
}
