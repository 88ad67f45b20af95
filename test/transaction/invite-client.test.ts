import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { header, headerLines } from '../../pbx/sip/index.js';
import type { SipMessage } from '../../pbx/sip/index.js';
import { InviteClient } from '../../pbx/transaction/invite-client.js';
import type { InviteClientInput, InviteClientState } from '../../pbx/transaction/invite-client.js';
import { DEFAULT_TIMER_CONFIG, timerDurations } from '../../pbx/transaction/timers.js';
import {
  TCP_DEST,
  UDP_DEST,
  collected,
  flush,
  harness,
  recordingUser,
  request,
  response,
  sentRequest,
} from './helpers.js';

describe('INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2)', () => {
  it('retransmits with Timer A doubling without a T2 cap until Timer B (64*T1) times out', () => {
    const h = harness();
    const user = recordingUser();
    const tx = h.layer.sendRequest(request(), UDP_DEST, user);
    expect(tx.kind).toBe('invite');
    expect(tx.state).toBe('calling');
    h.clock.advance(31_999);
    expect(h.timesOf('INVITE')).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(user.events).toEqual([]);
    h.clock.advance(1);
    expect(user.events).toEqual(['timeout terminated', 'terminated terminated']);
    expect(tx.state).toBe('terminated');
    expect(h.layer.size()).toEqual({ client: 0, server: 0 });
    expect(h.clock.pending()).toBe(0);
  });

  it('scales A and B with a configured T1', () => {
    const h = harness({ t1Ms: 100 });
    const user = recordingUser();
    h.layer.sendRequest(request(), UDP_DEST, user);
    h.clock.advance(6400);
    expect(h.timesOf('INVITE')).toEqual([0, 100, 300, 700, 1500, 3100, 6300]);
    expect(user.events[0]).toBe('timeout terminated');
  });

  it('does not retransmit over TCP; Timer B still fires', () => {
    const h = harness();
    const user = recordingUser();
    h.layer.sendRequest(request({ transport: 'TCP' }), TCP_DEST, user);
    h.clock.advance(31_999);
    expect(h.timesOf('INVITE')).toEqual([0]);
    expect(h.sent[0]?.dest).toEqual(TCP_DEST);
    h.clock.advance(1);
    expect(user.events[0]).toBe('timeout terminated');
  });

  it('1xx moves to Proceeding, stops retransmissions and Timer B, and is passed up', () => {
    const h = harness();
    const user = recordingUser();
    const req = request();
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.clock.advance(600);
    expect(h.layer.receiveResponse(response(req, 100))).toBe(true);
    expect(tx.state).toBe('proceeding');
    expect(h.layer.receiveResponse(response(req, 180))).toBe(true);
    h.clock.advance(120_000);
    expect(h.timesOf('INVITE')).toEqual([0, 500]);
    expect(user.events).toEqual(['response 100 proceeding', 'response 180 proceeding']);
    expect(h.clock.pending()).toBe(0);
  });

  it('2xx enters Accepted, passes every 2xx retransmission up, and ends with Timer M (64*T1)', () => {
    const h = harness();
    const user = recordingUser();
    const strays: number[] = [];
    h.layer.onStrayResponse((res) => strays.push(res.status));
    const req = request();
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.layer.receiveResponse(response(req, 180));
    h.layer.receiveResponse(response(req, 200));
    expect(tx.state).toBe('accepted');
    h.clock.advance(10_000);
    h.layer.receiveResponse(response(req, 200));
    h.layer.receiveResponse(response(req, 200, 'forked-tag'));
    h.layer.receiveResponse(response(req, 183));
    h.layer.receiveResponse(response(req, 486));
    expect(user.events).toEqual([
      'response 180 proceeding',
      'response 200 accepted',
      'response 200 accepted',
      'response 200 accepted',
    ]);
    expect(h.lines()).toEqual(['INVITE']);
    h.clock.advance(21_999);
    expect(tx.state).toBe('accepted');
    h.clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(user.events.at(-1)).toBe('terminated terminated');
    expect(h.layer.receiveResponse(response(req, 200))).toBe(false);
    expect(strays).toEqual([200]);
    expect(h.clock.pending()).toBe(0);
  });

  it('release(): an Accepted transaction runs out Timer M but passes no more 2xx up', async () => {
    const h = harness();
    const user = recordingUser();
    const req = request();
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.layer.receiveResponse(response(req, 200));
    expect(await collected(new WeakRef(user))).toBe(false); // held in Accepted until released
    tx.release();
    tx.release(); // idempotent
    expect(h.layer.receiveResponse(response(req, 200))).toBe(true); // still matched: absorbed, not a stray
    h.clock.advance(32_000);
    expect(tx.state).toBe('terminated');
    expect(user.events).toEqual(['response 200 accepted']); // neither the retransmission nor Terminated
    expect(h.layer.size()).toEqual({ client: 0, server: 0 });
  });

  it('2xx in Calling goes straight to Accepted', () => {
    const h = harness();
    const user = recordingUser();
    const req = request();
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.layer.receiveResponse(response(req, 200));
    expect(tx.state).toBe('accepted');
    h.clock.advance(5000);
    expect(h.timesOf('INVITE')).toEqual([0]);
  });

  it.each([300, 302, 404, 486, 500, 503, 603, 699])('builds the ACK for %i itself (§17.1.1.3)', (status) => {
    const h = harness();
    const user = recordingUser();
    const req = request();
    h.layer.sendRequest(req, UDP_DEST, user);
    h.layer.receiveResponse(response(req, status, 'resp-tag'));
    expect(h.lines()).toEqual(['INVITE', 'ACK']);
    const ack = sentRequest(h, 1);
    expect(h.sent[1]?.dest).toEqual(UDP_DEST);
    expect(ack.uri).toBe(req.uri);
    expect(headerLines(ack, 'via')).toEqual(['SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-tx1;rport']);
    expect(headerLines(ack, 'route')).toEqual(headerLines(req, 'route'));
    expect(header(ack, 'from')).toBe(header(req, 'from'));
    expect(header(ack, 'to')).toBe('Bob <sip:bob@biloxi.example.com>;tag=resp-tag');
    expect(header(ack, 'call-id')).toBe(header(req, 'call-id'));
    expect(header(ack, 'cseq')).toBe('1 ACK');
    expect(header(ack, 'max-forwards')).toBe('69');
    expect(header(ack, 'content-length')).toBe('0');
    expect(ack.body.length).toBe(0);
    expect(user.events).toEqual([`response ${status} completed`]);
  });

  it('Completed resends the ACK for each retransmitted final, passes nothing up, ends with Timer D (32 s on UDP)', () => {
    const h = harness();
    const user = recordingUser();
    const req = request();
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.layer.receiveResponse(response(req, 180));
    h.layer.receiveResponse(response(req, 486));
    expect(tx.state).toBe('completed');
    h.clock.advance(1000);
    h.layer.receiveResponse(response(req, 486));
    h.layer.receiveResponse(response(req, 180));
    h.layer.receiveResponse(response(req, 200));
    expect(h.lines()).toEqual(['INVITE', 'ACK', 'ACK']);
    expect(user.events).toEqual(['response 180 proceeding', 'response 486 completed']);
    h.clock.advance(30_999);
    expect(tx.state).toBe('completed');
    h.clock.advance(1);
    expect(tx.state).toBe('terminated');
    expect(user.events.at(-1)).toBe('terminated terminated');
    expect(h.layer.size().client).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });

  it('Timer D is at least 64*T1 when T1 is large', () => {
    const h = harness({ t1Ms: 1000, t2Ms: 4000 });
    const req = request();
    const tx = h.layer.sendRequest(req, UDP_DEST, recordingUser());
    h.layer.receiveResponse(response(req, 404));
    h.clock.advance(63_999);
    expect(tx.state).toBe('completed');
    h.clock.advance(1);
    expect(tx.state).toBe('terminated');
  });

  it('Timer D is 0 over TCP: a final response terminates at once', () => {
    const h = harness();
    const user = recordingUser();
    const req = request({ transport: 'TCP' });
    const tx = h.layer.sendRequest(req, TCP_DEST, user);
    h.layer.receiveResponse(response(req, 603));
    expect(h.lines()).toEqual(['INVITE', 'ACK']);
    expect(h.sent[1]?.dest).toEqual(TCP_DEST);
    expect(tx.state).toBe('terminated');
    expect(user.events).toEqual(['response 603 completed', 'terminated terminated']);
    expect(h.layer.size().client).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });

  it('a failed send of the INVITE informs the TU and terminates', async () => {
    const h = harness();
    const user = recordingUser();
    h.failSends(1);
    const tx = h.layer.sendRequest(request(), UDP_DEST, user);
    await flush();
    expect(user.events).toEqual(['transportError terminated', 'terminated terminated']);
    expect(user.errors[0]?.message).toBe('connection refused');
    expect(tx.state).toBe('terminated');
    expect(h.layer.size().client).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });

  it('a synchronous throw from send is a transport error too', async () => {
    const h = harness();
    const user = recordingUser();
    h.failSends(1, true);
    h.layer.sendRequest(request(), UDP_DEST, user);
    await flush();
    expect(user.events[0]).toBe('transportError terminated');
  });

  it('a failed ACK in Completed informs the TU and terminates (Figure 5)', async () => {
    const h = harness();
    const user = recordingUser();
    const req = request();
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.failSends(1);
    h.layer.receiveResponse(response(req, 486));
    await flush();
    expect(tx.state).toBe('terminated');
    expect(user.events).toEqual([
      'response 486 completed',
      'transportError terminated',
      'terminated terminated',
    ]);
    expect(h.clock.pending()).toBe(0);
  });
});

