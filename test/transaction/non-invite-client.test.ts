import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import type { SipMessage } from '../../pbx/sip/index.js';
import { NonInviteClient } from '../../pbx/transaction/non-invite-client.js';
import type { NonInviteClientInput, NonInviteClientState } from '../../pbx/transaction/non-invite-client.js';
import { DEFAULT_TIMER_CONFIG, timerDurations } from '../../pbx/transaction/timers.js';
import type { ClientTransaction, ClientTransactionUser } from '../../pbx/transaction/index.js';
import {
  TCP_DEST,
  UDP_DEST,
  collected,
  flush,
  harness,
  recordingUser,
  request,
  response,
} from './helpers.js';

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('retransmits with Timer E doubling up to T2 until Timer F (64*T1) times out', () => {
    const h = harness();
    const user = recordingUser();
    const tx = h.layer.sendRequest(request({ method: 'OPTIONS' }), UDP_DEST, user);
    expect(tx.kind).toBe('nonInvite');
    expect(tx.state).toBe('trying');
    h.clock.advance(31_999);
    expect(h.timesOf('OPTIONS')).toEqual([
      0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]);
    h.clock.advance(1);
    expect(user.events).toEqual(['timeout terminated', 'terminated terminated']);
    expect(h.layer.size().client).toBe(0);
    expect(h.clock.pending()).toBe(0);
  });

  it('in Proceeding Timer E fires every T2 and Timer F still times out', () => {
    const h = harness();
    const user = recordingUser();
    const req = request({ method: 'BYE' });
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.clock.advance(600);
    h.layer.receiveResponse(response(req, 100));
    expect(tx.state).toBe('proceeding');
    h.layer.receiveResponse(response(req, 180));
    h.clock.advance(31_399);
    // E fired at 500 (Trying), then 1500 in Proceeding resets to T2: 1500, 5500, 9500, ...
    expect(h.timesOf('BYE')).toEqual([0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]);
    h.clock.advance(1);
    expect(user.events).toEqual([
      'response 100 proceeding',
      'response 180 proceeding',
      'timeout terminated',
      'terminated terminated',
    ]);
  });

  it.each([200, 202, 404, 500, 603])(
    'final %i -> Completed, absorbs retransmissions, Timer K (T4) on UDP',
    (status) => {
      const h = harness();
      const user = recordingUser();
      const req = request({ method: 'REGISTER' });
      const tx = h.layer.sendRequest(req, UDP_DEST, user);
      h.layer.receiveResponse(response(req, status));
      expect(tx.state).toBe('completed');
      h.layer.receiveResponse(response(req, status));
      h.layer.receiveResponse(response(req, 100));
      expect(user.events).toEqual([`response ${status} completed`]);
      h.clock.advance(4999);
      expect(tx.state).toBe('completed');
      h.clock.advance(1);
      expect(tx.state).toBe('terminated');
      // E and F stopped on entering Completed: nothing was retransmitted
      expect(h.lines()).toEqual(['REGISTER']);
      expect(h.clock.pending()).toBe(0);
    },
  );

  it('final in Proceeding -> Completed', () => {
    const h = harness();
    const user = recordingUser();
    const req = request({ method: 'INFO' });
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.layer.receiveResponse(response(req, 100));
    h.layer.receiveResponse(response(req, 481));
    expect(tx.state).toBe('completed');
    expect(user.events).toEqual(['response 100 proceeding', 'response 481 completed']);
  });

  it('lets go of a TU without onTerminated at the final response, though Completed runs on (Timer K)', async () => {
    const h = harness();
    const req = request({ method: 'BYE' });
    const responses: number[] = [];
    // The TU exists only inside this function: nothing but the transaction can keep it alive.
    const send = (): { tx: ClientTransaction; held: WeakRef<ClientTransactionUser> } => {
      const user: ClientTransactionUser = {
        onResponse: (res) => responses.push(res.status),
        onTimeout: () => undefined,
        onTransportError: () => undefined,
      };
      return { tx: h.layer.sendRequest(req, UDP_DEST, user), held: new WeakRef(user) };
    };
    const { tx, held } = send();
    h.layer.receiveResponse(response(req, 200));
    h.layer.receiveResponse(response(req, 200)); // absorbed in Completed
    expect(tx.state).toBe('completed');
    expect(responses).toEqual([200]);
    expect(await collected(held)).toBe(true);
    h.clock.advance(5000);
    expect(tx.state).toBe('terminated');
  });

  it('keeps a TU that asked for onTerminated until Terminated', () => {
    const h = harness();
    const user = recordingUser();
    const req = request({ method: 'BYE' });
    h.layer.sendRequest(req, UDP_DEST, user);
    h.layer.receiveResponse(response(req, 200));
    h.clock.advance(5000);
    expect(user.events).toEqual(['response 200 completed', 'terminated terminated']);
  });

  it('over TCP: no Timer E, Timer K is 0', () => {
    const h = harness();
    const user = recordingUser();
    const req = request({ method: 'OPTIONS', transport: 'TCP' });
    const tx = h.layer.sendRequest(req, TCP_DEST, user);
    h.clock.advance(10_000);
    expect(h.lines()).toEqual(['OPTIONS']);
    h.layer.receiveResponse(response(req, 200));
    expect(tx.state).toBe('terminated');
    expect(user.events).toEqual(['response 200 completed', 'terminated terminated']);
    expect(h.clock.pending()).toBe(0);
  });

  it('Timer F fires over TCP too', () => {
    const h = harness();
    const user = recordingUser();
    h.layer.sendRequest(request({ method: 'OPTIONS' }), TCP_DEST, user);
    h.clock.advance(32_000);
    expect(user.events[0]).toBe('timeout terminated');
  });

  it('a failed send in Trying informs the TU and terminates', async () => {
    const h = harness();
    const user = recordingUser();
    h.failSends(1);
    const tx = h.layer.sendRequest(request({ method: 'OPTIONS' }), UDP_DEST, user);
    await flush();
    expect(tx.state).toBe('terminated');
    expect(user.events).toEqual(['transportError terminated', 'terminated terminated']);
    expect(h.clock.pending()).toBe(0);
  });

  it('a failed retransmission in Proceeding informs the TU and terminates', async () => {
    const h = harness();
    const user = recordingUser();
    const req = request({ method: 'OPTIONS' });
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.layer.receiveResponse(response(req, 100));
    h.failSends(1);
    h.clock.advance(500);
    await flush();
    expect(tx.state).toBe('terminated');
    expect(user.events).toEqual([
      'response 100 proceeding',
      'transportError terminated',
      'terminated terminated',
    ]);
  });
});

