import { describe, expect, it } from 'vitest';
import { createRequest, hdr, withHeader } from '../../pbx/sip/index.js';
import type { SipResponse } from '../../pbx/sip/index.js';
import { createCancel } from '../../pbx/transaction/index.js';
import type { ServerTransaction } from '../../pbx/transaction/index.js';
import { legacyToTagMatches, responseKey, serverMatch } from '../../pbx/transaction/matching.js';
import { UDP_DEST, UDP_SOURCE, harness, recordingUser, request, response } from './helpers.js';
import type { Harness } from './helpers.js';

function accept(h: Harness, req = request()): ServerTransaction {
  const d = h.layer.receiveRequest(req, UDP_SOURCE);
  if (d.kind !== 'new') throw new Error(`expected new, got ${d.kind}`);
  return d.tx;
}

describe('server transaction matching (RFC 3261 §17.2.3)', () => {
  it('same branch and sent-by but a different method is a different transaction', () => {
    const h = harness();
    accept(h, request({ method: 'INVITE' }));
    expect(h.layer.receiveRequest(request({ method: 'OPTIONS' }), UDP_SOURCE).kind).toBe('new');
    expect(h.layer.size().server).toBe(2);
  });

  it('same branch but a different sent-by is a different transaction', () => {
    const h = harness();
    accept(h, request({ sentBy: '192.0.2.10:5062' }));
    expect(h.layer.receiveRequest(request({ sentBy: '192.0.2.11:5062' }), UDP_SOURCE).kind).toBe('new');
    expect(h.layer.receiveRequest(request({ sentBy: '192.0.2.10' }), UDP_SOURCE).kind).toBe('new');
    expect(h.layer.receiveRequest(request({ sentBy: '192.0.2.10' }), UDP_SOURCE).kind).toBe('retransmission');
    expect(h.layer.size().server).toBe(3);
  });

  it('an ACK for a 2xx (its own branch) matches no transaction and goes to the TU', () => {
    const h = harness();
    const tx = accept(h);
    tx.respond(response(tx.request, 200));
    const ack2xx = request({ method: 'ACK', branch: 'z9hG4bK-other', toTag: 'totag9' });
    expect(h.layer.receiveRequest(ack2xx, UDP_SOURCE)).toEqual({ kind: 'ack2xx' });
    expect(h.layer.size().server).toBe(1);
  });

  it('a stray ACK creates no transaction', () => {
    const h = harness();
    expect(h.layer.receiveRequest(request({ method: 'ACK' }), UDP_SOURCE)).toEqual({ kind: 'ack2xx' });
    expect(h.layer.size().server).toBe(0);
  });

  it('CANCEL gets its own transaction and finds the INVITE it cancels (§9.2)', () => {
    const h = harness();
    const invite = accept(h);
    const cancel = createCancel(invite.request);
    const d = h.layer.receiveRequest(cancel, UDP_SOURCE);
    expect(d.kind).toBe('new');
    if (d.kind === 'new') expect(d.tx.kind).toBe('nonInvite');
    expect(h.layer.findInviteServerTransaction(cancel)).toBe(invite);
    expect(h.layer.receiveRequest(cancel, UDP_SOURCE).kind).toBe('retransmission');
    expect(
      h.layer.findInviteServerTransaction(createCancel(request({ branch: 'z9hG4bK-nope' }))),
    ).toBeUndefined();
    expect(h.layer.size().server).toBe(2);
  });

  it('a CANCEL does not find a non-INVITE transaction on the same branch', () => {
    const h = harness();
    accept(h, request({ method: 'INVITE', cseqMethod: 'INVITE', branch: 'z9hG4bK-a' }));
    const options = request({ method: 'OPTIONS', branch: 'z9hG4bK-b' });
    accept(h, options);
    expect(h.layer.findInviteServerTransaction(createCancel(options))).toBeUndefined();
  });

  describe('RFC 2543 fallback (branch without the magic cookie)', () => {
    const legacy = (opts: Parameters<typeof request>[0] = {}) => request({ branch: '1a2b3c', ...opts });

    it('absorbs retransmissions and resends the last provisional', () => {
      const h = harness();
      const tx = accept(h, legacy());
      tx.respond(response(tx.request, 180));
      expect(h.layer.receiveRequest(legacy(), UDP_SOURCE)).toEqual({ kind: 'retransmission' });
      expect(h.lines()).toEqual(['180', '180']);
    });

    it('works without any branch parameter', () => {
      const h = harness();
      const noBranch = withHeader(legacy(), 'Via', 'SIP/2.0/UDP 192.0.2.10:5062');
      accept(h, noBranch);
      expect(h.layer.receiveRequest(noBranch, UDP_SOURCE)).toEqual({ kind: 'retransmission' });
    });

    it.each([
      ['Request-URI', { uri: 'sip:carol@biloxi.example.com' }],
      ['Call-ID', { callId: 'other-call' }],
      ['CSeq', { cseq: 2 }],
      ['To tag', { toTag: 'x' }],
      ['top Via', { sentBy: '192.0.2.99:5062' }],
      ['method', { method: 'OPTIONS' }],
    ] as const)('a different %s is a new transaction', (_field, opts) => {
      const h = harness();
      accept(h, legacy());
      expect(h.layer.receiveRequest(legacy(opts), UDP_SOURCE).kind).toBe('new');
      expect(h.layer.size().server).toBe(2);
    });

    it('matches the ACK of a non-2xx final by the To tag of the response', () => {
      const h = harness();
      const tx = accept(h, legacy());
      tx.respond(response(tx.request, 486, 'srv-tag'));
      expect(h.layer.receiveRequest(legacy({ method: 'ACK', toTag: 'other' }), UDP_SOURCE)).toEqual({
        kind: 'ack2xx',
      });
      expect(h.layer.receiveRequest(legacy({ method: 'ACK', toTag: 'srv-tag' }), UDP_SOURCE)).toEqual({
        kind: 'ack',
      });
      expect(tx.state).toBe('confirmed');
    });

    it('finds the INVITE a legacy CANCEL cancels, and forgets terminated transactions', () => {
      const h = harness();
      const tx = accept(h, legacy());
      const other = accept(h, legacy({ toTag: 'second' }));
      const cancel = createCancel(tx.request);
      expect(h.layer.findInviteServerTransaction(cancel)).toBe(tx);
      expect(h.layer.size().server).toBe(2);
      tx.respond(response(tx.request, 200));
      other.respond(response(other.request, 200));
      h.clock.advance(32_000);
      expect(h.layer.size().server).toBe(0);
      expect(h.layer.findInviteServerTransaction(cancel)).toBeUndefined();
    });
  });

  it('legacyToTagMatches compares an ACK with the original request when no response was sent', () => {
    const inv = request({ branch: 'x' });
    expect(legacyToTagMatches(request({ method: 'ACK', branch: 'x' }), inv, undefined)).toBe(true);
    const bad = withHeader(request({ method: 'ACK' }), 'To', '<<<');
    expect(legacyToTagMatches(bad, inv, undefined)).toBe(true);
  });

  it('serverMatch keys on branch, sent-by and method', () => {
    expect(serverMatch(request(), 'INVITE')).toEqual({
      key: 'z9hG4bK-tx1|192.0.2.10:5062|INVITE',
      legacy: false,
    });
  });
});

