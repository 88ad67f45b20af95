/**
 * Unit tests for the transcoding SDP plan (pbx/media/sdp/transcode-*.ts): what planTranscodeOffer appends to an offer,
 * how planTranscodeAnswer reads the answer (bypass with the appended codecs removed, or a transcoded line answered with
 * the offerer's own codec), and that every other line of real-world SDPs passes byte for byte.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeSdp, planTranscodeAnswer, planTranscodeOffer } from '../../pbx/media/sdp/index.js';
import type { TranscodeOffer } from '../../pbx/media/sdp/index.js';

const sdp = (...lines: string[]): Buffer => Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1');
const HEAD_A = ['v=0', 'o=alice 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0'];
const HEAD_B = ['v=0', 'o=bob 7 1 IN IP4 192.0.2.2', 's=-', 'c=IN IP4 192.0.2.2', 't=0 0'];

const PCMU_OFFER = sdp(
  ...HEAD_A,
  'm=audio 4000 RTP/AVP 0 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
);

const OPUS_OFFER = sdp(
  ...HEAD_A,
  'm=audio 4000 RTP/AVP 111 101',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtcp-fb:111 transport-cc',
  'a=rtpmap:101 telephone-event/48000',
  'a=fmtp:101 0-16',
);

/** Lines of a body without their endings. */
const text = (body: Buffer): string[] => body.toString('latin1').split(/\r?\n/);

/** `body` minus the lines in `inserted`, which must appear in it contiguously in that order. */
function withoutInserted(body: string[], inserted: string[]): string[] {
  const at = body.indexOf(inserted[0] ?? '');
  expect(at, `inserted lines ${JSON.stringify(inserted)}`).toBeGreaterThan(0);
  expect(body.slice(at, at + inserted.length)).toEqual(inserted);
  return [...body.slice(0, at), ...body.slice(at + inserted.length)];
}