describe('non-INVITE client transaction inputs that change nothing', () => {
  const ALL: NonInviteClientInput['type'][] = [
    'timerE',
    'timerF',
    'timerK',
    'response1xx',
    'response2xx',
    'response300to699',
    'transportError',
  ];

  function machine(): { tx: NonInviteClient; sent: SipMessage[]; tu: string[] } {
    const sent: SipMessage[] = [];
    const tu: string[] = [];
    const tx = new NonInviteClient(
      'k',
      request({ method: 'OPTIONS' }),
      UDP_DEST,
      timerDurations(DEFAULT_TIMER_CONFIG, false),
      fakeClock(),
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

  function input(type: NonInviteClientInput['type']): NonInviteClientInput {
    const req = request({ method: 'OPTIONS' });
    switch (type) {
      case 'response1xx':
        return { type, response: response(req, 100) };
      case 'response2xx':
        return { type, response: response(req, 200) };
      case 'response300to699':
        return { type, response: response(req, 404) };
      case 'transportError':
        return { type, error: new Error('x') };
      default:
        return { type };
    }
  }

  const reach: Record<NonInviteClientState, NonInviteClientInput['type'][]> = {
    trying: [],
    proceeding: ['response1xx'],
    completed: ['response2xx'],
    terminated: ['timerF'],
  };
  const ignored: Record<NonInviteClientState, NonInviteClientInput['type'][]> = {
    trying: ['timerK'],
    proceeding: ['timerK'],
    completed: ['response1xx', 'response2xx', 'response300to699', 'transportError', 'timerE', 'timerF'],
    terminated: ALL,
  };

  for (const [state, types] of Object.entries(ignored) as [
    NonInviteClientState,
    NonInviteClientInput['type'][],
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

  it('dispose goes quiet', () => {
    const m = machine();
    m.tx.dispose();
    expect(m.tx.state).toBe('terminated');
    expect(m.tu).toEqual([]);
  });
});
