// Transcoding through the real pbx process (docs/configuration.md "Transcoding"): a PCMU-only caller (the
// harness' UDP SIP client) calls an Opus-only callee (a minimal UAS on a UDP socket, below). With
// `media.transcode: true` the callee is offered Opus, answers with it, and the caller is answered with PCMU; a tone
// crosses the relay both ways (decoded and correlated) and DTMF (RFC 4733) passes with its payload type mapped.
// Without it the callee sees the caller's codecs only and refuses the call, and the caller gets the 488.
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { describeSdp } from '../pbx/media/sdp/index.js';
import {
  bestCorrelation,
  decodeOpusFrames,
  decodePcmuFrames,
  encodeOpusFrames,
  encodePcmuFrames,
  tone,
} from '../test/support/audio.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { PbxProcess } from './harness/pbx.js';
import { RtpParty } from './harness/rtp-party.js';
import { UdpSipClient, buildRequest, sdpAudio } from './harness/sip-client.js';
import type { RequestSpec, SipResponse } from './harness/sip-client.js';

const HOST = '127.0.0.1';
const SSRC_A = 0x0a0a0a0a;
const SSRC_B = 0x0b0b0b0b;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
  await stopAllPbx();
});

/** Resolves `promise`, or rejects after `ms` naming `what` (a bound on a wait, never a delay). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function udpSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.bind(0, HOST);
  await once(socket, 'listening');
  closers.push(() => new Promise((resolve) => socket.close(() => resolve())));
  return socket;
}

/** What the callee answers an INVITE with, given its SDP. */
type Answer = (offer: Buffer) => { status: number; reason: string; sdp?: string };

/** A minimal UAS (RFC 3261 §8.2): answers INVITEs (the same bytes for a retransmission), takes ACK, answers BYE. */
class Callee {
  readonly invites: Buffer[] = [];
  readonly #responses = new Map<string, Buffer>();
  #onAck: (() => void) | undefined;
  #onBye: (() => void) | undefined;

