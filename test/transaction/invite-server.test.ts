import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createResponse } from '../../pbx/sip/index.js';
import type { SipMessage } from '../../pbx/sip/index.js';
import { InviteServer } from '../../pbx/transaction/invite-server.js';
import type { InviteServerInput, InviteServerState } from '../../pbx/transaction/invite-server.js';
import type { InviteServerTransaction, RequestDisposition } from '../../pbx/transaction/index.js';
import { DEFAULT_TIMER_CONFIG, timerDurations } from '../../pbx/transaction/timers.js';
import { TCP_SOURCE, UDP_DEST, UDP_SOURCE, flush, harness, request, response } from './helpers.js';
import type { Harness } from './helpers.js';

function newInvite(h: Harness, opts: Parameters<typeof request>[0] = {}, source = UDP_SOURCE) {
  const req = request(opts);
  const d = h.layer.receiveRequest(req, source);
  if (d.kind !== 'new' || d.tx.kind !== 'invite') throw new Error(`expected a new INVITE, got ${d.kind}`);
  return { req, tx: d.tx };
}

function ack(toTag = 'totag9', branch = 'z9hG4bK-tx1') {
  return request({ method: 'ACK', toTag, branch });
}

describe('INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1)', () => {
  it('sends TU provisionals to the Via destination and resends the last one on a retransmitted INVITE', () => {
    const h = harness();
    const { req, tx } = newInvite(h);
    expect(tx.state).toBe('proceeding');
    expect(tx.request).toBe(req);
    expect(tx.source).toBe(UDP_SOURCE);
    expect(h.layer.receiveRequest(req, UDP_SOURCE)).toEqual({ kind: 'retransmission' });
    expect(h.lines()).toEqual([]);
    tx.respond(createResponse(req, 100));
    tx.respond(response(req, 180));
    expect(h.layer.receiveRequest(req, UDP_SOURCE)).toEqual({ kind: 'retransmission' });
    expect(h.lines()).toEqual(['100', '180', '180']);
    expect(h.sent[0]?.dest).toEqual({ transport: 'udp', address: '192.0.2.10', port: 5062 });
    expect(tx.lastResponse?.status).toBe(180);
    expect(tx.state).toBe('proceeding');
  });

  it('sends 100 Trying itself when the TU has not responded within 200 ms', () => {
    const h = harness();
    const { req } = newInvite(h);
    h.clock.advance(199);
    expect(h.lines()).toEqual([]);
    h.clock.advance(1);
    expect(h.lines()).toEqual(['100']);
    h.layer.receiveRequest(req, UDP_SOURCE);
    expect(h.lines()).toEqual(['100', '100']);
  });

  it('sends no 100 Trying of its own when the TU responded in time', () => {
    const h = harness();
    const { req, tx } = newInvite(h);
    h.clock.advance(50);
    tx.respond(response(req, 180));
    h.clock.advance(1000);
    expect(h.lines()).toEqual(['180']);
  });

  it('retransmits a 486 with Timer G doubling up to T2 until the ACK; Confirmed ends with Timer I (T4)', () => {
    const h = harness();
    const { req, tx } = newInvite(h);
    tx.respond(response(req, 486));
    expect(tx.state).toBe('completed');
    h.clock.advance(12_000);
    expect(h.timesOf('486')).toEqual([0, 500, 1500, 3500, 7500, 11500]);
    expect(h.layer.receiveRequest(req, UDP_SOURCE)).toEqual({ kind: 'retransmission' });
    expect(h.timesOf('486')).toEqual([0, 500, 1500, 3500, 7500, 11500, 12000]);
    expect(h.layer.receiveRequest(ack(), UDP_SOURCE)).toEqual({ kind: 'ack' });
    expect(tx.state).toBe('confirmed');
    expect(h.layer.receiveRequest(ack(), UDP_SOURCE)).toEqual({ kind: 'ack' });
    expect(h.layer.receiveRequest(req, UDP_SOURCE)).toEqual({ kind: 'retransmission' });
    h.clock.advance(4999);
    expect(h.timesOf('486')).toHaveLength(7);
    expect(tx.state).toBe('confirmed');
    h.clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size().server).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });

  it('Timer H (64*T1) without an ACK tells the TU and terminates', () => {
    const h = harness();
    const { req, tx } = newInvite(h);
    const seen: string[] = [];
    tx.onTimeoutNoAck((t) => seen.push(`noAck ${t.state}`));
    tx.onTerminated((t) => seen.push(`terminated ${t.state}`));
    tx.respond(response(req, 503));
    h.clock.advance(31_999);
    expect(h.timesOf('503')).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(seen).toEqual([]);
    h.clock.advance(1);
    expect(seen).toEqual(['noAck terminated', 'terminated terminated']);
    expect(h.layer.size().server).toBe(0);
    expect(h.clock.pending()).toBe(0);
    expect(h.layer.receiveRequest(ack(), UDP_SOURCE)).toEqual({ kind: 'ack2xx' });
  });

  it('over TCP: no Timer G, responses on the request connection, Timer I is 0', () => {
    const h = harness();
    const { req, tx } = newInvite(h, { transport: 'TCP' }, TCP_SOURCE);
    tx.respond(response(req, 486));
    h.clock.advance(10_000);
    expect(h.lines()).toEqual(['486']);
    expect(h.sent[0]?.dest).toEqual({
      transport: 'tcp',
      address: '192.0.2.10',
      port: 40000,
      connectionId: 3,
    });
    expect(h.layer.receiveRequest(ack(), TCP_SOURCE)).toEqual({ kind: 'ack' });
    expect(tx.state).toBe('terminated');
    expect(h.clock.pending()).toBe(0);
  });

  it('Timer H fires over TCP too', () => {
    const h = harness();
    const { req, tx } = newInvite(h, { transport: 'TCP' }, TCP_SOURCE);
    let noAck = 0;
    tx.onTimeoutNoAck(() => noAck++);
    tx.respond(response(req, 486));
    h.clock.advance(32_000);
    expect(noAck).toBe(1);
  });

  it('2xx enters Accepted: retransmitted INVITEs absorbed, TU 2xx retransmissions sent, ACKs go to the TU, Timer L ends it', () => {
    const h = harness();
    const { req, tx } = newInvite(h);
    tx.respond(response(req, 180));
    tx.respond(response(req, 200));
    expect(tx.state).toBe('accepted');
    expect(h.layer.receiveRequest(req, UDP_SOURCE)).toEqual({ kind: 'retransmission' });
    expect(h.lines()).toEqual(['180', '200']);
    h.clock.advance(500);
    expect(h.lines()).toEqual(['180', '200']); // the transaction never retransmits 2xx itself
    tx.respond(response(req, 200));
    tx.respond(response(req, 180));
    tx.respond(response(req, 486));
    expect(h.lines()).toEqual(['180', '200', '200']);
    // ACK for 2xx on a new branch (§13.2.2.4) matches nothing; one on the INVITE branch hits Accepted
    const disposition: RequestDisposition = h.layer.receiveRequest(
      ack('totag9', 'z9hG4bK-ack2xx'),
      UDP_SOURCE,
    );
    expect(disposition).toEqual({ kind: 'ack2xx' });
    expect(h.layer.receiveRequest(ack(), UDP_SOURCE)).toEqual({ kind: 'ack2xx' });
    expect(tx.state).toBe('accepted');
    h.clock.advance(31_499);
    expect(tx.state).toBe('accepted');
    h.clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size().server).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });

  it.each([
    ['a provisional', 180],
    ['a non-2xx final', 486],
  ] as const)('a failed send of %s informs the TU and terminates (§17.2.4)', async (_what, status) => {
    const h = harness();
    const { req, tx } = newInvite(h);
    const seen: string[] = [];
    tx.onTransportError((err, t) => seen.push(`${err.message} ${t.state}`));
    tx.onTerminated((t) => seen.push(`terminated ${t.state}`));
    h.failSends(1);
    tx.respond(response(req, status));
    await flush();
    expect(seen).toEqual(['connection refused terminated', 'terminated terminated']);
    expect(h.layer.size().server).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });

  it('a failed 2xx send in Accepted informs the TU and keeps absorbing retransmissions', async () => {
    const h = harness();
    const { req, tx } = newInvite(h);
    const seen: string[] = [];
    tx.onTransportError((err) => seen.push(err.message));
    h.failSends(1);
    tx.respond(response(req, 200));
    await flush();
    expect(seen).toEqual(['connection refused']);
    expect(tx.state).toBe('accepted');
    expect(h.layer.receiveRequest(req, UDP_SOURCE)).toEqual({ kind: 'retransmission' });
  });
});

