/**
 * Property tests (fast-check): random line mutations of corpus SDPs — lines dropped, duplicated, swapped, truncated,
 * bytes flipped, junk inserted, line endings changed — never make describeSdp or rewriteSdp throw anything but an
 * SdpError, and whatever rewriteSdp returns describes again.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SdpError, describeSdp, rewriteSdp } from '../../pbx/media/sdp/index.js';

const DIR = new URL('../../testdata/sdp/', import.meta.url);
const CORPUS = readdirSync(DIR)
  .filter((f) => f.endsWith('.sdp'))
  .map((f) => readFileSync(new URL(f, DIR)).toString('latin1'));

const JUNK = [
  'm=audio',
  'm=audio x RTP/AVP 0',
  'm=video 0 RTP/AVP',
  'c=IN IP4',
  'c=IN IP7 1.2.3.4',
  'c=IN IP4 0.0.0.0',
  'c=IN IP6 ::',
  'o=- 1 2 IN IP4',
  'a=rtcp:',
  'a=rtcp:99999',
  'a=rtcp:1 IN IP4',
  'a=rtpmap:x',
  'a=rtpmap:96 /0/0',
  'a=rtpmap:0 PCMU/abc',
  'a=candidate:1',
  'a=sendonly',
  '=',
  '',
  '\r',
  'v=0',
];

type Mutation =
  | { kind: 'drop' | 'duplicate' | 'truncate'; at: number; n: number }
  | { kind: 'swap'; at: number; n: number }
  | { kind: 'insert'; at: number; junk: string }
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'eol'; eol: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('drop', 'duplicate', 'truncate', 'swap'), at: fc.nat(), n: fc.nat() }),
  fc.record({
    kind: fc.constant('insert'),
    at: fc.nat(),
    junk: fc.oneof(fc.constantFrom(...JUNK), fc.string()),
  }),
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('eol'), eol: fc.constantFrom('\n', '\r\n', '\r', '') }),
);

function mutate(text: string, m: Mutation): string {
  const lines = text.split('\n');
  const at = 'at' in m ? m.at % Math.max(lines.length, 1) : 0;
  const line = lines[at] ?? '';
  switch (m.kind) {
    case 'drop':
      lines.splice(at, 1);
      break;
    case 'duplicate':
      lines.splice(at, 0, line);
      break;
    case 'truncate':
      lines[at] = line.slice(0, m.n % (line.length + 1));
      break;
    case 'swap': {
      const other = m.n % Math.max(lines.length, 1);
      lines[at] = lines[other] ?? '';
      lines[other] = line;
      break;
    }
    case 'insert':
      lines.splice(at, 0, m.junk);
      break;
    case 'flip':
      return (
        text.slice(0, m.at % (text.length + 1)) +
        String.fromCharCode(m.byte) +
        text.slice((m.at % (text.length + 1)) + 1)
      );
    case 'eol':
      return lines.join(m.eol);
  }
  return lines.join('\n');
}

function onlySdpErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof SdpError)) throw err;
  }
}

describe('SDP property', () => {
  it('mutated corpus SDPs only ever raise SdpError, and rewritten output describes again', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CORPUS),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        fc.constantFrom('203.0.113.7', '2001:db8::7'),
        (text, mutations, address) => {
          const body = Buffer.from(mutations.reduce(mutate, text), 'latin1');
          onlySdpErrors(() => describeSdp(body));
          onlySdpErrors(() => {
            const d = describeSdp(body);
            const out = rewriteSdp(body, {
              address,
              mediaPorts: d.media.map((_, i) =>
                i % 3 === 2 ? null : { rtpPort: 40000 + 4 * i, rtcpPort: 40001 + 4 * i },
              ),
              session: { version: 1 },
            });
            expect(describeSdp(out).media).toHaveLength(d.media.length);
          });
        },
      ),
      { numRuns: 3000, interruptAfterTimeLimit: 20_000 },
    );
  });

  it('random bytes only ever raise SdpError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const body = Buffer.concat([Buffer.from('v=0\r\n'), Buffer.from(bytes)]);
        onlySdpErrors(() =>
          rewriteSdp(body, { address: '203.0.113.7', mediaPorts: [], session: { version: 1 } }),
        );
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 10_000 },
    );
  });
});