  private constructor(
    readonly socket: Socket,
    readonly answer: Answer,
  ) {
    socket.on('message', (data: Buffer, from: RemoteInfo) => this.#onMessage(data, from));
  }

  static async open(answer: Answer): Promise<Callee> {
    return new Callee(await udpSocket(), answer);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Resolves on the next ACK / BYE. */
  next(method: 'ACK' | 'BYE'): Promise<void> {
    return within(
      new Promise<void>((resolve) => (method === 'ACK' ? (this.#onAck = resolve) : (this.#onBye = resolve))),
      5000,
      `${method} at the callee`,
    );
  }

  #onMessage(data: Buffer, from: RemoteInfo): void {
    const text = data.toString('latin1');
    const method = /^([A-Z]+) /.exec(text)?.[1];
    const reply = (response: Buffer): void => void this.socket.send(response, from.port, from.address);
    if (method === 'INVITE') {
      const branch = /branch=([^;,\s]+)/.exec(text)?.[1] ?? '';
      let response = this.#responses.get(branch);
      if (response === undefined) {
        const body = data.subarray(data.indexOf('\r\n\r\n') + 4);
        this.invites.push(body);
        const { status, reason, sdp } = this.answer(body);
        response = respond(text, status, reason, this.port, sdp);
        this.#responses.set(branch, response);
      }
      reply(response);
    } else if (method === 'ACK') {
      this.#onAck?.();
    } else if (method === 'BYE') {
      reply(respond(text, 200, 'OK', this.port));
      this.#onBye?.();
    }
  }
}

/** A response to `request` (RFC 3261 §8.2.6.2: Via, From, Call-ID, CSeq copied; To tagged). */
function respond(request: string, status: number, reason: string, port: number, sdp?: string): Buffer {
  const head = request.slice(0, request.indexOf('\r\n\r\n')).split('\r\n');
  const pick = (name: string): string[] =>
    head.filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  const to = pick('To')[0] ?? 'To: <sip:callee@127.0.0.1>';
  const body = sdp ?? '';
  const lines = [
    `SIP/2.0 ${status} ${reason}`,
    ...pick('Via'),
    ...pick('From'),
    /;\s*tag=/i.test(to) ? to : `${to};tag=callee`,
    ...pick('Call-ID'),
    ...pick('CSeq'),
    `Contact: <sip:callee@${HOST}:${port}>`,
    ...(sdp === undefined ? [] : ['Content-Type: application/sdp']),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
}

/** RTP packet (RFC 3550 §5.1). */
function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = pt;
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE(ts >>> 0, 4);
  header.writeUInt32BE(ssrc, 8);
  return Buffer.concat([header, payload]);
}

const payloadType = (packet: Buffer): number => (packet[1] ?? 0) & 0x7f;
const payload = (packet: Buffer): Buffer => packet.subarray(12 + ((packet[0] ?? 0) & 0x0f) * 4);

/** The caller's SDP: PCMU with telephone-event/8000. */
function pcmuOffer(port: number): string {
  return sdpAudio(HOST, port, {
    origin: 'caller 1 1',
    formats: '0 101',
    attributes: [
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
    ],
  });
}

/** The callee: Opus only (with telephone-event/48000 when offered); 488 when the offer has no Opus. */
function opusCallee(port: () => number): Answer {
  return (offer) => {
    const media = describeSdp(offer).media[0];
    const opus = media?.codecs.find((c) => c.name.toLowerCase() === 'opus');
    if (opus === undefined) return { status: 488, reason: 'Not Acceptable Here' };
    const events = media?.telephoneEvents.find((e) => e.clockRate === 48000);
    const sdp = sdpAudio(HOST, port(), {
      origin: 'callee 7 1',
      formats: [opus.payloadType, ...(events ? [events.payloadType] : [])].join(' '),
      attributes: [
        `a=rtpmap:${opus.payloadType} opus/48000/2`,
        ...(events
          ? [`a=rtpmap:${events.payloadType} telephone-event/48000`, `a=fmtp:${events.payloadType} 0-16`]
          : []),
      ],
    });
    return { status: 200, reason: 'OK', sdp };
  };
}

const bodyOf = (res: SipResponse): Buffer =>
  Buffer.from(res.raw.slice(res.raw.indexOf('\r\n\r\n') + 4), 'latin1');

interface Setup {
  pbx: PbxProcess;
  caller: UdpSipClient;
  callee: Callee;
  a: RtpParty;
  b: RtpParty;
}

async function setup(transcode: boolean, relayEngine: 'native' | 'node' = 'native'): Promise<Setup> {
  const [a, b] = [await RtpParty.open(), await RtpParty.open()];
  closers.push(
    () => a.close(),
    () => b.close(),
  );
  const callee = await Callee.open(opusCallee(() => b.port));
  const pbx = await startPbx({
    media: { transcode, relayEngine },
    routing: { routes: [{ match: '^.*$', target: `sip:${HOST}:${callee.port}` }] },
    events: { webhooks: [] },
  });
  const caller = await UdpSipClient.open();
  closers.push(() => caller.close());
  return { pbx, caller, callee, a, b };
}

/** A request from the caller to the pbx over UDP. */
function fromCaller(s: Setup, fields: Omit<RequestSpec, 'target' | 'local' | 'transport'>): Buffer {
  return buildRequest({
    target: { host: HOST, port: s.pbx.sipPort },
    local: s.caller.local,
    transport: 'UDP',
    ...fields,
  });
}

/** Sends the caller's INVITE with `sdp` and resolves with the final response. */
function invite(s: Setup, callId: string, sdp: string): Promise<SipResponse> {
  const branch = `z9hG4bK-${callId}`;
  const request = fromCaller(s, { method: 'INVITE', branch, callId, body: sdp });
  return s.caller.request(request, branch, s.pbx.sipPort, 10_000);
}

/** ACK (a new transaction after a 2xx, RFC 3261 §13.2.2.4; the INVITE's branch after a failure, §17.1.1.3). */
async function ack(s: Setup, callId: string, toTag: string, branch: string): Promise<void> {
  await s.caller.send(fromCaller(s, { method: 'ACK', branch, callId, toTag }), s.pbx.sipPort);
}

describe('transcoding through the pbx', () => {
  // Transcoded RTP (and RTCP) leaves the relay for JavaScript and comes back: the engine-specific path.
  it.each(['native', 'node'] as const)(
    'media.transcode (%s relay engine): a PCMU-only caller and an Opus-only callee hear each other; DTMF passes',
    async (engine) => {
      const s = await setup(true, engine);
      const ready = s.pbx.logs().find((line) => line['msg'] === 'pbx ready');
      expect(ready?.['relayEngine']).toBe(engine);
      const callId = `transcode-${process.pid}@e2e`;
      const acked = s.callee.next('ACK');
      const ok = await invite(s, callId, pcmuOffer(s.a.port));
      expect(ok.status).toBe(200);

      // The callee was offered Opus (and telephone-event/48000) after the caller's own formats.
      const offered = describeSdp(s.callee.invites[0] ?? Buffer.alloc(0)).media[0];
      expect(offered?.formats.slice(0, 2)).toEqual(['0', '101']);
      const opusPt = offered?.codecs.find((c) => c.name === 'opus')?.payloadType ?? -1;
      const eventsPt = offered?.telephoneEvents.find((e) => e.clockRate === 48000)?.payloadType ?? -1;
      expect(opusPt).toBeGreaterThanOrEqual(96);
      // The caller was answered with its own PCMU.
      const answered = describeSdp(bodyOf(ok)).media[0];
      expect(answered?.formats).toEqual(['0', '101']);
      await ack(s, callId, ok.toTag, `z9hG4bK-ack-${process.pid}`);
      await acked;
      const towardsB = offered?.port ?? 0;
      const towardsA = answered?.port ?? 0;

      // Caller -> callee: 1 s of 1 kHz PCMU, heard as Opus.
      const pcmu = encodePcmuFrames(tone(1000, 8000, 1)).map((codes, k) =>
        rtp(0, 100 + k, k * 160, SSRC_A, codes),
      );
      const atB = await s.a.exchange(s.b, towardsA, pcmu);
      expect(atB.map(payloadType)).toEqual(Array<number>(50).fill(opusPt));
      const heard = decodeOpusFrames(atB.map(payload));
      expect(bestCorrelation(tone(1000, 48000, 1), heard, 4800, 43200, 2400).c).toBeGreaterThanOrEqual(0.9);

      // Callee -> caller: 1 s of 440 Hz Opus, heard as PCMU.
      const opus = encodeOpusFrames(tone(440, 48000, 1)).map((frame, k) =>
        rtp(opusPt, 200 + k, k * 960, SSRC_B, frame),
      );
      const atA = await s.b.exchange(s.a, towardsB, opus);
      expect(atA.map(payloadType)).toEqual(Array<number>(50).fill(0));
      const pcm = decodePcmuFrames(atA.map(payload));
      expect(bestCorrelation(tone(440, 8000, 1), pcm, 800, 7200, 400).c).toBeGreaterThanOrEqual(0.9);

      // DTMF '5' both ways, payload type mapped, duration rescaled (800 at 8 kHz = 4800 at 48 kHz).
      const [eventAtB] = await s.a.exchange(s.b, towardsA, [
        rtp(101, 150, 8000, SSRC_A, Uint8Array.from([5, 0x8a, 0x03, 0x20])),
      ]);
      expect(payloadType(eventAtB ?? Buffer.alloc(12))).toBe(eventsPt);
      expect([...payload(eventAtB ?? Buffer.alloc(12))]).toEqual([5, 0x8a, 0x12, 0xc0]);
      const [eventAtA] = await s.b.exchange(s.a, towardsB, [
        rtp(eventsPt, 250, 48000, SSRC_B, Uint8Array.from([5, 0x8a, 0x12, 0xc0])),
      ]);
      expect(payloadType(eventAtA ?? Buffer.alloc(12))).toBe(101);
      expect([...payload(eventAtA ?? Buffer.alloc(12))]).toEqual([5, 0x8a, 0x03, 0x20]);
      expect(await s.pbx.metricValue('sippbx_rtp_dropped_total', { reason: 'transform' })).toBe(0);

      const byeBranch = `z9hG4bK-bye-${process.pid}`;
      const byeSeen = s.callee.next('BYE');
      const bye = fromCaller(s, { method: 'BYE', branch: byeBranch, callId, cseq: 2, toTag: ok.toTag });
      expect((await s.caller.request(bye, byeBranch, s.pbx.sipPort)).status).toBe(200);
      await byeSeen;
    },
  );

  it('without media.transcode the callee is offered PCMU only, refuses, and the caller gets 488', async () => {
    const s = await setup(false);
    const callId = `no-transcode-${process.pid}@e2e`;
    const refused = await invite(s, callId, pcmuOffer(s.a.port));
    expect(refused.status).toBe(488);
    await ack(s, callId, refused.toTag, `z9hG4bK-${callId}`);
    expect(describeSdp(s.callee.invites[0] ?? Buffer.alloc(0)).media[0]?.formats).toEqual(['0', '101']);
  });
});
