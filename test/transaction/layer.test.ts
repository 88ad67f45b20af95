import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { PbxError } from '../../pbx/core/errors.js';
import { createResponse, header, headerLines, withHeader } from '../../pbx/sip/index.js';
import { DEFAULT_TIMER_CONFIG, createCancel, createTransactionLayer } from '../../pbx/transaction/index.js';
import { timerConfig, timerDurations } from '../../pbx/transaction/timers.js';
import {
  TCP_SOURCE,
  UDP_DEST,
  UDP_SOURCE,
  flush,
  harness,
  recordingUser,
  request,
  response,
} from './helpers.js';

describe('transaction layer', () => {
  it('refuses ACK, a branch without the magic cookie and a duplicate transaction', () => {
    const h = harness();
    const user = recordingUser();
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return err instanceof PbxError ? err.code : 'not a PbxError';
      }
      return undefined;
    };
    expect(codeOf(() => h.layer.sendRequest(request({ method: 'ACK' }), UDP_DEST, user))).toBe(
      'PBX_ERR_TRANSACTION_ACK',
    );
    expect(codeOf(() => h.layer.sendRequest(request({ branch: 'abc' }), UDP_DEST, user))).toBe(
      'PBX_ERR_TRANSACTION_BRANCH',
    );
    const noBranch = withHeader(request(), 'Via', 'SIP/2.0/UDP 192.0.2.10:5062');
    expect(codeOf(() => h.layer.sendRequest(noBranch, UDP_DEST, user))).toBe('PBX_ERR_TRANSACTION_BRANCH');
    h.layer.sendRequest(request(), UDP_DEST, user);
    expect(codeOf(() => h.layer.sendRequest(request(), UDP_DEST, user))).toBe('PBX_ERR_TRANSACTION_EXISTS');
    expect(h.layer.size()).toEqual({ client: 1, server: 0 });
  });

  it('a full B2BUA exchange leaves no transaction and no timer behind', () => {
    const h = harness();
    // A-leg: INVITE in, 100 + 180 out, CANCEL in, 200 to CANCEL, 487 to INVITE, ACK in.
    const aInvite = request({ branch: 'z9hG4bK-a' });
    const d = h.layer.receiveRequest(aInvite, UDP_SOURCE);
    if (d.kind !== 'new') throw new Error('expected new');
    const a = d.tx;
    a.respond(createResponse(aInvite, 100));
    // B-leg: INVITE out, 180 in.
    const bUser = recordingUser();
    const bInvite = request({ branch: 'z9hG4bK-b', callId: 'b-leg', sentBy: '192.0.2.1:5060' });
    h.layer.sendRequest(bInvite, UDP_DEST, bUser);
    h.layer.receiveResponse(response(bInvite, 180, 'b-tag'));
    a.respond(response(aInvite, 180, 'a-tag'));
    // A cancels.
    const aCancel = createCancel(aInvite);
    const c = h.layer.receiveRequest(aCancel, UDP_SOURCE);
    if (c.kind !== 'new') throw new Error('expected new');
    expect(h.layer.findInviteServerTransaction(aCancel)).toBe(a);
    c.tx.respond(response(aCancel, 200, 'a-tag'));
    // B is cancelled too; B answers 200 to CANCEL and 487 to INVITE, which the transaction ACKs.
    const bCancel = createCancel(bInvite);
    const bCancelUser = recordingUser();
    h.layer.sendRequest(bCancel, UDP_DEST, bCancelUser);
    h.layer.receiveResponse(response(bCancel, 200, 'b-tag'));
    h.layer.receiveResponse(response(bInvite, 487, 'b-tag'));
    a.respond(response(aInvite, 487, 'a-tag'));
    expect(
      h.layer.receiveRequest(request({ method: 'ACK', branch: 'z9hG4bK-a', toTag: 'a-tag' }), UDP_SOURCE),
    ).toEqual({ kind: 'ack' });
    expect(h.lines()).toEqual(['100', 'INVITE', '180', '200', 'CANCEL', 'ACK', '487']);
    expect(bUser.events).toEqual(['response 180 proceeding', 'response 487 completed']);
    h.clock.advance(64_000);
    expect(bUser.events.at(-1)).toBe('terminated terminated');
    expect(bCancelUser.events).toEqual(['response 200 completed', 'terminated terminated']);
    expect(h.layer.size()).toEqual({ client: 0, server: 0 });
    expect(h.clock.pending()).toBe(0);
  });

  it('a 2xx exchange over TCP terminates on its own timers', () => {
    const h = harness();
    const req = request({ transport: 'TCP' });
    const d = h.layer.receiveRequest(req, TCP_SOURCE);
    if (d.kind !== 'new') throw new Error('expected new');
    d.tx.respond(response(req, 200));
    expect(
      h.layer.receiveRequest(request({ method: 'ACK', branch: 'z9hG4bK-2xx', transport: 'TCP' }), TCP_SOURCE),
    ).toEqual({
      kind: 'ack2xx',
    });
    const user = recordingUser();
    h.layer.sendRequest(
      request({ branch: 'z9hG4bK-out', transport: 'TCP' }),
      { ...UDP_DEST, transport: 'tcp' },
      user,
    );
    h.layer.receiveResponse(response(request({ branch: 'z9hG4bK-out' }), 200));
    h.clock.advance(32_000);
    expect(h.layer.size()).toEqual({ client: 0, server: 0 });
    expect(h.clock.pending()).toBe(0);
  });

  it('stop() clears every timer and forgets every transaction without callbacks', () => {
    const h = harness();
    const user = recordingUser();
    h.layer.sendRequest(request({ branch: 'z9hG4bK-c1' }), UDP_DEST, user);
    h.layer.sendRequest(request({ branch: 'z9hG4bK-c2', method: 'OPTIONS' }), UDP_DEST, user);
    const s = h.layer.receiveRequest(request({ branch: 'z9hG4bK-s1' }), UDP_SOURCE);
    if (s.kind === 'new') s.tx.respond(response(s.tx.request, 486));
    h.layer.receiveRequest(request({ branch: 'z9hG4bK-s2', method: 'OPTIONS' }), UDP_SOURCE);
    h.layer.receiveRequest(request({ branch: 'legacy' }), UDP_SOURCE);
    expect(h.layer.size()).toEqual({ client: 2, server: 3 });
    expect(h.clock.pending()).toBeGreaterThan(0);
    h.layer.stop();
    expect(h.layer.size()).toEqual({ client: 0, server: 0 });
    expect(h.clock.pending()).toBe(0);
    h.clock.advance(100_000);
    expect(user.events).toEqual([]);
    h.layer.stop();
  });

  it('a TU may stop the layer from inside a callback', () => {
    const h = harness();
    const req = request();
    const user = { ...recordingUser(), onResponse: () => h.layer.stop() };
    const tx = h.layer.sendRequest(req, UDP_DEST, user);
    h.layer.receiveResponse(response(req, 486));
    expect(tx.state).toBe('terminated');
    expect(h.clock.pending()).toBe(0);
    const tx2 = h.layer.sendRequest(request({ method: 'OPTIONS' }), UDP_DEST, user);
    h.layer.receiveResponse(response(request({ method: 'OPTIONS' }), 200));
    expect(tx2.state).toBe('terminated');
    expect(h.clock.pending()).toBe(0);
  });

  it('a rejection that is not an Error still reaches the TU as an Error', async () => {
    const clock = fakeClock();
    const layer = createTransactionLayer({
      clock,
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      send: () => Promise.reject('socket closed'),
      timers: { t1Ms: 100 },
    });
    const user = recordingUser();
    layer.sendRequest(request({ method: 'OPTIONS' }), UDP_DEST, user);
    await flush();
    expect(user.errors[0]).toBeInstanceOf(PbxError);
    expect(user.errors[0]?.message).toBe('socket closed');
    expect(layer.size().client).toBe(0);
  });
});