describe('INVITE client transaction inputs that change nothing', () => {
  const ALL: InviteClientInput['type'][] = [
    'timerA',
    'timerB',
    'timerD',
    'timerM',
    'response1xx',
    'response2xx',
    'response300to699',
    'transportError',
  ];

  function machine(): { tx: InviteClient; sent: SipMessage[]; tu: string[] } {
    const clock = fakeClock();
    const sent: SipMessage[] = [];
    const tu: string[] = [];
    const req = request();
    const tx = new InviteClient(
      'k',
      req,
      UDP_DEST,
      timerDurations(DEFAULT_TIMER_CONFIG, false),
      clock,
      {
        onResponse: (res) => tu.push(String(res.status)),
        onTimeout: () => tu.push('timeout'),
        onTransportError: () => tu.push('transportError'),
      },
      { send: (m) => sent.push(m), terminated: () => tu.push('gone') },
    );
    tx.start();
    return { tx, sent, tu };
  }

  function input(type: InviteClientInput['type']): InviteClientInput {
    const req = request();
    switch (type) {
      case 'response1xx':
        return { type, response: response(req, 180) };
      case 'response2xx':
        return { type, response: response(req, 200) };
      case 'response300to699':
        return { type, response: response(req, 486) };
      case 'transportError':
        return { type, error: new Error('x') };
      default:
        return { type };
    }
  }

  const reach: Record<Exclude<InviteClientState, 'calling'>, InviteClientInput['type'][]> = {
    proceeding: ['response1xx'],
    accepted: ['response2xx'],
    completed: ['response300to699'],
    terminated: ['timerB'],
  };
  const ignored: Record<InviteClientState, InviteClientInput['type'][]> = {
    calling: ['timerD', 'timerM'],
    proceeding: ['transportError', 'timerA', 'timerB', 'timerD', 'timerM'],
    accepted: ['response1xx', 'response300to699', 'transportError', 'timerA', 'timerB', 'timerD'],
    completed: ['response1xx', 'response2xx', 'timerA', 'timerB', 'timerM'],
    terminated: ALL,
  };

  for (const [state, types] of Object.entries(ignored) as [
    InviteClientState,
    InviteClientInput['type'][],
  ][]) {
    it.each(types)(`${state} ignores %s`, (type) => {
      const m = machine();
      if (state !== 'calling') for (const t of reach[state]) m.tx.handle(input(t));
      expect(m.tx.state).toBe(state);
      const before = { sent: m.sent.length, tu: m.tu.length };
      m.tx.handle(input(type));
      expect(m.tx.state).toBe(state);
      expect(m.sent.length).toBe(before.sent);
      expect(m.tu.length).toBe(before.tu);
    });
  }

  it('dispose stops every timer without telling anyone', () => {
    const m = machine();
    m.tx.dispose();
    expect(m.tx.state).toBe('terminated');
    expect(m.tu).toEqual([]);
  });
});
