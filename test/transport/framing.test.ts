import { describe, expect, it } from 'vitest';
import { FramingError, StreamFramer, findContentLength } from '../../pbx/transport/framing.js';
import type { FrameEvent, FramerLimits } from '../../pbx/transport/framing.js';
import { sipRequest } from './helpers.js';

type Seen = { type: 'message'; text: string } | { type: 'ping' } | { type: 'error'; reason: string };

function seen(event: FrameEvent): Seen {
  switch (event.type) {
    case 'message':
      return { type: 'message', text: event.data.toString('latin1') };
    case 'ping':
      return { type: 'ping' };
    case 'error':
      return { type: 'error', reason: event.error.reason };
  }
}

/** Feeds the chunks one by one, draining after each, like the connection does. */
function frame(chunks: (Buffer | string)[], limits?: FramerLimits): Seen[] {
  const framer = new StreamFramer(limits);
  const out: Seen[] = [];
  for (const chunk of chunks) {
    framer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    for (let event = framer.next(); event !== undefined; event = framer.next()) out.push(seen(event));
  }
  return out;
}

const msg = (text: string): Seen => ({ type: 'message', text });
const ping: Seen = { type: 'ping' };
const error = (reason: string): Seen => ({ type: 'error', reason });

describe('StreamFramer', () => {
  const first = sipRequest('v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n');
  const second = sipRequest();
  const stream = Buffer.concat([first, second]);
  const expected = [msg(first.toString('latin1')), msg(second.toString('latin1'))];

  it('frames two messages split at every byte offset', () => {
    for (let at = 0; at <= stream.length; at++) {
      expect(frame([stream.subarray(0, at), stream.subarray(at)]), `split at ${at}`).toEqual(expected);
    }
  });

  it('frames two messages split at every pair of offsets', () => {
    for (let a = 0; a <= stream.length; a += 7) {
      for (let b = a; b <= stream.length; b += 3) {
        const chunks = [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)];
        expect(frame(chunks), `split at ${a},${b}`).toEqual(expected);
      }
    }
  });

  it('frames a stream fed one byte at a time', () => {
    const bytes = [...stream].map((b) => Buffer.of(b));
    expect(frame(bytes)).toEqual(expected);
  });

  it('hands out a chunk that is exactly one message without copying it', () => {
    const framer = new StreamFramer();
    framer.push(first);
    const event = framer.next();
    expect(event?.type === 'message' && event.data).toBe(first);
    expect(framer.next()).toBeUndefined();
    expect(framer.buffered).toBe(0);
  });

  it('reports a CRLFCRLF keep-alive between messages as a ping (RFC 5626 §3.5.1)', () => {
    expect(frame([first, '\r\n\r\n', second])).toEqual([expected[0], ping, expected[1]]);
    expect(frame(['\r\n', '\r\n'])).toEqual([ping]);
    expect(frame(['\r', '\n\r', '\n'])).toEqual([ping]);
    expect(frame(['\r\n\r\n\r\n\r\n'])).toEqual([ping, ping]);
  });

  it('skips a lone CRLF between messages (RFC 3261 §7.5)', () => {
    expect(frame([first, '\r\n', second])).toEqual(expected);
    expect(frame(['\r\n', first])).toEqual([expected[0]]);
    expect(frame(['\r\n\r', 'O'])).toEqual([]);
  });

  it('waits while a possible keep-alive is incomplete', () => {
    const framer = new StreamFramer();
    framer.push(Buffer.from('\r\n\r'));
    expect(framer.next()).toBeUndefined();
    expect(framer.buffered).toBe(3);
  });

  it('accepts the compact form, any case, and whitespace around the value', () => {
    for (const name of ['l', 'L', 'content-length', 'CONTENT-LENGTH', 'Content-Length ', 'l\t']) {
      const m = sipRequest('hello', name);
      expect(frame([m, second]), name).toEqual([msg(m.toString('latin1')), expected[1]]);
    }
    const spaced = 'SIP/2.0 200 OK\r\nContent-Length:   \t 2  \r\n\r\nhi';
    expect(frame([spaced])).toEqual([msg(spaced)]);
  });

  it('unfolds a folded Content-Length value (RFC 3261 §7.3.1)', () => {
    const folded = 'SIP/2.0 200 OK\r\nContent-Length:\r\n   3\r\nSubject: x\r\n\r\nabc';
    expect(frame([folded])).toEqual([msg(folded)]);
  });

  it('does not mistake look-alike headers for Content-Length', () => {
    const text =
      'SIP/2.0 200 OK\r\nLocation: 99\r\nContent-Length-X: 7\r\nContent-Lengt: 9\r\n l: 8\r\nl: 1\r\n\r\nx';
    expect(frame([text])).toEqual([msg(text)]);
  });

  it('reads the body split across many chunks', () => {
    const body = 'b'.repeat(3000);
    const m = sipRequest(body).toString('latin1');
    const chunks = [m.slice(0, 100), m.slice(100, 1000), m.slice(1000, 2500), m.slice(2500)];
    expect(frame(chunks)).toEqual([msg(m)]);
  });

  it('rejects a stream message without Content-Length (RFC 3261 §18.3)', () => {
    expect(frame(['OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n'])).toEqual([error('missingContentLength')]);
  });

  it.each([
    ['negative', '-1'],
    ['not a number', 'abc'],
    ['empty', ''],
    ['trailing garbage', '12 x'],
    ['signed', '+3'],
  ])('rejects a %s Content-Length', (_name, value) => {
    expect(frame([`SIP/2.0 200 OK\r\nContent-Length: ${value}\r\n\r\n`])).toEqual([
      error('invalidContentLength'),
    ]);
  });

  it('rejects conflicting Content-Length headers and accepts identical ones', () => {
    expect(frame(['SIP/2.0 200 OK\r\nl: 1\r\nContent-Length: 2\r\n\r\nab'])).toEqual([
      error('invalidContentLength'),
    ]);
    const same = 'SIP/2.0 200 OK\r\nl: 2\r\nContent-Length: 2\r\n\r\nab';
    expect(frame([same])).toEqual([msg(same)]);
  });

  it('rejects a Content-Length that takes the message over maxMessageBytes', () => {
    expect(frame([sipRequest('x'.repeat(200))], { maxMessageBytes: 200 })).toEqual([
      error('messageTooLarge'),
    ]);
    expect(frame(['SIP/2.0 200 OK\r\nl: 99999999999999999999\r\n\r\n'])).toEqual([error('messageTooLarge')]);
    const atLimit = sipRequest('x'.repeat(20));
    expect(frame([atLimit], { maxMessageBytes: atLimit.length })).toEqual([msg(atLimit.toString('latin1'))]);
  });

  it('rejects a header section over maxHeaderBytes, found or not', () => {
    const limits = { maxHeaderBytes: 64 };
    expect(frame(['OPTIONS sip:a SIP/2.0\r\nSubject: ' + 'y'.repeat(100)], limits)).toEqual([
      error('headerTooLarge'),
    ]);
    expect(frame([sipRequest()], limits)).toEqual([error('headerTooLarge')]);
  });

  it('detects an endless header fed byte by byte', () => {
    const bytes = Array.from({ length: 20_000 }, () => Buffer.from('a'));
    expect(frame(bytes)).toEqual([error('headerTooLarge')]);
  });

  it('stops after an error and ignores further input', () => {
    const framer = new StreamFramer();
    framer.push(Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n'));
    const event = framer.next();
    expect(event?.type).toBe('error');
    expect(event?.type === 'error' && event.error).toBeInstanceOf(FramingError);
    expect(event?.type === 'error' && event.error.code).toBe('PBX_ERR_TRANSPORT_FRAMING');
    framer.push(second);
    expect(framer.next()).toBeUndefined();
    expect(framer.buffered).toBe(0);
  });

  it('ignores empty chunks', () => {
    expect(frame([Buffer.alloc(0), first, Buffer.alloc(0)])).toEqual([expected[0]]);
  });

  it('keeps pipelined messages in order across buffer growth and compaction', () => {
    const many = Array.from({ length: 50 }, (_, i) => sipRequest('z'.repeat(i * 37)));
    const all = Buffer.concat(many);
    const chunks: Buffer[] = [];
    for (let at = 0; at < all.length; at += 1500) chunks.push(all.subarray(at, at + 1500));
    expect(frame(chunks)).toEqual(many.map((m) => msg(m.toString('latin1'))));
  });
});

describe('findContentLength', () => {
  const at = (text: string): ReturnType<typeof findContentLength> => {
    const buf = Buffer.from(text, 'latin1');
    return findContentLength(buf, 0, buf.length);
  };

  it('reads the value from the header lines only', () => {
    expect(at('SIP/2.0 200 OK\r\nContent-Length: 42\r\n')).toBe(42);
    expect(at('l: 7 SIP/2.0\r\nVia: x\r\n')).toBe('missing');
    expect(at('SIP/2.0 200 OK\r\nContent-Length: 4 2\r\n')).toBe('invalid');
  });
});