describe('client transaction matching (RFC 3261 §17.1.3)', () => {
  it('matches by branch and CSeq method: INVITE and CANCEL on one branch are separate', () => {
    const h = harness();
    const inviteUser = recordingUser();
    const cancelUser = recordingUser();
    const invite = request();
    h.layer.sendRequest(invite, UDP_DEST, inviteUser);
    h.layer.receiveResponse(response(invite, 180));
    const cancel = createCancel(invite);
    h.layer.sendRequest(cancel, UDP_DEST, cancelUser);
    expect(h.layer.size().client).toBe(2);
    h.layer.receiveResponse(response(cancel, 200));
    h.layer.receiveResponse(response(invite, 487));
    expect(cancelUser.events[0]).toBe('response 200 completed');
    expect(inviteUser.events).toEqual(['response 180 proceeding', 'response 487 completed']);
  });

  it('ignores the sent-by of the response (§17.1.3)', () => {
    const h = harness();
    const user = recordingUser();
    const req = request({ method: 'OPTIONS' });
    h.layer.sendRequest(req, UDP_DEST, user);
    const res = withHeader(response(req, 200), 'Via', 'SIP/2.0/UDP 203.0.113.1:9999;branch=z9hG4bK-tx1');
    expect(h.layer.receiveResponse(res)).toBe(true);
  });

  it('unknown branch, unknown method or a malformed response is stray', () => {
    const h = harness();
    const strays: SipResponse[] = [];
    h.layer.onStrayResponse((res) => strays.push(res));
    const req = request({ method: 'OPTIONS' });
    h.layer.sendRequest(req, UDP_DEST, recordingUser());
    expect(h.layer.receiveResponse(response(request({ method: 'OPTIONS', branch: 'z9hG4bK-x' }), 200))).toBe(
      false,
    );
    expect(h.layer.receiveResponse(response(request({ method: 'INFO' }), 200))).toBe(false);
    const noVia = {
      ...response(req, 200),
      headers: response(req, 200).headers.filter((x) => x.key !== 'via'),
    };
    expect(h.layer.receiveResponse(noVia)).toBe(false);
    const noBranch = withHeader(response(req, 200), 'Via', 'SIP/2.0/UDP 192.0.2.10:5062');
    expect(h.layer.receiveResponse(noBranch)).toBe(false);
    expect(strays).toHaveLength(4);
  });

  it('responseKey is undefined for a response without CSeq', () => {
    const res = response(request(), 200);
    expect(responseKey({ ...res, headers: res.headers.filter((x) => x.key !== 'cseq') })).toBeUndefined();
  });

  it('a response built from scratch still matches', () => {
    const h = harness();
    const req = createRequest({
      method: 'MESSAGE',
      uri: 'sip:bob@example.com',
      headers: [hdr('Via', 'SIP/2.0/UDP h:5060;branch=z9hG4bKm'), hdr('CSeq', '5 MESSAGE')],
    });
    h.layer.sendRequest(req, UDP_DEST, recordingUser());
    expect(h.layer.receiveResponse(response(req, 200))).toBe(true);
  });
});