describe('createCancel (RFC 3261 §9.1)', () => {
  it('copies Request-URI, Call-ID, To, From, CSeq number, the top Via only and Route', () => {
    const invite = request({ cseq: 42 });
    const cancel = createCancel(invite);
    expect(cancel.method).toBe('CANCEL');
    expect(cancel.uri).toBe(invite.uri);
    expect(headerLines(cancel, 'via')).toEqual(['SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-tx1;rport']);
    expect(headerLines(cancel, 'route')).toEqual([
      '<sip:proxy1.example.com;lr>',
      '<sip:proxy2.example.com;lr>',
    ]);
    for (const name of ['call-id', 'to', 'from']) expect(header(cancel, name)).toBe(header(invite, name));
    expect(header(cancel, 'cseq')).toBe('42 CANCEL');
    expect(header(cancel, 'max-forwards')).toBe('69');
    expect(header(cancel, 'contact')).toBeUndefined();
  });

  it('keeps the first Via of a comma-joined line and defaults Max-Forwards to 70', () => {
    const invite = withHeader(
      { ...request(), headers: request().headers.filter((x) => x.key !== 'max-forwards') },
      'Via',
      'SIP/2.0/UDP a.example:5060;branch=z9hG4bKx, SIP/2.0/UDP b.example;branch=z9hG4bKy',
    );
    const cancel = createCancel(invite);
    expect(headerLines(cancel, 'via')).toEqual(['SIP/2.0/UDP a.example:5060;branch=z9hG4bKx']);
    expect(header(cancel, 'max-forwards')).toBe('70');
  });

  it('throws a PbxError for an INVITE without Via', () => {
    const invite = { ...request(), headers: request().headers.filter((x) => x.key !== 'via') };
    expect(() => createCancel(invite)).toThrow(PbxError);
  });
});

