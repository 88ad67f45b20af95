/**
 * Parser benchmark: parse + serialize of a realistic INVITE with SDP, on one core.
 * Usage: node dist/bench/parser.js [--seconds N]
 */
import { parseMessage, serialize, topVia, cseq, callId, validateRequest } from '../pbx/sip/index.js';
import type { SipRequest } from '../pbx/sip/index.js';
import { INVITE_WITH_SDP } from '../test/sip/fixtures.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i === -1 ? undefined : process.argv[i + 1];
  return v === undefined ? fallback : Number(v);
}

function run(label: string, seconds: number, op: () => void): number {
  // Warm-up, then timed batches until the time is spent.
  for (let i = 0; i < 20_000; i++) op();
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  for (;;) {
    for (let i = 0; i < 5_000; i++) op();
    n += 5_000;
    const elapsed = process.hrtime.bigint() - start;
    if (elapsed >= budget) {
      const rate = n / (Number(elapsed) / 1e9);
      console.log(`${label.padEnd(44)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} ops/s`);
      return rate;
    }
  }
}

const seconds = arg('seconds', 3);
const input = Buffer.from(INVITE_WITH_SDP);
let sink = 0;
console.log(`node ${process.version}, message ${input.length} bytes, ${seconds}s per case`);
run('parse', seconds, () => {
  sink += parseMessage(input).headers.length;
});
run('parse + serialize', seconds, () => {
  sink += serialize(parseMessage(input)).length;
});
run('parse + validate + Via/CSeq/Call-ID + serialize', seconds, () => {
  const msg = parseMessage(input) as SipRequest;
  if (validateRequest(msg) === null) sink += topVia(msg).host.length + cseq(msg).seq + callId(msg).length;
  sink += serialize(msg).length;
});
if (sink === 42) console.log('');
