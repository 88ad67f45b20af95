/** RFC 4028 negotiation as pure functions: parsing, the UAS decision (§9), the UAC reading (§7.2), the timings (§10). */
import { describe, expect, it } from 'vitest';
import {
  expiryDelayMs,
  minSe,
  refreshDelayMs,
  sessionExpires,
  supportsTimer,
  uacAgreed,
  uacTimerHeaders,
  uasDecide,
} from '../../pbx/dialog/index.js';
import type { SessionTimerConfig } from '../../pbx/dialog/index.js';
import { SipParseError, createRequest, createResponse, hdr, header } from '../../pbx/sip/index.js';
import type { SipHeader, SipRequest } from '../../pbx/sip/index.js';

const CONFIG: SessionTimerConfig = { enabled: true, expiresSeconds: 1800, minSeSeconds: 90 };

function invite(...extra: SipHeader[]): SipRequest {
  return createRequest({
    method: 'INVITE',
    uri: 'sip:bob@127.0.0.1',
    headers: [
      hdr('Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKst1'),
      hdr('From', '<sip:alice@127.0.0.1>;tag=a1'),
      hdr('To', '<sip:bob@127.0.0.1>'),
      hdr('Call-ID', 'st-1'),
      hdr('CSeq', '1 INVITE'),
      ...extra,
    ],
  });
}

describe('Session-Expires and Min-SE parsing', () => {
  it.each([
    ['1800', { seconds: 1800, refresher: undefined }],
    ['1800;refresher=uac', { seconds: 1800, refresher: 'uac' }],
    [' 90 ; Refresher = UAS ', { seconds: 90, refresher: 'uas' }],
    ['600;refresher=other;x=1', { seconds: 600, refresher: undefined }],
  ])('reads %j', (value, expected) => {
    expect(sessionExpires(invite(hdr('Session-Expires', value)))).toEqual(expected);
  });

  it('reads the compact form x', () => {
    expect(sessionExpires(invite(hdr('x', '300;refresher=uac')))?.seconds).toBe(300);
  });

  it.each(['', 'abc', '-5', '1.5', '99999999999', '12345678901'])(
    'refuses Session-Expires %j with SipParseError',
    (value) => {
      expect(() => sessionExpires(invite(hdr('Session-Expires', value)))).toThrow(SipParseError);
    },
  );

  it('reads Min-SE and refuses a malformed one', () => {
    expect(minSe(invite(hdr('Min-SE', '120')))).toBe(120);
    expect(minSe(invite())).toBeUndefined();
    expect(() => minSe(invite(hdr('Min-SE', 'soon')))).toThrow(SipParseError);
  });

  it('sees timer support in Supported or Require', () => {
    expect(supportsTimer(invite(hdr('Supported', '100rel, timer')))).toBe(true);
    expect(supportsTimer(invite(hdr('Require', 'timer')))).toBe(true);
    expect(supportsTimer(invite(hdr('Supported', '100rel')))).toBe(false);
  });
});

