import { describe, expect, it } from 'vitest';
import { ALLOWED_METHODS, localResponse } from '../../pbx/b2bua/local-uas.js';
import { header, parseMessage, tagOf, toHeader } from '../../pbx/sip/index.js';
import type { SipRequest } from '../../pbx/sip/index.js';

const opts = {
  userAgent: 'sippbx-test',
  toTag: () => 'tag1',
  wallClock: () => Date.UTC(2026, 10, 28, 12, 0, 0),
};

function request(method: string, extra: string[] = []): SipRequest {
  const text = [
    `${method} sip:bob@example.com SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc',
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:alice@example.com>',
    'Call-ID: cid-1',
    `CSeq: 1 ${method}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

describe('localResponse', () => {
  it('answers OPTIONS with 200, Allow, Accept and Supported, and a To tag', () => {
    const res = localResponse(request('OPTIONS'), opts);
    expect(res?.status).toBe(200);
    expect(header(res!, 'Allow')).toBe(ALLOWED_METHODS.join(', '));
    expect(header(res!, 'Accept')).toBe('application/sdp');
    expect(header(res!, 'Supported')).toBe('100rel');
    expect(tagOf(toHeader(res!))).toBe('tag1');
    expect(header(res!, 'Call-ID')).toBe('cid-1');
  });

  it('answers other methods with 501 and ACK with nothing', () => {
    expect(localResponse(request('INVITE'), opts)?.status).toBe(501);
    expect(localResponse(request('MESSAGE'), opts)?.status).toBe(501);
    expect(localResponse(request('REGISTER'), opts)?.status).toBe(501); // the registrar's job, not this
    expect(localResponse(request('ACK'), opts)).toBeUndefined();
  });
});
