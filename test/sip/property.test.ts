/**
 * Property tests (fast-check): parse∘serialize round-trips, and no input — random bytes or mutations of
 * valid messages — makes the parser, the validators or the typed accessors throw anything but a
 * SipParseError. 120,000 generated inputs in all.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SipParseError,
  callId,
  contacts,
  cseq,
  fromHeader,
  maxForwards,
  parseMessage,
  parseUri,
  routeSet,
  serialize,
  stampVia,
  toHeader,
  topVia,
  validateRequest,
  validateResponse,
  vias,
} from '../../pbx/sip/index.js';
import type { SipMessage } from '../../pbx/sip/index.js';
import { INVITE_WITH_SDP } from './fixtures.js';

type Generated<A> = A extends fc.Arbitrary<infer T> ? T : never;

const TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~";
const token = fc.string({ unit: fc.constantFrom(...TOKEN), minLength: 1, maxLength: 12 });
/** Header values: printable latin1 without leading/trailing whitespace (the parser trims those). */
const value = fc
  .string({
    unit: fc.integer({ min: 0x21, max: 0xff }).map((c) => String.fromCharCode(c === 0x7f ? 0x41 : c)),
    maxLength: 40,
  })
  .chain((s) => fc.constantFrom(s, `${s} ${s}`))
  .map((s) => s.trim());

const message = fc.record({
  request: fc.boolean(),
  method: token,
  status: fc.integer({ min: 100, max: 699 }),
  reason: fc.string({ unit: fc.constantFrom(...'abc XYZ'), maxLength: 20 }),
  user: token,
  headers: fc.array(fc.tuple(token, value), { maxLength: 20 }),
  body: fc.uint8Array({ maxLength: 200 }),
});

function build(m: Generated<typeof message>): Buffer {
  const start = m.request
    ? `${m.method} sip:${m.user}@example.com SIP/2.0`
    : `SIP/2.0 ${m.status} ${m.reason}`;
  const lines = [start, ...m.headers.map(([n, v]) => `${n}: ${v}`)];
  if (m.headers.every(([n]) => !['content-length', 'l'].includes(n.toLowerCase())))
    lines.push(`Content-Length: ${m.body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), Buffer.from(m.body)]);
}

/** Runs everything a receiving pbx would run on a message; only SipParseError may escape. */
function exercise(data: Uint8Array): 'unparseable' | 'rejected' | 'valid' {
  let msg: SipMessage;
  try {
    msg = parseMessage(Buffer.from(data));
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    return 'unparseable';
  }
  const rejection = msg.type === 'request' ? validateRequest(msg) : validateResponse(msg);
  if (rejection === null) {
    // A valid message: every mandatory accessor works.
    topVia(msg);
    cseq(msg);
    callId(msg);
    fromHeader(msg);
    toHeader(msg);
    if (msg.type === 'request') {
      parseUri(msg.uri);
      stampVia(msg, { transport: 'udp', address: '192.0.2.9', port: 5999 });
    }
  }
  for (const access of [
    () => vias(msg),
    () => contacts(msg),
    () => maxForwards(msg),
    () => routeSet(msg, 'route'),
  ]) {
    try {
      access();
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
    }
  }
  serialize(msg);
  return rejection === null ? 'valid' : 'rejected';
}

const seeds = [Buffer.from(INVITE_WITH_SDP), Buffer.from(INVITE_WITH_SDP.replaceAll('\r\n', '\n'))];

const mutation = fc.record({
  seed: fc.integer({ min: 0, max: seeds.length - 1 }),
  edits: fc.array(
    fc.record({
      kind: fc.constantFrom('flip', 'insert', 'delete', 'dupLine', 'truncate', 'special'),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
      special: fc.constantFrom(
        ':',
        ';',
        ',',
        '"',
        '<',
        '>',
        '\r\n',
        '\r\n ',
        '\\',
        '=',
        '[',
        ']',
        '@',
        ' ',
        '\0',
        '%',
      ),
    }),
    { minLength: 1, maxLength: 6 },
  ),
});

function mutate(m: Generated<typeof mutation>): Buffer {
  let buf = Buffer.from(seeds[m.seed] ?? Buffer.alloc(0));
  for (const e of m.edits) {
    const at = buf.length === 0 ? 0 : e.at % buf.length;
    switch (e.kind) {
      case 'flip':
        buf[at] = e.byte;
        break;
      case 'insert':
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from([e.byte]), buf.subarray(at)]);
        break;
      case 'delete':
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)]);
        break;
      case 'truncate':
        buf = buf.subarray(0, at);
        break;
      case 'special':
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from(e.special, 'latin1'), buf.subarray(at)]);
        break;
      case 'dupLine': {
        const lineStart = buf.lastIndexOf(10, at) + 1;
        const lineEnd = buf.indexOf(10, at);
        if (lineEnd !== -1)
          buf = Buffer.concat([
            buf.subarray(0, lineEnd + 1),
            buf.subarray(lineStart, lineEnd + 1),
            buf.subarray(lineEnd + 1),
          ]);
        break;
      }
    }
  }
  return buf;
}

describe('SIP parser properties', () => {
  it('parse∘serialize round-trips generated messages (20,000 runs)', () => {
    fc.assert(
      fc.property(message, (m) => {
        const wire = build(m);
        const parsed = parseMessage(wire);
        const again = serialize(parsed);
        expect(again.equals(wire)).toBe(true);
        const reparsed = parseMessage(again);
        expect(reparsed.headers).toEqual(parsed.headers);
        expect(reparsed.body.equals(parsed.body)).toBe(true);
      }),
      { numRuns: 20_000, seed: 4475 },
    );
  });

  it('arbitrary bytes never throw anything but SipParseError (50,000 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (data) => {
        exercise(data);
      }),
      { numRuns: 50_000, seed: 3261 },
    );
  });

  it('mutations of valid messages never throw anything but SipParseError (50,000 runs)', () => {
    const seen = { unparseable: 0, rejected: 0, valid: 0 };
    fc.assert(
      fc.property(mutation, (m) => {
        seen[exercise(mutate(m))]++;
      }),
      { numRuns: 50_000, seed: 5118 },
    );
    // The mutations must reach every stage, or the property proves little.
    expect(seen.unparseable).toBeGreaterThan(1000);
    expect(seen.rejected).toBeGreaterThan(1000);
    expect(seen.valid).toBeGreaterThan(1000);
  });
});