describe('uasDecide (RFC 4028 §9)', () => {
  it.each([
    {
      name: 'no timer support, no Session-Expires: we refresh at our interval, no Require',
      headers: [],
      interval: 1800,
      refresher: 'uas',
      require: false,
      weRefresh: true,
    },
    {
      name: 'support without Session-Expires: we still refresh (liveness rests on us)',
      headers: [hdr('Supported', 'timer')],
      interval: 1800,
      refresher: 'uas',
      require: false,
      weRefresh: true,
    },
    {
      name: 'a longer interval is lowered to ours',
      headers: [hdr('Supported', 'timer'), hdr('Session-Expires', '7200;refresher=uac')],
      interval: 1800,
      refresher: 'uac',
      require: true,
      weRefresh: false,
    },
    {
      name: 'a shorter interval is kept, and refresher=uas makes us refresh',
      headers: [hdr('Supported', 'timer'), hdr('Session-Expires', '600;refresher=uas')],
      interval: 600,
      refresher: 'uas',
      require: false,
      weRefresh: true,
    },
    {
      name: 'never below the request Min-SE when lowering',
      headers: [hdr('Supported', 'timer'), hdr('Session-Expires', '7200'), hdr('Min-SE', '3600')],
      interval: 3600,
      refresher: 'uas',
      require: false,
      weRefresh: true,
    },
    {
      name: 'too small without timer support: raised to our Min-SE, not refused',
      headers: [hdr('Session-Expires', '30')],
      interval: 90,
      refresher: 'uas',
      require: false,
      weRefresh: true,
    },
  ])('$name', ({ headers, interval, refresher, require, weRefresh }) => {
    const decision = uasDecide(invite(...headers), CONFIG);
    if (decision.kind !== 'accept') throw new Error('expected accept');
    expect(decision.timer.intervalSeconds).toBe(interval);
    expect(decision.timer.weRefresh).toBe(weRefresh);
    const res = createResponse(invite(), 200, 'OK', { headers: decision.headers });
    expect(header(res, 'session-expires')).toBe(`${interval};refresher=${refresher}`);
    expect(header(res, 'require')).toBe(require ? 'timer' : undefined);
  });

  it('refuses a too small interval with 422 and our Min-SE when the caller supports timers', () => {
    const decision = uasDecide(invite(hdr('Supported', 'timer'), hdr('Session-Expires', '30')), CONFIG);
    if (decision.kind !== 'refuse') throw new Error('expected a refusal');
    expect(decision.status).toBe(422);
    expect(decision.reason).toBe('Session Interval Too Small');
    expect(decision.headers.map((h) => [h.key, h.value])).toEqual([['min-se', '90']]);
  });

  it.each([[hdr('Session-Expires', 'soon')], [hdr('Min-SE', '-1')], [hdr('Supported', 'ti mer')]])(
    'refuses a malformed %j with 400',
    (bad) => {
      const decision = uasDecide(invite(bad), CONFIG);
      expect(decision.kind === 'refuse' && decision.status).toBe(400);
    },
  );
});

describe('uacAgreed (RFC 4028 §7.2)', () => {
  const ok = (...headers: SipHeader[]) => createResponse(invite(), 200, 'OK', { headers });

  it('follows the 2xx', () => {
    expect(uacAgreed(ok(hdr('Session-Expires', '900;refresher=uac')), 1800)).toEqual({
      intervalSeconds: 900,
      weRefresh: true,
      negotiated: true,
    });
    expect(uacAgreed(ok(hdr('Session-Expires', '900;refresher=uas')), 1800).weRefresh).toBe(false);
  });

  it('without Session-Expires we keep our interval and refresh as a keepalive', () => {
    expect(uacAgreed(ok(), 1800)).toEqual({ intervalSeconds: 1800, weRefresh: true, negotiated: false });
  });

  it('a malformed Session-Expires in a 2xx counts as absent', () => {
    expect(uacAgreed(ok(hdr('Session-Expires', 'bogus')), 600).negotiated).toBe(false);
  });

  it('our request headers ask to refresh', () => {
    const headers = uacTimerHeaders(CONFIG, 1800);
    expect(headers.map((h) => [h.key, h.value])).toEqual([
      ['session-expires', '1800;refresher=uac'],
      ['min-se', '90'],
    ]);
  });
});

describe('timings (RFC 4028 §10)', () => {
  it('refreshes at half the interval and expires at interval - min(32, interval/3)', () => {
    const t = { intervalSeconds: 1800, weRefresh: true, negotiated: true };
    expect(refreshDelayMs(t)).toBe(900_000);
    expect(expiryDelayMs(t)).toBe(1_768_000);
    expect(expiryDelayMs({ ...t, intervalSeconds: 90 })).toBe(60_000);
    expect(expiryDelayMs({ ...t, intervalSeconds: 6 })).toBe(4000);
  });
});