describe('planTranscodeOffer', () => {
  it('appends PCMA, Opus and telephone-event/48000 to a PCMU offer, after its own formats and attributes', () => {
    const { body, offer } = planTranscodeOffer(PCMU_OFFER);
    const out = text(body);
    expect(out).toContain('m=audio 4000 RTP/AVP 0 101 8 111 110');
    const inserted = [
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 useinbandfec=1',
      'a=rtpmap:110 telephone-event/48000',
      // The offerer's event list, so the appended telephone-event promises no more than it.
      'a=fmtp:110 0-15',
    ];
    // Right after the offerer's last rtpmap/fmtp; every other line as it was.
    expect(out.indexOf(inserted[0] ?? '')).toBe(out.indexOf('a=fmtp:101 0-15') + 1);
    const rest = withoutInserted(out, inserted);
    expect(rest).toEqual(text(PCMU_OFFER).map((l) => (l.startsWith('m=') ? `${l} 8 111 110` : l)));
    expect(offer.lines).toEqual([
      {
        ownAudio: [0],
        best: { codec: 'PCMU', payloadType: 0 },
        bestEvents: 101,
        bestAttributes: [
          { payloadType: 0, text: 'a=rtpmap:0 PCMU/8000' },
          { payloadType: 101, text: 'a=rtpmap:101 telephone-event/8000' },
          { payloadType: 101, text: 'a=fmtp:101 0-15' },
        ],
        added: [
          { payloadType: 8, name: 'PCMA', clockRate: 8000 },
          { payloadType: 111, name: 'opus', clockRate: 48000, channels: 2 },
          { payloadType: 110, name: 'telephone-event', clockRate: 48000 },
        ],
      },
    ]);
    // What the answerer sees describes as expected.
    const codecs = describeSdp(body).media[0]?.codecs.map((c) => `${c.payloadType} ${c.name}/${c.clockRate}`);
    expect(codecs).toEqual([
      '0 PCMU/8000',
      '101 telephone-event/8000',
      '8 PCMA/8000',
      '111 opus/48000',
      '110 telephone-event/48000',
    ]);
  });

  it('appends PCMU, PCMA and telephone-event/8000 to an Opus offer, on payload types it does not use', () => {
    const { body, offer } = planTranscodeOffer(OPUS_OFFER);
    const out = text(body);
    expect(out).toContain('m=audio 4000 RTP/AVP 111 101 0 8 110');
    withoutInserted(out, [
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:110 telephone-event/8000',
      'a=fmtp:110 0-16',
    ]);
    expect(offer.lines[0]?.best).toEqual({ codec: 'opus', payloadType: 111 });
    expect(offer.lines[0]?.bestEvents).toBe(101);
  });

  it('takes the first free dynamic payload type when the usual ones are taken, without telephone-event when the offerer has none', () => {
    const body = sdp(
      ...HEAD_A,
      'm=audio 4000 RTP/AVP 8 111 96',
      'a=rtpmap:111 speex/16000',
      'a=rtpmap:96 iLBC/8000',
      'a=rtpmap:97 G7221/16000',
    );
    const { body: out, offer } = planTranscodeOffer(body);
    expect(text(out)).toContain('m=audio 4000 RTP/AVP 8 111 96 0 98');
    expect(text(out)).toContain('a=rtpmap:98 opus/48000/2');
    expect(offer.lines[0]?.best).toEqual({ codec: 'PCMA', payloadType: 8 });
    expect(offer.lines[0]?.added.map((c) => c.name)).toEqual(['PCMU', 'opus']);
  });

  it.each([
    ['all three codecs already', ['m=audio 4000 RTP/AVP 0 8 111', 'a=rtpmap:111 opus/48000/2']],
    ['no codec the relay converts', ['m=audio 4000 RTP/AVP 9 18', 'a=rtpmap:9 G722/8000']],
    ['SRTP', ['m=audio 4000 RTP/SAVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x']],
    [
      'best-effort SRTP (SDES keys on RTP/AVP)',
      ['m=audio 4000 RTP/AVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x'],
    ],
    ['a rejected line', ['m=audio 0 RTP/AVP 0']],
    ['video and T.38', ['m=video 5000 RTP/AVP 31', 'm=image 6000 udptl t38']],
  ])('leaves an offer with %s as it is (same buffer)', (_, media) => {
    const body = sdp(...HEAD_A, ...media);
    const plan = planTranscodeOffer(body);
    expect(plan.body).toBe(body);
    expect(plan.offer.lines.every((l) => l === null || l.added.length === 0)).toBe(true);
  });

  it('extends only the audio line of audio + video, and puts attributes after c=/b= when there is no rtpmap', () => {
    const body = sdp(
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.1',
      's=-',
      't=0 0',
      'm=audio 4000 RTP/AVP 0',
      'c=IN IP4 192.0.2.1',
      'b=AS:64',
      'a=sendrecv',
      'm=video 5000 RTP/AVP 96',
      'c=IN IP4 192.0.2.1',
      'a=rtpmap:96 H264/90000',
    );
    const out = text(planTranscodeOffer(body).body);
    expect(out.slice(4, 11)).toEqual([
      'm=audio 4000 RTP/AVP 0 8 111',
      'c=IN IP4 192.0.2.1',
      'b=AS:64',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 useinbandfec=1',
      'a=sendrecv',
    ]);
    expect(out.slice(11)).toEqual([
      'm=video 5000 RTP/AVP 96',
      'c=IN IP4 192.0.2.1',
      'a=rtpmap:96 H264/90000',
      '',
    ]);
  });

  it('keeps LF endings, and a missing final line ending stays missing', () => {
    const body = Buffer.from(
      'v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0',
    );
    const out = planTranscodeOffer(body).body.toString('latin1');
    expect(out).toBe(
      'v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0 8 111\n' +
        'a=rtpmap:8 PCMA/8000\na=rtpmap:111 opus/48000/2\na=fmtp:111 useinbandfec=1',
    );
  });
});

