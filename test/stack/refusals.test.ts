/**
 * A refused INVITE's retransmissions get the same stateless answer, without a second admission decision
 * (pbx/stack/refusals.ts): the overload guard's verdict for a call holds while its caller retransmits.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createLogger } from '../../pbx/core/logger.js';
import { createResponse, hdr, parseMessage, serialize } from '../../pbx/sip/index.js';
import type { SipRequest, SipResponse } from '../../pbx/sip/index.js';
import { createSipStack } from '../../pbx/stack/index.js';
import { RefusalMemory } from '../../pbx/stack/refusals.js';
import { createTransactionLayer } from '../../pbx/transaction/index.js';
import type { SendDestination, SipTransport, TransportSource } from '../../pbx/transport/index.js';

const SOURCE: TransportSource = {
  transport: 'udp',
  address: '127.0.0.1',
  port: 5070,
  localAddress: '127.0.0.1',
  localPort: 5060,
};

function invite(callId: string, branch: string, seq = 1): Buffer {
  return Buffer.from(
    [
      'INVITE sip:bob@127.0.0.1:5060 SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:5070;branch=${branch}`,
      'Max-Forwards: 70',
      'From: <sip:alice@127.0.0.1>;tag=a',
      'To: <sip:bob@127.0.0.1>',
      `Call-ID: ${callId}`,
      `CSeq: ${seq} INVITE`,
      'Contact: <sip:alice@127.0.0.1:5070>',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

function setup() {
  const clock = fakeClock();
  const sent: string[] = [];
  let deliver: (data: Buffer, source: TransportSource) => void = () => undefined;
  const transport: SipTransport = {
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    address: () => ({ address: '127.0.0.1', port: 5060 }),
    onMessage: (h) => (deliver = h),
    onError: () => undefined,
    send: (_dest: SendDestination, data: Buffer) => {
      sent.push(data.toString('latin1').split('\r\n')[0] ?? '');
      return Promise.resolve();
    },
    stats: () => ({}) as ReturnType<SipTransport['stats']>,
    udpReceiveBuffer: () => undefined,
  };
  const transactions = createTransactionLayer({
    clock,
    send: (data, dest) => transport.send(dest, data),
  });
  const counter = { inc: () => undefined };
  const stack = createSipStack({
    transport,
    transactions,
    limits: { maxMessageBytes: 65535, maxHeaders: 128, maxHeaderLineBytes: 8192, maxUriParams: 32 },
    metrics: { sipMalformed: counter, sipRequests: counter, sipResponses: counter },
    logger: createLogger('error', new Writable({ write: (_c, _e, done) => done() })),
    refusals: { clock, ttlMs: 32_000 },
  });
  /** How many of the next admission decisions refuse. */
  let refusing = 0;
  const screened: string[] = [];
  const admitted: string[] = [];
  stack.setUser({
    screen(req: SipRequest) {
      screened.push(req.uri);
      if (refusing === 0) return undefined;
      refusing -= 1;
      return createResponse(req, 503, 'Service Unavailable', { headers: [hdr('Retry-After', 2)] });
    },
    onRequest(tx, req) {
      admitted.push(req.method);
      tx.respond(createResponse(req, 486, 'Busy Here', { toTag: 'b' }));
    },
    onAck: () => undefined,
  });
  const refuse = (): void => {
    refusing += 1;
  };
  return { clock, sent, deliver: (d: Buffer) => deliver(d, SOURCE), screened, admitted, refuse };
}

describe('the stack remembers stateless INVITE refusals', () => {
  it('answers a retransmission with the same 503 without asking the admission again', () => {
    const s = setup();
    s.refuse(); // the first decision refuses; any later one would admit
    s.deliver(invite('c1', 'z9hG4bK1'));
    s.deliver(invite('c1', 'z9hG4bK1'));
    s.deliver(invite('c1', 'z9hG4bK1'));
    expect(s.screened).toHaveLength(1);
    expect(s.admitted).toEqual([]);
    expect(s.sent).toEqual(Array(3).fill('SIP/2.0 503 Service Unavailable'));
  });

  it('a new INVITE (another branch or Call-ID) is decided afresh', () => {
    const s = setup();
    s.refuse();
    s.deliver(invite('c1', 'z9hG4bK1'));
    s.deliver(invite('c1', 'z9hG4bK2'));
    s.deliver(invite('c2', 'z9hG4bK1'));
    expect(s.screened).toHaveLength(3);
    expect(s.admitted).toEqual(['INVITE', 'INVITE']);
  });

  it('forgets a refusal after its TTL', () => {
    const s = setup();
    s.refuse();
    s.deliver(invite('c1', 'z9hG4bK1'));
    s.clock.advance(32_000);
    s.deliver(invite('c1', 'z9hG4bK1'));
    expect(s.screened).toHaveLength(2);
    expect(s.admitted).toEqual(['INVITE']);
  });
});

describe('RefusalMemory', () => {
  const req = (n: number): SipRequest => parseMessage(invite(`c${n}`, `z9hG4bK${n}`)) as SipRequest;
  const res = (r: SipRequest): SipResponse => createResponse(r, 503, 'Service Unavailable');

  it('is bounded: the oldest refusal goes first', () => {
    const clock = fakeClock();
    const memory = new RefusalMemory({ clock, ttlMs: 1000, maxEntries: 3 });
    for (let i = 0; i < 5; i++) memory.remember(req(i), res(req(i)));
    expect(memory.size).toBe(3);
    expect(memory.recall(req(0))).toBeUndefined();
    expect(memory.recall(req(1))).toBeUndefined();
    expect(serialize(memory.recall(req(4)) ?? res(req(0))).toString('latin1')).toContain('Call-ID: c4');
  });

  it('expires entries in insertion order', () => {
    const clock = fakeClock();
    const memory = new RefusalMemory({ clock, ttlMs: 1000 });
    memory.remember(req(1), res(req(1)));
    clock.advance(500);
    memory.remember(req(2), res(req(2)));
    clock.advance(500);
    expect(memory.recall(req(1))).toBeUndefined();
    expect(memory.recall(req(2))).toBeDefined();
    expect(memory.size).toBe(1);
  });
});
