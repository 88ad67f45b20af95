import { describe, expect, it } from 'vitest';
import {
  createRequest,
  createResponse,
  hdr,
  header,
  headerLines,
  parseMessage,
  reasonPhrase,
  requestTransport,
  responseDestination,
  serialize,
  stampVia,
  topVia,
  viaValue,
} from '../../pbx/sip/index.js';
import type { SipRequest } from '../../pbx/sip/index.js';

function request(via: string, extra: string[] = []): SipRequest {
  const text = [
    'OPTIONS sip:bob@example.com SIP/2.0',
    `Via: ${via}`,
    'Via: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKlower',
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>',
    'Call-ID: cid-1',
    'CSeq: 1 OPTIONS',
    'Timestamp: 54',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

const udp = (address: string, port: number) => ({ transport: 'udp' as const, address, port });

describe('stampVia (RFC 3261 §18.2.1, RFC 3581)', () => {
  it('adds received when sent-by differs from the source, and leaves a matching Via alone', () => {
    const req = request('SIP/2.0/UDP host.example.com:5070;branch=z9hG4bK1');
    const stamped = stampVia(req, udp('192.0.2.5', 5070));
    expect(topVia(stamped).params.get('received')).toBe('192.0.2.5');
    expect(headerLines(stamped, 'via')[1]).toBe('SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKlower');
    const same = request('SIP/2.0/UDP 192.0.2.5:5070;branch=z9hG4bK1');
    expect(stampVia(same, udp('192.0.2.5', 5070))).toBe(same);
  });

  it('fills rport with the source port and adds received even when the host matches', () => {
    const stamped = stampVia(
      request('SIP/2.0/UDP 192.0.2.5:5070;branch=z9hG4bK1;rport'),
      udp('192.0.2.5', 40000),
    );
    expect(topVia(stamped).params.get('rport')).toBe('40000');
    expect(topVia(stamped).params.get('received')).toBe('192.0.2.5');
  });

  it('overwrites received and rport values a client wrote itself', () => {
    const forged = request('SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;received=198.51.100.1;rport=9');
    const stamped = stampVia(forged, udp('127.0.0.1', 5071));
    expect(topVia(stamped).params.get('received')).toBe('127.0.0.1');
    expect(topVia(stamped).params.get('rport')).toBe('5071');
    expect(responseDestination(topVia(stamped), udp('127.0.0.1', 5071))).toEqual(udp('127.0.0.1', 5071));
  });

  it('writes IPv6 received values without brackets (RFC 5118 §4.5)', () => {
    const stamped = stampVia(
      request('SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1'),
      udp('2001:db8::2', 5060),
    );
    expect(topVia(stamped).params.get('received')).toBe('2001:db8::2');
    expect(responseDestination(topVia(stamped), udp('2001:db8::2', 5060)).address).toBe('2001:db8::2');
  });
});

describe('responseDestination (RFC 3261 §18.2.2)', () => {
  it('answers TCP on the request connection', () => {
    const via = topVia(request('SIP/2.0/TCP h.example.com;branch=z9hG4bK1'));
    expect(
      responseDestination(via, { transport: 'tcp', address: '192.0.2.1', port: 3333, connectionId: 7 }),
    ).toEqual({
      transport: 'tcp',
      address: '192.0.2.1',
      port: 3333,
      connectionId: 7,
    });
  });

  it('uses the sent-by port, default 5060, without rport, and ignores maddr', () => {
    const via = topVia(
      stampVia(request('SIP/2.0/UDP h.example.com;branch=z9hG4bK1;maddr=224.0.1.75'), udp('192.0.2.1', 4444)),
    );
    expect(responseDestination(via, udp('192.0.2.1', 4444))).toEqual(udp('192.0.2.1', 5060));
  });
});

describe('createResponse (RFC 3261 §8.2.6)', () => {
  it('copies Via, From, To, Call-ID, CSeq, adds a To tag, and Timestamp only on 100', () => {
    const req = request('SIP/2.0/UDP 192.0.2.5;branch=z9hG4bK1');
    const ok = createResponse(req, 200, undefined, {
      toTag: 'xyz',
      body: Buffer.from('hi'),
      contentType: 'text/plain',
    });
    expect(headerLines(ok, 'via')).toHaveLength(2);
    expect(header(ok, 'to')).toBe('<sip:bob@example.com>;tag=xyz');
    expect(ok.reason).toBe('OK');
    expect(header(ok, 'timestamp')).toBeUndefined();
    expect(header(ok, 'content-length')).toBe('2');
    expect(header(ok, 'content-type')).toBe('text/plain');
    const trying = createResponse(req, 100, undefined, { toTag: 'xyz' });
    expect(header(trying, 'to')).toBe('<sip:bob@example.com>');
    expect(header(trying, 'timestamp')).toBe('54');
  });

  it('keeps an existing To tag and cleans a reason phrase of control characters', () => {
    const req = request('SIP/2.0/UDP 192.0.2.5;branch=z9hG4bK1', []);
    const tagged = {
      ...req,
      headers: req.headers.map((h) => (h.key === 'to' ? hdr('To', '<sip:b@h>;tag=keep') : h)),
    };
    const res = createResponse(tagged, 400, 'bad\r\nInjected: yes', { toTag: 'new' });
    expect(header(res, 'to')).toBe('<sip:b@h>;tag=keep');
    expect(res.reason).toBe('bad??Injected: yes');
    expect(parseMessage(serialize(res)).headers.some((h) => h.key === 'injected')).toBe(false);
  });

  it('knows the standard reason phrases', () => {
    expect(reasonPhrase(486)).toBe('Busy Here');
    expect(reasonPhrase(299)).toBe('OK');
    expect(reasonPhrase(199)).toBe('Progress');
    expect(reasonPhrase(499)).toBe('Error');
  });
});

describe('createRequest', () => {
  it('sets Content-Length and Content-Type from the body', () => {
    const req = createRequest({
      method: 'MESSAGE',
      uri: 'sip:bob@example.com',
      headers: [hdr('Via', viaValue('udp', '192.0.2.1', 5060, 'z9hG4bKx')), hdr('Content-Length', 99)],
      body: Buffer.from('hello'),
      contentType: 'text/plain',
    });
    expect(header(req, 'content-length')).toBe('5');
    expect(header(req, 'content-type')).toBe('text/plain');
    expect(header(req, 'via')).toBe('SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx;rport');
    expect(parseMessage(serialize(req))).toMatchObject({ method: 'MESSAGE', body: Buffer.from('hello') });
  });
});

describe('requestTransport (RFC 3261 §18.1.1)', () => {
  const udpTarget = { transport: 'udp' as const, pinned: false };
  it('keeps small requests on UDP and moves requests over 1300 bytes to TCP with UDP fallback', () => {
    expect(requestTransport(1300, udpTarget, true)).toEqual({ transport: 'udp', udpFallback: false });
    expect(requestTransport(1301, udpTarget, true)).toEqual({ transport: 'tcp', udpFallback: true });
  });
  it('stays on UDP when the target pins transport=udp or we have no TCP', () => {
    expect(requestTransport(5000, { transport: 'udp', pinned: true }, true).transport).toBe('udp');
    expect(requestTransport(5000, udpTarget, false).transport).toBe('udp');
  });
  it('always uses TCP for a TCP target', () => {
    expect(requestTransport(10, { transport: 'tcp', pinned: true }, true)).toEqual({
      transport: 'tcp',
      udpFallback: false,
    });
  });
});