describe('planTranscodeAnswer', () => {
  const pcmuOffer = (): TranscodeOffer => planTranscodeOffer(PCMU_OFFER).offer;

  it('transcodes when the answerer chose only appended codecs: the offerer is answered with its own codec', () => {
    const answer = sdp(
      ...HEAD_B,
      'm=audio 5000 RTP/AVP 111 110',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 useinbandfec=1',
      'a=rtcp-fb:111 nack',
      'a=rtpmap:110 telephone-event/48000',
      'a=fmtp:110 0-15',
      'a=ptime:20',
      'a=sendrecv',
      'a=x-unknown:keep me',
    );
    const plan = planTranscodeAnswer(pcmuOffer(), answer);
    expect(text(plan.body)).toEqual([
      ...HEAD_B,
      'm=audio 5000 RTP/AVP 0 101',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
      'a=ptime:20',
      'a=sendrecv',
      'a=x-unknown:keep me',
      '',
    ]);
    expect(plan.lines).toEqual([
      {
        index: 0,
        offerer: { codec: 'PCMU', payloadType: 0 },
        answerer: { codec: 'opus', payloadType: 111 },
        telephoneEvent: { offerer: 101, answerer: 110 },
      },
    ]);
  });

  it('maps no telephone-event when the answerer has none at its codec clock rate', () => {
    const answer = sdp(...HEAD_B, 'm=audio 5000 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000');
    const plan = planTranscodeAnswer(planTranscodeOffer(OPUS_OFFER).offer, answer);
    expect(text(plan.body)).toEqual([
      ...HEAD_B,
      'm=audio 5000 RTP/AVP 111',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      '',
    ]);
    expect(plan.lines).toEqual([
      { index: 0, offerer: { codec: 'opus', payloadType: 111 }, answerer: { codec: 'PCMA', payloadType: 8 } },
    ]);
  });

  it('stays in bypass when the answer keeps an offered codec, and removes what was appended from it', () => {
    const answer = sdp(
      ...HEAD_B,
      'm=audio 5000 RTP/AVP 111 0 101 110',
      'a=rtpmap:111 opus/48000/2',
      'a=rtcp-fb:111 nack',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=rtpmap:110 telephone-event/48000',
      'a=sendrecv',
    );
    const plan = planTranscodeAnswer(pcmuOffer(), answer);
    expect(plan.lines).toEqual([]);
    expect(text(plan.body)).toEqual([
      ...HEAD_B,
      'm=audio 5000 RTP/AVP 0 101',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=sendrecv',
      '',
    ]);
  });

  it('judges what the answer kept by the offer: an offered dynamic type without rtpmap keeps bypass, comfort noise does not', () => {
    const offer = planTranscodeOffer(
      sdp(...HEAD_A, 'm=audio 4000 RTP/AVP 0 96 13', 'a=rtpmap:96 iLBC/8000', 'a=rtpmap:13 CN/8000'),
    ).offer;
    const kept = planTranscodeAnswer(offer, sdp(...HEAD_B, 'm=audio 5000 RTP/AVP 96 111'));
    expect(kept.lines).toEqual([]);
    expect(text(kept.body)).toContain('m=audio 5000 RTP/AVP 96');
    const cnOnly = planTranscodeAnswer(
      offer,
      sdp(...HEAD_B, 'm=audio 5000 RTP/AVP 111 13', 'a=rtpmap:111 opus/48000/2', 'a=rtpmap:13 CN/8000'),
    );
    expect(cnOnly.lines.map((l) => [l.offerer.codec, l.answerer.codec])).toEqual([['PCMU', 'opus']]);
    expect(text(cnOnly.body)).toEqual([...HEAD_B, 'm=audio 5000 RTP/AVP 0', '']);
  });

  it('returns an answer that lists nothing appended as it is (same buffer)', () => {
    const answer = sdp(...HEAD_B, 'm=audio 5000 RTP/AVP 0 101', 'a=rtpmap:101 telephone-event/8000');
    const plan = planTranscodeAnswer(pcmuOffer(), answer);
    expect(plan.body).toBe(answer);
    expect(plan.lines).toEqual([]);
  });

  it('does not transcode a rejected line, a line the offer did not extend, or an answer with no audio codec', () => {
    const offer = planTranscodeOffer(
      sdp(...HEAD_A, 'm=audio 4000 RTP/AVP 0', 'm=video 5000 RTP/AVP 31', 'm=audio 6000 RTP/AVP 0'),
    ).offer;
    const answer = sdp(
      ...HEAD_B,
      'm=audio 0 RTP/AVP 111',
      'm=video 5002 RTP/AVP 31',
      'm=audio 6002 RTP/AVP 13',
    );
    const plan = planTranscodeAnswer(offer, answer);
    expect(plan.lines).toEqual([]);
    expect(plan.body).toBe(answer);
  });

  it('transcodes each audio line on its own', () => {
    const offer = planTranscodeOffer(
      sdp(...HEAD_A, 'm=audio 4000 RTP/AVP 0', 'm=audio 4002 RTP/AVP 8'),
    ).offer;
    const answer = sdp(
      ...HEAD_B,
      'm=audio 5000 RTP/AVP 111',
      'a=rtpmap:111 opus/48000/2',
      'm=audio 5002 RTP/AVP 8',
    );
    const plan = planTranscodeAnswer(offer, answer);
    expect(plan.lines.map((l) => [l.index, l.offerer.codec, l.answerer.codec])).toEqual([
      [0, 'PCMU', 'opus'],
    ]);
    expect(text(plan.body)).toEqual([...HEAD_B, 'm=audio 5000 RTP/AVP 0', 'm=audio 5002 RTP/AVP 8', '']);
  });
});

