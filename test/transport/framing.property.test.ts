import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamFramer } from '../../pbx/transport/framing.js';

type Unit = { kind: 'message'; bytes: Buffer } | { kind: 'ping' };

const headerName = fc.constantFrom('Content-Length', 'content-length', 'l', 'L', 'CONTENT-LENGTH');
const message = fc
  .record({
    name: headerName,
    body: fc.uint8Array({ maxLength: 300 }),
    extra: fc.array(fc.constantFrom('Subject: \r\n\r\n-ish', 'X-A: 1', 'Via: SIP/2.0/TCP h'), {
      maxLength: 3,
    }),
  })
  .map(({ name, body, extra }): Unit => {
    const headers = extra.map((h) => h.replace(/\r\n/g, ' ')).join('\r\n');
    const head = `INVITE sip:b@h SIP/2.0\r\n${headers}${headers ? '\r\n' : ''}${name}: ${body.length}\r\n\r\n`;
    return { kind: 'message', bytes: Buffer.concat([Buffer.from(head, 'latin1'), body]) };
  });
const unit = fc.oneof(
  { arbitrary: message, weight: 4 },
  { arbitrary: fc.constant<Unit>({ kind: 'ping' }), weight: 1 },
);

describe('StreamFramer property', () => {
  it('yields the same messages and pings for any chunking of their concatenation', () => {
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (units, cuts) => {
        const stream = Buffer.concat(
          units.map((u) => (u.kind === 'ping' ? Buffer.from('\r\n\r\n') : u.bytes)),
        );
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const framer = new StreamFramer();
        const out: Unit[] = [];
        let from = 0;
        for (const to of [...points, stream.length]) {
          framer.push(stream.subarray(from, to));
          from = to;
          for (let e = framer.next(); e !== undefined; e = framer.next()) {
            if (e.type === 'error') throw e.error;
            out.push(e.type === 'ping' ? { kind: 'ping' } : { kind: 'message', bytes: Buffer.from(e.data) });
          }
        }
        expect(out).toEqual(units);
        expect(framer.buffered).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
