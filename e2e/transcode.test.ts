// Transcoding through the real pbx process (docs/configuration.md "Transcoding"): a PCMU-only caller (the
// harness' UDP SIP client) calls an Opus-only callee (a minimal UAS on a UDP socket, below). With
// `media.transcode: true` the callee is offered Opus, answers with it, and the caller is answered with PCMU; a tone
// crosses the relay both ways (decoded and correlated) and DTMF (RFC 4733) passes with its payload type mapped.
// Without it the callee sees the caller's codecs only and refuses the call, and the caller gets the 488.
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpusDecoder, createOpusEncoder, decodeUlaw, encodeUlaw } from '../pbx/media/codecs/index.js';
import { describeSdp } from '../pbx/media/sdp/index.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { PbxProcess } from './harness/pbx.js';
import { UdpSipClient, buildRequest } from './harness/sip-client.js';
import type { SipResponse } from './harness/sip-client.js';

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

/** A party's RTP socket that collects what arrives. */
class Party {
  readonly received: Buffer[] = [];
  #waiters: { count: number; resolve: () => void }[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('message', (data: Buffer) => {
      this.received.push(data);
      this.#waiters = this.#waiters.filter((w) =>
        this.received.length >= w.count ? (w.resolve(), false) : true,
      );
    });
  }

  static async open(): Promise<Party> {
    return new Party(await udpSocket());
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends `packets` to the relay's `port` and resolves with what `to` got for them. */
  async exchange(to: Party, port: number, packets: readonly Buffer[]): Promise<Buffer[]> {
    const before = to.received.length;
    const arrived = new Promise<void>((resolve) =>
      to.#waiters.push({ count: before + packets.length, resolve }),
    );
    for (const packet of packets) this.socket.send(packet, port, HOST);
    await within(arrived, 5000, `${packets.length} RTP packets (got ${to.received.length - before})`);
    return to.received.slice(before);
  }
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

/** `seconds` of a sine tone at `rate`. */
function tone(frequency: number, rate: number, seconds: number): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round(10000 * Math.sin((2 * Math.PI * frequency * i) / rate));
  return out;
}

/** Normalised correlation of `a` with `b` delayed by the best lag in [0, maxLag). */
function bestCorrelation(a: Int16Array, b: Int16Array, from: number, to: number, maxLag: number): number {
  let best = -1;
  for (let lag = 0; lag < maxLag; lag++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = from; i < to; i++) {
      const x = a[i] ?? 0;
      const y = b[i + lag] ?? 0;
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    best = Math.max(best, ab / Math.sqrt(aa * bb || 1));
  }
  return best;
}

