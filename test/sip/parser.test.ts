import { describe, expect, it } from 'vitest';
import {
  SipParseError,
  callId,
  contacts,
  contentLength,
  cseq,
  fromHeader,
  header,
  headerCount,
  maxForwards,
  optionTags,
  parseMessage,
  rack,
  routeSet,
  rseq,
  serialize,
  tagOf,
  toHeader,
  topVia,
  validateRequest,
  validateResponse,
  vias,
} from '../../pbx/sip/index.js';
import type { SipRequest, SipResponse } from '../../pbx/sip/index.js';
import { INVITE_WITH_SDP } from './fixtures.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'latin1');

function req(extra: string[] = [], method = 'OPTIONS', body = ''): Buffer {
  return crlf([
    `${method} sip:bob@example.com SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc',
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>',
    'Call-ID: cid-1',
    `CSeq: 1 ${method}`,
    'Max-Forwards: 70',
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ]);
}

describe('parseMessage', () => {
  it('parses a realistic INVITE with SDP and its typed headers', () => {
    const msg = parseMessage(Buffer.from(INVITE_WITH_SDP)) as SipRequest;
    expect(msg.type).toBe('request');
    expect(msg.method).toBe('INVITE');
    expect(msg.uri).toBe('sip:bob@biloxi.example.com');
    expect(vias(msg)).toHaveLength(2);
    const via = topVia(msg);
    expect(via).toMatchObject({ transport: 'UDP', host: 'pc33.atlanta.example.com', port: 5060 });
    expect(via.params.get('branch')).toBe('z9hG4bK776asdhds');
    expect(via.params.get('rport')).toBeNull();
    expect(cseq(msg)).toEqual({ seq: 314159, method: 'INVITE' });
    expect(fromHeader(msg).displayName).toBe('Alice Liddell');
    expect(tagOf(fromHeader(msg))).toBe('1928301774');
    expect(tagOf(toHeader(msg))).toBeUndefined();
    expect(callId(msg)).toBe('a84b4c76e66710@pc33.atlanta.example.com');
    expect(maxForwards(msg)).toBe(70);
    expect(contentLength(msg)).toBe(253);
    expect(msg.body.length).toBe(253);
    expect(optionTags(msg, 'supported')).toEqual(['replaces', 'timer', '100rel']);
    expect(validateRequest(msg)).toBeNull();
  });

  it('understands compact forms, case-insensitive names and folded lines', () => {
    const msg = parseMessage(
      crlf([
        'OPTIONS sip:x@example.com SIP/2.0',
        'v: SIP/2.0/UDP h.example.com;branch=z9hG4bK1',
        'f: <sip:a@example.com>;tag=1',
        't: <sip:x@example.com>',
        'i: cid',
        'cSeQ: 7',
        '  OPTIONS',
        'Subject: first part,',
        '\tsecond part',
        'l: 0',
        '',
        '',
      ]),
    );
    expect(header(msg, 'Call-ID')).toBe('cid');
    expect(header(msg, 'subject')).toBe('first part, second part');
    expect(cseq(msg)).toEqual({ seq: 7, method: 'OPTIONS' });
    expect(validateRequest(msg as SipRequest)).toBeNull();
  });

  it('truncates the body to Content-Length (RFC 3261 §18.3)', () => {
    const buf = Buffer.concat([req([], 'MESSAGE', 'hello').subarray(0, -5), Buffer.from('hello world')]);
    const withType = parseMessage(
      Buffer.from(
        buf.toString('latin1').replace('Max-Forwards', 'Content-Type: text/plain\r\nMax-Forwards'),
        'latin1',
      ),
    );
    expect(withType.body.toString()).toBe('hello');
  });

  it('parses responses, including an empty reason phrase', () => {
    const msg = parseMessage(
      crlf([
        'SIP/2.0 180 ',
        'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
        'From: <sip:a@b>;tag=1',
        'To: <sip:c@d>;tag=2',
        'Call-ID: x',
        'CSeq: 1 INVITE',
        '',
        '',
      ]),
    ) as SipResponse;
    expect(msg.status).toBe(180);
    expect(msg.reason).toBe('');
    expect(validateResponse(msg)).toBeNull();
  });

  it('round-trips byte for byte through serialize', () => {
    const input = Buffer.from(INVITE_WITH_SDP);
    expect(serialize(parseMessage(input)).equals(input)).toBe(true);
  });

  it.each([
    ['garbage', 'hello world'],
    ['no header end', 'OPTIONS sip:a@b SIP/2.0\r\nVia: x'],
    ['bad method', 'OPT@ONS sip:a@b SIP/2.0\r\n\r\n'],
    ['bad version', 'OPTIONS sip:a@b HTTP/1.1\r\n\r\n'],
    ['bad status', 'SIP/2.0 99 Low\r\n\r\n'],
    ['status too big', 'SIP/2.0 700 High\r\n\r\n'],
    ['four-digit status', 'SIP/2.0 2000 OK\r\n\r\n'],
  ])('throws SipParseError for %s', (_name, text) => {
    expect(() => parseMessage(Buffer.from(text))).toThrow(SipParseError);
  });

  it('enforces size, header count and line length limits', () => {
    expect(() => parseMessage(req(), { maxMessageBytes: 100 })).toThrow(/too large/);
    expect(() => parseMessage(req(['A: 1', 'B: 2']), { maxHeaders: 4 })).toThrow(/too many headers/);
    expect(() => parseMessage(req([`X-Long: ${'a'.repeat(200)}`]), { maxHeaderLineBytes: 100 })).toThrow(
      /too long/,
    );
  });
});

describe('validateRequest', () => {
  const cases: [string, Buffer, number, RegExp][] = [
    [
      'missing Call-ID',
      Buffer.from(req().toString().replace('Call-ID: cid-1\r\n', '')),
      400,
      /Missing Call-ID/,
    ],
    ['duplicate To', req(['To: <sip:other@example.com>']), 400, /Duplicate To/],
    [
      'CSeq method mismatch',
      Buffer.from(req().toString().replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE')),
      400,
      /CSeq method/,
    ],
    ['bad CSeq', Buffer.from(req().toString().replace('CSeq: 1 OPTIONS', 'CSeq: -1 OPTIONS')), 400, /CSeq/],
    [
      'CSeq too large',
      Buffer.from(req().toString().replace('CSeq: 1 OPTIONS', 'CSeq: 2147483648 OPTIONS')),
      400,
      /CSeq/,
    ],
    [
      'bad Max-Forwards',
      Buffer.from(req().toString().replace('Max-Forwards: 70', 'Max-Forwards: 300')),
      400,
      /Max-Forwards/,
    ],
    [
      'Content-Length too large',
      Buffer.from(req().toString().replace('Content-Length: 0', 'Content-Length: 50')),
      400,
      /Content-Length/,
    ],
    [
      'unsupported version',
      Buffer.from(req().toString().replace('SIP/2.0\r\nVia', 'SIP/7.0\r\nVia')),
      505,
      /Version/,
    ],
    [
      'bad From',
      Buffer.from(
        req().toString().replace('From: <sip:alice@example.com>;tag=a1', 'From: <sip:alice@example.com'),
      ),
      400,
      /From/,
    ],
    [
      'unknown scheme',
      Buffer.from(req().toString().replace('OPTIONS sip:bob@example.com', 'OPTIONS xyz:bob@example.com')),
      416,
      /Scheme/,
    ],
    [
      'bad request line spacing',
      Buffer.from(
        req()
          .toString()
          .replace('OPTIONS sip:bob@example.com SIP/2.0', 'OPTIONS  sip:bob@example.com SIP/2.0'),
      ),
      400,
      /whitespace/,
    ],
    ['malformed header line', req(['NoColonHere']), 400, /malformed header/i],
  ];
  it.each(cases)('%s', (_name, buf, status, reason) => {
    const rej = validateRequest(parseMessage(buf) as SipRequest);
    expect(rej?.status).toBe(status);
    expect(rej?.reason).toMatch(reason);
  });
});

describe('typed headers', () => {
  it('parses Contact lists, the wildcard and expires', () => {
    const msg = parseMessage(
      req(
        ['Contact: "A, B" <sip:a@h;transport=tcp>;expires=60, sip:b@h;q=0.5', 'Contact: <sip:c@h>'],
        'REGISTER',
      ),
    );
    const list = contacts(msg);
    expect(list).not.toBe('*');
    if (list === '*') return;
    expect(list.map((c) => c.uri)).toEqual(['sip:a@h;transport=tcp', 'sip:b@h', 'sip:c@h']);
    expect(list[0]?.displayName).toBe('A, B');
    expect(list[0]?.expires).toBe(60);
    expect(list[1]?.params.get('q')).toBe('0.5');
    expect(contacts(parseMessage(req(['Contact: *', 'Expires: 0'], 'REGISTER')))).toBe('*');
  });

  it('parses route sets and RSeq/RAck', () => {
    const msg = parseMessage(
      req(['Record-Route: <sip:p1;lr>, <sip:p2;lr>', 'RSeq: 5', 'RAck: 5 1 INVITE'], 'PRACK'),
    );
    expect(routeSet(msg, 'record-route').map((r) => r.uri)).toEqual(['sip:p1;lr', 'sip:p2;lr']);
    expect(rseq(msg)).toBe(5);
    expect(rack(msg)).toEqual({ rseq: 5, cseq: 1, method: 'INVITE' });
  });

  it('counts repeated headers', () => {
    expect(headerCount(parseMessage(req(['X-A: 1', 'x-a: 2'])), 'X-A')).toBe(2);
  });
});
