import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import type { SipMessage } from '../../pbx/sip/index.js';
import { NonInviteServer } from '../../pbx/transaction/non-invite-server.js';
import type { NonInviteServerInput, NonInviteServerState } from '../../pbx/transaction/non-invite-server.js';
import { DEFAULT_TIMER_CONFIG, timerDurations } from '../../pbx/transaction/timers.js';
import { TCP_SOURCE, UDP_DEST, UDP_SOURCE, flush, harness, request, response } from './helpers.js';
import type { Harness } from './helpers.js';

function newRequest(h: Harness, method = 'OPTIONS', source = UDP_SOURCE) {
  const req = request({ method, transport: source.transport === 'tcp' ? 'TCP' : 'UDP' });
  const d = h.layer.receiveRequest(req, source);
  if (d.kind !== 'new' || d.tx.kind !== 'nonInvite') throw new Error(`expected a new request, got ${d.kind}`);
  return { req, tx: d.tx };
}

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  it('Trying discards retransmissions; a final enters Completed, is resent on retransmission, Timer J (64*T1) ends it', () => {
    const h = harness();
    const { req, tx } = newRequest(h);
    expect(tx.state).toBe('trying');
    expect(h.layer.receiveRequest(req, UDP_SOURCE)).toEqual({ kind: 'retransmission' });
    expect(h.lines()).toEqual([]);
    tx.respond(response(req, 200));
    expect(tx.state).toBe('completed');
    expect(h.layer.receiveRequest(req, UDP_SOURCE)).toEqual({ kind: 'retransmission' });
    tx.respond(response(req, 500));
    expect(h.lines()).toEqual(['200', '200']);
    h.clock.advance(31_999);
    expect(tx.state).toBe('completed');
    h.clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size().server).toBe(0);
    expect(h.clock.pending()).toBe(0);
    expect(h.layer.receiveRequest(req, UDP_SOURCE).kind).toBe('new');
  });

  it('a provisional enters Proceeding and is resent on retransmission; then a final completes', () => {
    const h = harness();
    const { req, tx } = newRequest(h, 'SUBSCRIBE');
    tx.respond(response(req, 100));
    expect(tx.state).toBe('proceeding');
    h.layer.receiveRequest(req, UDP_SOURCE);
    tx.respond(response(req, 183));
    h.layer.receiveRequest(req, UDP_SOURCE);
    tx.respond(response(req, 404));
    expect(tx.state).toBe('completed');
    expect(tx.lastResponse?.status).toBe(404);
    expect(h.lines()).toEqual(['100', '100', '183', '183', '404']);
  });

  it('over TCP Timer J is 0: a final response terminates at once', () => {
    const h = harness();
    const { req, tx } = newRequest(h, 'BYE', TCP_SOURCE);
    let terminated = 0;
    tx.onTerminated(() => terminated++);
    tx.respond(response(req, 200));
    expect(tx.state).toBe('terminated');
    expect(terminated).toBe(1);
    expect(h.sent[0]?.dest).toEqual({
      transport: 'tcp',
      address: '192.0.2.10',
      port: 40000,
      connectionId: 3,
    });
    expect(h.clock.pending()).toBe(0);
  });

  it.each([
    ['Proceeding', 180],
    ['Completed', 200],
  ] as const)('a failed send in %s informs the TU and terminates', async (_state, status) => {
    const h = harness();
    const { req, tx } = newRequest(h);
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
});

describe('non-INVITE server transaction inputs', () => {
  function machine(): { tx: NonInviteServer; sent: SipMessage[]; tu: string[] } {
    const sent: SipMessage[] = [];
    const tu: string[] = [];
    const tx = new NonInviteServer(
      'k',
      request({ method: 'OPTIONS' }),
      UDP_SOURCE,
      UDP_DEST,
      timerDurations(DEFAULT_TIMER_CONFIG, false),
      fakeClock(),
      { send: (m) => sent.push(m), terminated: () => tu.push('gone') },
    );
    tx.onTransportError(() => tu.push('transportError'));
    return { tx, sent, tu };
  }

  function input(type: NonInviteServerInput['type']): NonInviteServerInput {
    const req = request({ method: 'OPTIONS' });
    switch (type) {
      case 'tuResponse1xx':
        return { type, response: response(req, 100) };
      case 'tuResponse2xx':
        return { type, response: response(req, 200) };
      case 'tuResponse300to699':
        return { type, response: response(req, 404) };
      case 'transportError':
        return { type, error: new Error('x') };
      default:
        return { type };
    }
  }

  const reach: Record<NonInviteServerState, NonInviteServerInput['type'][]> = {
    trying: [],
    proceeding: ['tuResponse1xx'],
    completed: ['tuResponse2xx'],
    terminated: ['tuResponse2xx', 'timerJ'],
  };
  const ignored: Record<NonInviteServerState, NonInviteServerInput['type'][]> = {
    trying: ['request', 'timerJ'],
    proceeding: ['timerJ'],
    completed: ['tuResponse1xx', 'tuResponse2xx', 'tuResponse300to699'],
    terminated: [
      'request',
      'tuResponse1xx',
      'tuResponse2xx',
      'tuResponse300to699',
      'timerJ',
      'transportError',
    ],
  };

  for (const [state, types] of Object.entries(ignored) as [
    NonInviteServerState,
    NonInviteServerInput['type'][],
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

  it('a transport error in Trying informs the TU and terminates', () => {
    const m = machine();
    m.tx.handle(input('transportError'));
    expect(m.tx.state).toBe('terminated');
    expect(m.tu).toEqual(['transportError', 'gone']);
  });

  it('dispose goes quiet', () => {
    const m = machine();
    m.tx.dispose();
    expect(m.tx.state).toBe('terminated');
    expect(m.tu).toEqual([]);
  });
});