describe('timers (RFC 3261 Table 4, RFC 6026)', () => {
  it('has the RFC defaults', () => {
    expect(DEFAULT_TIMER_CONFIG).toEqual({ t1Ms: 500, t2Ms: 4000, t4Ms: 5000, dMs: 32_000 });
    expect(timerConfig()).toEqual(DEFAULT_TIMER_CONFIG);
  });

  it('derives every timer for UDP and TCP', () => {
    expect(timerDurations(DEFAULT_TIMER_CONFIG, false)).toEqual({
      A: 500,
      B: 32000,
      D: 32000,
      E: 500,
      F: 32000,
      G: 500,
      H: 32000,
      I: 5000,
      J: 32000,
      K: 5000,
      L: 32000,
      M: 32000,
      T2: 4000,
    });
    expect(timerDurations(DEFAULT_TIMER_CONFIG, true)).toEqual({
      A: undefined,
      B: 32000,
      D: 0,
      E: undefined,
      F: 32000,
      G: undefined,
      H: 32000,
      I: 0,
      J: 0,
      K: 0,
      L: 32000,
      M: 32000,
      T2: 4000,
    });
  });

  it.each([{ t1Ms: 0 }, { t2Ms: -1 }, { t4Ms: Number.NaN }, { t1Ms: 5000, t2Ms: 4000 }])(
    'rejects %j',
    (overrides) => {
      expect(() => timerConfig(overrides)).toThrow(PbxError);
      expect(() =>
        createTransactionLayer({ clock: fakeClock(), send: () => Promise.resolve(), timers: overrides }),
      ).toThrow(/must/);
    },
  );
});

describe('Timer D override', () => {
  it('uses dMs on UDP, never below 64*T1, and 0 on TCP', () => {
    expect(timerDurations(timerConfig({ t1Ms: 20, dMs: 100 }), false).D).toBe(1280);
    expect(timerDurations(timerConfig({ t1Ms: 20, dMs: 5000 }), false).D).toBe(5000);
    expect(timerDurations(timerConfig({ dMs: 5000 }), true).D).toBe(0);
  });
});

describe('unanswered()', () => {
  it('counts transactions without a final response, client and server', () => {
    const h = harness();
    const invite = request({ method: 'OPTIONS', branch: 'z9hG4bKun1' });
    h.layer.sendRequest(invite, UDP_DEST, recordingUser());
    expect(h.layer.unanswered()).toBe(1);
    h.layer.receiveResponse(response(invite, 200));
    expect(h.layer.unanswered()).toBe(0);
    const incoming = request({ method: 'BYE', branch: 'z9hG4bKun2', toTag: 't' });
    const disposition = h.layer.receiveRequest(incoming, UDP_SOURCE);
    expect(h.layer.unanswered()).toBe(1);
    if (disposition.kind === 'new') disposition.tx.respond(response(incoming, 200));
    expect(h.layer.unanswered()).toBe(0);
    h.layer.stop();
  });
});
