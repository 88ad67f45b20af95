/**
 * LegSession on the fake clock (RFC 4028 §10): when a refresh goes, what each outcome does, and when a
 * leg whose peer should refresh expires.
 */
import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { LegSession } from '../../pbx/b2bua/session-refresh.js';
import type { RefreshMethod, RefreshOutcome } from '../../pbx/b2bua/session-refresh.js';
import { createRequest, createResponse, hdr } from '../../pbx/sip/index.js';
import type { SipHeader } from '../../pbx/sip/index.js';

interface Sent {
  method: RefreshMethod;
  seconds: number;
  at: number;
  done: (o: RefreshOutcome) => void;
}

function setup(opts: { allowsUpdate?: boolean; busy?: () => boolean } = {}) {
  const clock = fakeClock();
  const sent: Sent[] = [];
  const ended: string[] = [];
  const session = new LegSession(
    {
      clock,
      sendRefresh(method, seconds, done) {
        if (opts.busy?.() === true) return false;
        sent.push({ method, seconds, at: clock.now(), done });
        return true;
      },
      expired: (reason) => ended.push(reason),
    },
    opts.allowsUpdate ?? true,
  );
  return { clock, sent, ended, session };
}

const req = createRequest({
  method: 'UPDATE',
  uri: 'sip:a@127.0.0.1',
  headers: [
    hdr('Via', 'SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKlr'),
    hdr('From', '<sip:b@h>;tag=1'),
    hdr('To', '<sip:a@h>;tag=2'),
    hdr('Call-ID', 'lr'),
    hdr('CSeq', '2 UPDATE'),
  ],
});
const response = (status: number, ...headers: SipHeader[]): RefreshOutcome => ({
  kind: 'response',
  res: createResponse(req, status, undefined, { headers }),
});

const REFRESHER = { intervalSeconds: 60, weRefresh: true, negotiated: true };

describe('LegSession as the refresher', () => {
  it('refreshes with UPDATE at half the interval and again after each 2xx', () => {
    const { clock, sent, ended, session } = setup();
    session.refreshed(REFRESHER);
    clock.advance(29_999);
    expect(sent).toHaveLength(0);
    clock.advance(1);
    expect(sent.map((s) => [s.method, s.seconds, s.at])).toEqual([['UPDATE', 60, 30_000]]);
    expect(session.refreshing).toBe(true);
    sent[0]?.done(response(200, hdr('Session-Expires', '60;refresher=uac')));
    expect(session.refreshing).toBe(false);
    clock.advance(30_000);
    expect(sent).toHaveLength(2);
    expect(ended).toEqual([]);
  });

  it('uses re-INVITE when the peer does not allow UPDATE', () => {
    const { clock, sent, session } = setup({ allowsUpdate: false });
    session.refreshed(REFRESHER);
    clock.advance(30_000);
    expect(sent[0]?.method).toBe('INVITE');
  });

  it('falls back to re-INVITE at once when UPDATE gets 405 or 501', () => {
    for (const status of [405, 501]) {
      const { clock, sent, session } = setup();
      session.refreshed(REFRESHER);
      clock.advance(30_000);
      sent[0]?.done(response(status));
      expect(sent.map((s) => s.method)).toEqual(['UPDATE', 'INVITE']);
    }
  });

  it.each<[string, RefreshOutcome]>([
    ['408', response(408)],
    ['481', response(481)],
    ['a timeout', { kind: 'timeout' }],
    ['a transport error', { kind: 'transportError' }],
  ])('ends the call when the refresh meets %s', (_name, outcome) => {
    const { clock, sent, ended, session } = setup();
    session.refreshed(REFRESHER);
    clock.advance(30_000);
    sent[0]?.done(outcome);
    expect(ended).toEqual(['session-refresh-failed']);
  });

  it('retries a 491 every 2 s and ends the call when the session runs out', () => {
    const { clock, sent, ended, session } = setup();
    session.refreshed(REFRESHER); // expires at 60 - 20 = 40 s
    clock.advance(30_000);
    sent[0]?.done(response(491));
    clock.advance(2000);
    expect(sent).toHaveLength(2);
    for (;;) {
      const last = sent.at(-1);
      if (last === undefined || ended.length > 0 || clock.now() > 60_000) break;
      last.done(response(500));
      clock.advance(2000);
    }
    expect(ended).toEqual(['session-refresh-failed']);
    expect(clock.now()).toBeLessThanOrEqual(42_000);
  });

  it('a 422 raises the interval to its Min-SE and retries at once', () => {
    const { clock, sent, session } = setup();
    session.refreshed(REFRESHER);
    clock.advance(30_000);
    sent[0]?.done(response(422, hdr('Min-SE', '120')));
    expect(sent.map((s) => s.seconds)).toEqual([60, 120]);
  });

  it('waits while another offer is pending', () => {
    let busy = true;
    const { clock, sent, session } = setup({ busy: () => busy });
    session.refreshed(REFRESHER);
    clock.advance(30_000);
    expect(sent).toHaveLength(0);
    busy = false;
    clock.advance(2000);
    expect(sent).toHaveLength(1);
  });

  it('follows a 2xx that hands refreshing to the peer', () => {
    const { clock, sent, ended, session } = setup();
    session.refreshed(REFRESHER);
    clock.advance(30_000);
    sent[0]?.done(response(200, hdr('Session-Expires', '60;refresher=uas')));
    expect(session.agreed?.weRefresh).toBe(false);
    clock.advance(40_000);
    expect(sent).toHaveLength(1);
    expect(ended).toEqual(['session-expired']);
  });
});

describe('LegSession when the peer refreshes', () => {
  const PEER = { intervalSeconds: 90, weRefresh: false, negotiated: true };

  it('expires at interval - min(32, interval/3) without a refresh', () => {
    const { clock, ended, session } = setup();
    session.refreshed(PEER);
    clock.advance(59_999);
    expect(ended).toEqual([]);
    clock.advance(1);
    expect(ended).toEqual(['session-expired']);
  });

  it('a refresh re-arms the expiry', () => {
    const { clock, ended, session } = setup();
    session.refreshed(PEER);
    clock.advance(50_000);
    session.refreshed(PEER);
    clock.advance(50_000);
    expect(ended).toEqual([]);
    clock.advance(10_000);
    expect(ended).toEqual(['session-expired']);
  });

  it('close() stops everything, and an outcome after close is ignored', () => {
    const { clock, sent, ended, session } = setup();
    session.refreshed(REFRESHER);
    clock.advance(30_000);
    session.close();
    session.close();
    sent[0]?.done({ kind: 'timeout' });
    clock.advance(600_000);
    expect(ended).toEqual([]);
    expect(clock.pending()).toBe(0);
  });
});