describe('INVITE server transaction inputs that change nothing', () => {
  const ALL: InviteServerInput['type'][] = [
    'request',
    'ack',
    'tuResponse1xx',
    'tuResponse2xx',
    'tuResponse300to699',
    'timerTrying',
    'timerG',
    'timerH',
    'timerI',
    'timerL',
    'transportError',
  ];

  function machine(): { tx: InviteServer; sent: SipMessage[]; tu: string[] } {
    const sent: SipMessage[] = [];
    const tu: string[] = [];
    const tx = new InviteServer(
      'k',
      request(),
      UDP_SOURCE,
      UDP_DEST,
      timerDurations(DEFAULT_TIMER_CONFIG, false),
      fakeClock(),
      { send: (m) => sent.push(m), terminated: () => tu.push('gone') },
    );
    tx.onTransportError(() => tu.push('transportError'));
    tx.onTimeoutNoAck(() => tu.push('noAck'));
    tx.start();
    return { tx, sent, tu };
  }

  function input(type: InviteServerInput['type']): InviteServerInput {
    const req = request();
    switch (type) {
      case 'tuResponse1xx':
        return { type, response: response(req, 180) };
      case 'tuResponse2xx':
        return { type, response: response(req, 200) };
      case 'tuResponse300to699':
        return { type, response: response(req, 486) };
      case 'transportError':
        return { type, error: new Error('x') };
      default:
        return { type };
    }
  }

  const reach: Record<InviteServerState, InviteServerInput['type'][]> = {
    proceeding: [],
    completed: ['tuResponse300to699'],
    confirmed: ['tuResponse300to699', 'ack'],
    accepted: ['tuResponse2xx'],
    terminated: ['tuResponse2xx', 'timerL'],
  };
  const ignored: Record<InviteServerState, InviteServerInput['type'][]> = {
    proceeding: ['ack', 'timerG', 'timerH', 'timerI', 'timerL'],
    completed: ['tuResponse1xx', 'tuResponse2xx', 'tuResponse300to699', 'timerTrying', 'timerI', 'timerL'],
    confirmed: ALL.filter((t) => t !== 'timerI'),
    accepted: [
      'request',
      'ack',
      'tuResponse1xx',
      'tuResponse300to699',
      'timerTrying',
      'timerG',
      'timerH',
      'timerI',
    ],
    terminated: ALL,
  };

  for (const [state, types] of Object.entries(ignored) as [
    InviteServerState,
    InviteServerInput['type'][],
  ][]) {
    it.each(types)(`${state} ignores %s`, (type) => {
      const m = machine();
      for (const t of reach[state]) m.tx.handle(input(t));
      expect(m.tx.state).toBe(state);
      const before = { sent: m.sent.length, tu: m.tu.length };
      m.tx.handle(input(type));
      expect(m.tx.state).toBe(state);
      expect(m.sent.length).toBe(before.sent);
      expect(m.tu.length).toBe(before.tu);
    });
  }

  it('a transport error in Completed informs the TU and terminates', () => {
    const m = machine();
    m.tx.handle(input('tuResponse300to699'));
    m.tx.handle(input('transportError'));
    expect(m.tx.state).toBe('terminated');
    expect(m.tu).toEqual(['transportError', 'gone']);
  });

  it('dispose goes quiet', () => {
    const m = machine();
    const tx: InviteServerTransaction = m.tx;
    m.tx.dispose();
    expect(tx.state).toBe('terminated');
    expect(m.tu).toEqual([]);
  });
});