describe('transcoding plan over the SDP corpus', () => {
  const DIR = new URL('../../testdata/sdp/', import.meta.url);
  const FILES = readdirSync(DIR)
    .filter((f) => f.endsWith('.sdp'))
    .sort();

  it.each(FILES)(
    '%s: the extended offer keeps every original line, and answering it with itself restores it byte for byte',
    (file) => {
      const body = readFileSync(new URL(file, DIR));
      const { body: extended, offer } = planTranscodeOffer(body);
      const before = describeSdp(body);
      const after = describeSdp(extended);
      expect(after.media.map((m) => m.port)).toEqual(before.media.map((m) => m.port));
      // Original lines, in order, with their endings; m= lines may only have grown at the end.
      const input = body.toString('latin1').split(/(?<=\n)/);
      const output = extended.toString('latin1').split(/(?<=\n)/);
      let o = 0;
      for (const line of input) {
        while (o < output.length && !sameLine(line, output[o] ?? '')) o++;
        expect(o, `line ${JSON.stringify(line)} missing`).toBeLessThan(output.length);
        o++;
      }
      for (const [i, m] of after.media.entries()) {
        const added = offer.lines[i]?.added.map((c) => String(c.payloadType)) ?? [];
        expect(m.formats).toEqual([...(before.media[i]?.formats ?? []), ...added]);
      }
      // An "answer" that is the extended offer itself keeps the offerer's codecs: bypass, and the appended ones go.
      const answered = planTranscodeAnswer(offer, extended);
      expect(answered.lines).toEqual([]);
      expect(answered.body.equals(body)).toBe(true);
    },
  );
});

/** An output line matches an input line when equal, or (m= lines) when it extends it before its line ending. */
function sameLine(input: string, output: string): boolean {
  if (input === output) return true;
  if (!input.startsWith('m=')) return false;
  const body = input.replace(/\r?\n$/, '');
  return (
    output.startsWith(body) && output.slice(body.length).replace(/^( \d+)+/, '') === input.slice(body.length)
  );
}
