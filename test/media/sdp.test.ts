/** Unit tests for pbx/media/sdp: describeSdp, rewriteSdp edge cases, nextOriginVersion, and SdpError cases. */
import { describe, expect, it } from 'vitest';
import { PbxError } from '../../pbx/core/errors.js';
import { SdpError, describeSdp, nextOriginVersion, rewriteSdp } from '../../pbx/media/sdp/index.js';
import type { RewritePlan } from '../../pbx/media/sdp/index.js';

const sdp = (...lines: string[]): Buffer => Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1');
const HEAD = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0'];
const plan = (n: number, extra: Partial<RewritePlan> = {}): RewritePlan => ({
  address: '203.0.113.7',
  mediaPorts: Array.from({ length: n }, (_, i) => ({ rtpPort: 40000 + 4 * i, rtcpPort: 40001 + 4 * i })),
  session: { version: 2 },
  ...extra,
});

describe('describeSdp', () => {
  it('reads origin, session connection, media fields, codecs and telephone-event', () => {
    const d = describeSdp(
      sdp(
        ...HEAD,
        'm=audio 4000/2 RTP/AVP 0 8 9 18 101 3',
        'a=rtpmap:101 telephone-event/8000',
        'a=rtpmap:3 GSM/8000',
      ),
    );
    expect(d.origin).toEqual({
      username: '-',
      sessionId: '1',
      sessionVersion: '1',
      netType: 'IN',
      addrType: 'IP4',
      address: '192.0.2.1',
    });
    expect(d.connection).toEqual({ addrType: 'IP4', address: '192.0.2.1' });
    const [m] = d.media;
    expect(m).toMatchObject({ type: 'audio', port: 4000, portCount: 2, proto: 'RTP/AVP', family: 'IP4' });
    expect(m?.codecs.map((c) => `${c.payloadType} ${c.name}/${c.clockRate}`)).toEqual([
      '0 PCMU/8000',
      '8 PCMA/8000',
      '9 G722/8000',
      '18 G729/8000',
      '101 telephone-event/8000',
      '3 GSM/8000',
    ]);
    expect(m?.telephoneEvents).toEqual([{ payloadType: 101, name: 'telephone-event', clockRate: 8000 }]);
  });

  it('reports channels, skips dynamic types without rtpmap and non-RTP formats', () => {
    const d = describeSdp(
      sdp(...HEAD, 'm=audio 4000 RTP/AVP 111 96 200', 'a=rtpmap:111 opus/48000/2', 'm=image 5000 udptl t38'),
    );
    expect(d.media[0]?.codecs).toEqual([{ payloadType: 111, name: 'opus', clockRate: 48000, channels: 2 }]);
    expect(d.media[1]?.codecs).toEqual([]);
  });

  it.each([
    ['sendrecv by default', [], [], 'sendrecv', false],
    ['media-level sendonly is a hold', [], ['a=sendonly'], 'sendonly', true],
    ['inactive is a hold', [], ['a=inactive'], 'inactive', true],
    ['recvonly is not a hold', [], ['a=recvonly'], 'recvonly', false],
    ['session-level sendonly applies', ['a=sendonly'], [], 'sendonly', true],
    ['media level wins over session level', ['a=sendonly'], ['a=sendrecv'], 'sendrecv', false],
  ] as const)('direction: %s', (_name, session, media, direction, onHold) => {
    const d = describeSdp(sdp(...HEAD, ...session, 'm=audio 4000 RTP/AVP 0', ...media));
    expect(d.media[0]).toMatchObject({ direction, onHold });
  });

  it('c=0.0.0.0 is a hold (RFC 3264 §8.4), but not when ICE makes it a placeholder', () => {
    const held = describeSdp(sdp('v=0', 'c=IN IP4 0.0.0.0', 'm=audio 4000 RTP/AVP 0'));
    expect(held.media[0]).toMatchObject({ onHold: true, ice: false, direction: 'sendrecv' });
    const ice = describeSdp(sdp('v=0', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'm=audio 9 RTP/AVP 0'));
    expect(ice.media[0]).toMatchObject({ onHold: false, ice: true });
  });

  it('reads a=rtcp with and without address, rtcp-mux, and media-level c= over session-level', () => {
    const d = describeSdp(
      sdp(
        ...HEAD,
        'm=audio 4000 RTP/AVP 0',
        'a=rtcp:4001',
        'a=rtcp-mux',
        'm=video 5000 RTP/AVP 96',
        'c=IN IP6 2001:db8::2',
        'a=rtcp:5001 IN IP6 2001:db8::3',
        'a=rtcp-fb:96 nack',
      ),
    );
    expect(d.media[0]).toMatchObject({ rtcp: { port: 4001 }, rtcpMux: true, family: 'IP4' });
    expect(d.media[1]).toMatchObject({
      rtcp: { port: 5001, connection: { addrType: 'IP6', address: '2001:db8::3' } },
      rtcpMux: false,
      connection: { addrType: 'IP6', address: '2001:db8::2' },
      family: 'IP6',
    });
  });

  it('treats port 0 as rejected and tolerates a rejected line without any c=', () => {
    const d = describeSdp(sdp('v=0', 'm=video 0 RTP/AVP 31', 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 192.0.2.9'));
    expect(d.media[0]).toMatchObject({ rejected: true, port: 0 });
    expect(d.media[0]?.connection).toBeUndefined();
    expect(d.media[1]).toMatchObject({ rejected: false, connection: { address: '192.0.2.9' } });
  });

  it('is tolerant of sloppy phones: no o=/s=/t=, blank lines, lower-case addrtype, multicast ttl, LF endings', () => {
    const d = describeSdp(Buffer.from('\r\nv=0\nc=IN ip4 224.2.1.1/127\n\nm=audio 4000 RTP/AVP 0\nx junk\n'));
    expect(d.origin).toBeUndefined();
    expect(d.media[0]?.connection).toEqual({ addrType: 'IP4', address: '224.2.1.1' });
  });
});

describe('rewriteSdp', () => {
  it('keeps the port count, trailing blanks and separators of rewritten lines', () => {
    const out = rewriteSdp(
      sdp(...HEAD, 'm=audio  4000/2  RTP/AVP 0 ', 'a=rtcp:4001  IN IP4 192.0.2.1 '),
      plan(1),
    );
    expect(out.toString()).toContain('m=audio  40000/2  RTP/AVP 0 \r\n');
    expect(out.toString()).toContain('a=rtcp:40001  IN IP4 203.0.113.7 \r\n');
  });

  it('switches the family to IPv6 in c=, o= and a=rtcp, and replaces the username when asked', () => {
    const out = rewriteSdp(
      sdp(...HEAD, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:4001 IN IP4 192.0.2.1'),
      plan(1, { address: '2001:db8::7', session: { username: 'sippbx', version: 9 } }),
    ).toString();
    expect(out).toContain('o=sippbx 1 9 IN IP6 2001:db8::7\r\n');
    expect(out).toContain('c=IN IP6 2001:db8::7\r\n');
    expect(out).toContain('a=rtcp:40001 IN IP6 2001:db8::7\r\n');
  });

  it('leaves a null entry untouched and a rejected stream at port 0', () => {
    const body = sdp(
      ...HEAD,
      'm=audio 4000 RTP/AVP 0',
      'c=IN IP4 192.0.2.5',
      'a=rtcp:4001',
      'm=video 0 RTP/AVP 31',
      'a=rtcp:9',
    );
    const out = rewriteSdp(body, {
      ...plan(2),
      mediaPorts: [null, { rtpPort: 40004, rtcpPort: 40005 }],
    }).toString();
    expect(out).toContain('m=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.5\r\na=rtcp:4001\r\n');
    expect(out).toContain('m=video 0 RTP/AVP 31\r\na=rtcp:9\r\n');
    expect(out).toContain('c=IN IP4 203.0.113.7\r\n');
  });

  it('keeps a c=0.0.0.0 hold but rewrites the JSEP 0.0.0.0 placeholder of an ICE offer', () => {
    const held = rewriteSdp(sdp('v=0', 'c=IN IP4 0.0.0.0', 'm=audio 4000 RTP/AVP 0'), plan(1)).toString();
    expect(held).toBe('v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 40000 RTP/AVP 0\r\n');
    const ice = rewriteSdp(
      sdp('v=0', 'm=audio 9 RTP/AVP 0', 'c=IN IP4 0.0.0.0', 'a=candidate:1 1 udp 1 192.0.2.1 5000 typ host'),
      plan(1),
    );
    expect(ice.toString()).toBe('v=0\r\nm=audio 40000 RTP/AVP 0\r\nc=IN IP4 203.0.113.7\r\n');
  });

  it('removes every ICE attribute, session and media level, and keeps each line ending', () => {
    const ice = ['ice-ufrag:a', 'ice-pwd:b', 'ice-options:trickle', 'ice-lite', 'ice-mismatch'];
    const media = [
      'candidate:1 1 udp 1 192.0.2.1 5000 typ host',
      'end-of-candidates',
      'remote-candidates:1 1 2',
    ];
    const body = Buffer.from(
      `v=0\r\nc=IN IP4 192.0.2.1\n${ice.map((a) => `a=${a}\r\n`).join('')}m=audio 1 RTP/AVP 0\n` +
        `${media.map((a) => `a=${a}\n`).join('')}a=mid:0\r\na=unknown-thing:x y`,
    );
    expect(rewriteSdp(body, plan(1)).toString()).toBe(
      'v=0\r\nc=IN IP4 203.0.113.7\nm=audio 40000 RTP/AVP 0\na=mid:0\r\na=unknown-thing:x y',
    );
  });

  it('passes non-UTF-8 bytes through unchanged', () => {
    const name = Buffer.concat([
      Buffer.from('s='),
      Buffer.from([0xff, 0xe9, 0x00, 0xc3]),
      Buffer.from('\r\n'),
    ]);
    const body = Buffer.concat([sdp('v=0'), name, sdp('c=IN IP4 192.0.2.1', 'm=audio 4000 RTP/AVP 0')]);
    const out = rewriteSdp(body, plan(1));
    expect(out.subarray(5, 5 + name.length).equals(name)).toBe(true);
  });

  it('does not modify its input', () => {
    const body = sdp(...HEAD, 'm=audio 4000 RTP/AVP 0');
    const copy = Buffer.from(body);
    rewriteSdp(body, plan(1));
    expect(body.equals(copy)).toBe(true);
  });
});

describe('nextOriginVersion', () => {
  const a = Buffer.from('v=0\r\nm=audio 1 RTP/AVP 0\r\n');
  const b = Buffer.from('v=0\r\nm=audio 2 RTP/AVP 0\r\n');
  it('starts at the initial version', () => expect(nextOriginVersion(undefined, a, 5)).toBe(5));
  it('keeps the version for the same input (a re-INVITE refresh)', () => {
    expect(nextOriginVersion({ lastInput: Buffer.from(a), lastVersion: 6 }, a, 5)).toBe(6);
  });
  it('increments for a changed input (RFC 3264 §8)', () => {
    expect(nextOriginVersion({ lastInput: a, lastVersion: 6 }, b, 5)).toBe(7);
  });
});

describe('errors', () => {
  const many = (n: number, line: string) => Array.from({ length: n }, () => line);
  it.each([
    ['empty body', Buffer.alloc(0), /empty body/],
    ['only blank lines', Buffer.from('\r\n \r\n'), /empty body/],
    ['not SDP', Buffer.from('INVITE sip:a@b SIP/2.0\r\n'), /does not start with v=/],
    ['body over 64 KiB', Buffer.alloc(64 * 1024 + 1, 0x61), /exceeds/],
    ['more than 1000 lines', sdp('v=0', ...many(1000, 'a=x')), /more than 1000 lines/],
    ['more than 16 m= lines', sdp(...HEAD, ...many(17, 'm=audio 4000 RTP/AVP 0')), /more than 16 m= lines/],
    ['media without connection', sdp('v=0', 'm=audio 4000 RTP/AVP 0'), /no connection address/],
    ['non-numeric port', sdp(...HEAD, 'm=audio abc RTP/AVP 0'), /non-numeric port/],
    ['port over 65535', sdp(...HEAD, 'm=audio 70000 RTP/AVP 0'), /non-numeric port/],
    ['port count 0', sdp(...HEAD, 'm=audio 4000/0 RTP/AVP 0'), /non-numeric port/],
    ['m= without proto', sdp(...HEAD, 'm=audio 4000'), /malformed m= line/],
    ['malformed c=', sdp('v=0', 'c=IN IP4'), /malformed c= line/],
    ['unsupported addrtype', sdp('v=0', 'c=IN ATM 1234'), /unsupported address type/],
    ['malformed o=', sdp('v=0', 'o=- 1 IN IP4 192.0.2.1'), /malformed o= line/],
    ['bad a=rtcp port', sdp(...HEAD, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:x'), /bad port in a=rtcp/],
    ['malformed a=rtcp', sdp(...HEAD, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:4001 IN'), /malformed a=rtcp/],
  ])('describeSdp: %s', (_name, body, reason) => {
    const err = catchError(() => describeSdp(body));
    expect(err).toBeInstanceOf(SdpError);
    expect(err).toBeInstanceOf(PbxError);
    expect((err as SdpError).code).toBe('PBX_ERR_SDP');
    expect((err as SdpError).reason).toMatch(reason);
    expect(() => rewriteSdp(body, plan(0))).toThrow(SdpError);
  });

  const body = sdp(...HEAD, 'm=audio 4000 RTP/AVP 0');
  it.each([
    ['relay address not an IP', plan(1, { address: 'relay.example.com' }), /not an IP address/],
    ['too few media entries', plan(0), /0 media entries for 1 m= lines/],
    ['port out of range', plan(1, { mediaPorts: [{ rtpPort: 0, rtcpPort: 1 }] }), /not 1..65535/],
    ['fractional port', plan(1, { mediaPorts: [{ rtpPort: 4.5, rtcpPort: 1 }] }), /not 1..65535/],
    ['negative version', plan(1, { session: { version: -1 } }), /non-negative integer/],
    ['username with a space', plan(1, { session: { version: 1, username: 'a b' } }), /username/],
  ])('rewriteSdp plan: %s', (_name, badPlan, reason) => {
    const err = catchError(() => rewriteSdp(body, badPlan));
    expect(err).toBeInstanceOf(SdpError);
    expect((err as SdpError).reason).toMatch(reason);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
