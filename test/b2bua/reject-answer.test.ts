import { describe, expect, it } from 'vitest';
import { rejectingAnswer } from '../../pbx/b2bua/reject-answer.js';
import { describeSdp } from '../../pbx/media/sdp/index.js';

const offer = Buffer.from(
  [
    'v=0',
    'o=- 7 7 IN IP4 198.51.100.7',
    's=-',
    'c=IN IP4 198.51.100.7',
    't=0 0',
    'm=audio 4000 RTP/AVP 8 0 101',
    'a=rtpmap:101 telephone-event/8000',
    'm=video 4002 RTP/AVP 96',
    'a=rtpmap:96 H264/90000',
    '',
  ].join('\r\n'),
  'latin1',
);

describe('rejectingAnswer (RFC 3261 §13.2.2.4 ACK answer)', () => {
  it('rejects every offered stream, in order, with port 0', () => {
    const answer = rejectingAnswer(offer, '192.0.2.1');
    expect(answer).toBeDefined();
    const described = describeSdp(answer ?? Buffer.alloc(0));
    expect(described.media.map((m) => [m.type, m.port, m.proto, m.formats])).toEqual([
      ['audio', 0, 'RTP/AVP', ['8']],
      ['video', 0, 'RTP/AVP', ['96']],
    ]);
    expect(described.media.every((m) => m.rejected)).toBe(true);
    expect(answer?.toString('latin1')).toContain('c=IN IP4 192.0.2.1\r\n');
  });

  it('writes an IPv6 address as IP6 and gives up on an unreadable offer', () => {
    expect(rejectingAnswer(offer, '2001:db8::1')?.toString('latin1')).toContain('c=IN IP6 2001:db8::1');
    expect(rejectingAnswer(Buffer.from('not sdp'), '192.0.2.1')).toBeUndefined();
  });
});