/** The caller's SDP: PCMU with telephone-event/8000. */
function pcmuOffer(port: number): string {
  return [
    'v=0',
    `o=caller 1 1 IN IP4 ${HOST}`,
    's=-',
    `c=IN IP4 ${HOST}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    '',
  ].join('\r\n');
}

/** The callee: Opus only (with telephone-event/48000 when offered); 488 when the offer has no Opus. */
function opusCallee(port: () => number): Answer {
  return (offer) => {
    const media = describeSdp(offer).media[0];
    const opus = media?.codecs.find((c) => c.name.toLowerCase() === 'opus');
    if (opus === undefined) return { status: 488, reason: 'Not Acceptable Here' };
    const events = media?.telephoneEvents.find((e) => e.clockRate === 48000);
    const formats = [opus.payloadType, ...(events ? [events.payloadType] : [])].join(' ');
    const sdp = [
      'v=0',
      `o=callee 7 1 IN IP4 ${HOST}`,
      's=-',
      `c=IN IP4 ${HOST}`,
      't=0 0',
      `m=audio ${port()} RTP/AVP ${formats}`,
      `a=rtpmap:${opus.payloadType} opus/48000/2`,
      ...(events
        ? [`a=rtpmap:${events.payloadType} telephone-event/48000`, `a=fmtp:${events.payloadType} 0-16`]
        : []),
      '',
    ].join('\r\n');
    return { status: 200, reason: 'OK', sdp };
  };
}

const bodyOf = (res: SipResponse): Buffer =>
  Buffer.from(res.raw.slice(res.raw.indexOf('\r\n\r\n') + 4), 'latin1');

interface Setup {
  pbx: PbxProcess;
  caller: UdpSipClient;
  callee: Callee;
  a: Party;
  b: Party;
}

async function setup(transcode: boolean): Promise<Setup> {
  const [a, b] = [await Party.open(), await Party.open()];
  const callee = await Callee.open(opusCallee(() => b.port));
  const pbx = await startPbx({
    media: { transcode },
    routing: { routes: [{ match: '^.*$', target: `sip:${HOST}:${callee.port}` }] },
    events: { webhooks: [] },
  });
  const caller = await UdpSipClient.open();
  closers.push(() => caller.close());
  return { pbx, caller, callee, a, b };
}

/** Sends the caller's INVITE with `sdp` and resolves with the final response. */
function invite(s: Setup, callId: string, sdp: string): Promise<SipResponse> {
  const branch = `z9hG4bK-${callId}`;
  const request = buildRequest({
    method: 'INVITE',
    target: { host: HOST, port: s.pbx.sipPort },
    local: s.caller.local,
    transport: 'UDP',
    branch,
    callId,
    body: sdp,
  });
  return s.caller.request(request, branch, s.pbx.sipPort, 10_000);
}

/** ACK (a new transaction after a 2xx, RFC 3261 §13.2.2.4; the INVITE's branch after a failure, §17.1.1.3). */
async function ack(s: Setup, callId: string, toTag: string, branch: string): Promise<void> {
  const request = buildRequest({
    method: 'ACK',
    target: { host: HOST, port: s.pbx.sipPort },
    local: s.caller.local,
    transport: 'UDP',
    branch,
    callId,
    toTag,
  });
  await s.caller.send(request, s.pbx.sipPort);
}

describe('transcoding through the pbx', () => {
  it('media.transcode: a PCMU-only caller and an Opus-only callee hear each other; DTMF passes', async () => {
    const s = await setup(true);
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
    const pcmu: Buffer[] = [];
    const input = tone(1000, 8000, 1);
    for (let k = 0; k < 50; k++) {
      const codes = new Uint8Array(160);
      encodeUlaw(input.subarray(k * 160, (k + 1) * 160), codes);
      pcmu.push(rtp(0, 100 + k, k * 160, SSRC_A, codes));
    }
    const atB = await s.a.exchange(s.b, towardsA, pcmu);
    expect(atB.map(payloadType)).toEqual(Array<number>(50).fill(opusPt));
    const decoder = createOpusDecoder({ channels: 1 });
    const heard = new Int16Array(48000);
    const frame = new Int16Array(5760);
    let at = 0;
    for (const packet of atB) {
      const n = decoder.decode(payload(packet), frame);
      heard.set(frame.subarray(0, Math.min(n, heard.length - at)), at);
      at += n;
    }
    decoder.close();
    expect(bestCorrelation(tone(1000, 48000, 1), heard, 4800, 43200, 2400)).toBeGreaterThanOrEqual(0.9);

    // Callee -> caller: 1 s of 440 Hz Opus, heard as PCMU.
    const encoder = createOpusEncoder({ channels: 1 });
    const spoken = tone(440, 48000, 1);
    const opus: Buffer[] = [];
    const scratch = new Uint8Array(4000);
    for (let k = 0; k < 50; k++) {
      const n = encoder.encode(spoken.subarray(k * 960, (k + 1) * 960), 960, scratch);
      opus.push(rtp(opusPt, 200 + k, k * 960, SSRC_B, scratch.subarray(0, n)));
    }
    encoder.close();
    const atA = await s.b.exchange(s.a, towardsB, opus);
    expect(atA.map(payloadType)).toEqual(Array<number>(50).fill(0));
    const pcm = new Int16Array(8000);
    atA.forEach((packet, k) => decodeUlaw(payload(packet), pcm.subarray(k * 160, (k + 1) * 160)));
    expect(bestCorrelation(tone(440, 8000, 1), pcm, 800, 7200, 400)).toBeGreaterThanOrEqual(0.9);

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
    const bye = buildRequest({
      method: 'BYE',
      target: { host: HOST, port: s.pbx.sipPort },
      local: s.caller.local,
      transport: 'UDP',
      branch: byeBranch,
      callId,
      cseq: 2,
      toTag: ok.toTag,
    });
    expect((await s.caller.request(bye, byeBranch, s.pbx.sipPort)).status).toBe(200);
    await byeSeen;
  });

  it('without media.transcode the callee is offered PCMU only, refuses, and the caller gets 488', async () => {
    const s = await setup(false);
    const callId = `no-transcode-${process.pid}@e2e`;
    const refused = await invite(s, callId, pcmuOffer(s.a.port));
    expect(refused.status).toBe(488);
    await ack(s, callId, refused.toTag, `z9hG4bK-${callId}`);
    expect(describeSdp(s.callee.invites[0] ?? Buffer.alloc(0)).media[0]?.formats).toEqual(['0', '101']);
  });
});
