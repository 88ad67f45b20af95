/**
 * The media half of a call: one relay session, and the SDP rewriting between the legs (bypass mode:
 * only c=, m= ports, a=rtcp and o= change). SDP from a side tells the relay where that side listens;
 * the rewritten copy sent to the other side points at the relay's sockets facing it.
 *
 * The session (a port block and its sockets) is opened by the first SDP of the call, not by the
 * INVITE: a signaling-only call holds no port and no socket, so a pbx carries many more of them than
 * its port range has blocks (issue #4: 10,000 concurrent signaling-only calls).
 *
 * Transcoding (`media.transcode`): an offer's audio lines get the codecs the relay converts (PCMU, PCMA,
 * Opus) that the offerer lacks, appended after its own; when the answer picks only appended codecs, the
 * relay line gets a transcoder each way and the offerer is answered with its own best codec
 * (pbx/media/sdp/transcode-*.ts). For that CallMedia must know offers from answers (RFC 3264). The caller
 * may say so (`relay(from, body, role)`); otherwise it is inferred: an SDP is the answer when an offer from
 * the other side is pending, or when it repeats (same o= session id and version, RFC 3264 §8) the answer
 * its side gave last, as a 2xx repeats the answer of the 18x before it (RFC 3261 §13.2.1: "that same
 * exact answer"); any other SDP is an offer. Inference cannot tell an unchanged re-offer (a session refresh re-INVITE, or
 * an offer in the 2xx to an SDP-less re-INVITE) from a repeated answer, nor see an offer refused by a
 * failure response (it stays pending): callers that know should pass the role.
 */
import type { Clock } from '../core/clock.js';
import { createTranscoder } from '../media/codecs/index.js';
import type { Transcoder } from '../media/codecs/index.js';
import {
  describeSdp,
  nextOriginVersion,
  planTranscodeAnswer,
  planTranscodeOffer,
  rewriteSdp,
  SdpError,
} from '../media/sdp/index.js';
import type {
  CodecOnLeg,
  MediaPorts,
  OriginVersionState,
  SdpDescription,
  SdpMedia,
  TranscodedLine,
  TranscodeOffer,
} from '../media/sdp/index.js';
import { openMediaSession } from '../media/relay/index.js';
import type {
  Direction,
  DirectionCounts,
  MediaSession,
  PacketTransform,
  RelayCounters,
  Side,
} from '../media/relay/index.js';
import { PortPoolExhausted } from '../media/ports/index.js';
import type { PortPool } from '../media/ports/index.js';
import { hdr } from '../sip/index.js';
import type { SipHeader } from '../sip/index.js';

/** Media lines one port block serves (ARCHITECTURE.md "Media": 8 ports, two lines). */
export const LINES_PER_BLOCK = 2;

/** What a call needs to open its media. */
export interface CallMediaOptions {
  readonly pool: PortPool;
  /** Address the relay sockets bind (`media.listen`). */
  readonly listen: string;
  /** Address written into SDP c= (`media.advertisedAddress`). */
  readonly advertised: string;
  readonly clock: Clock;
  readonly counters: RelayCounters;
  /** The relay engine the sessions run on (`media.relayEngine`, resolved at start); default auto. */
  readonly engine?: 'native' | 'node';
  /** No RTP either way for this long ends the call (`media.inactivityTimeoutSeconds`); absent: never. */
  readonly inactivityTimeoutMs?: number;
  /** Transcode when the legs share no codec (`media.transcode`, default false: such a call fails with 488). */
  readonly transcode?: boolean;
  /** Incremented per packet a transcoder sent on, by direction (a metric's source); absent: not counted. */
  readonly transcoded?: DirectionCounts;
}

/** What an SDP body is in its offer/answer exchange (RFC 3264 §4); see the module comment for the default. */
export type SdpRole = 'offer' | 'answer';

/** An offer waiting for its answer, with what transcoding appended to it (undefined when off). */
interface PendingOffer {
  readonly from: Side;
  readonly plan: TranscodeOffer | undefined;
}

/** The last completed exchange, to recognise its answer when the answerer repeats it. */
interface LastAnswer {
  readonly answerer: Side;
  readonly origin: string;
  readonly plan: TranscodeOffer | undefined;
}

/** The two transcoders of one relay line and what they were built for. */
interface LineTranscoding {
  readonly key: string;
  readonly transcoders: readonly Transcoder[];
}

/** The relay and SDP state of one call. */
export class CallMedia {
  readonly #opts: CallMediaOptions;
  #session: MediaSession | undefined;
  #opening: Promise<MediaSession> | undefined;
  #closing: Promise<void> | undefined;
  /** Per destination side: the last SDP we rewrote towards it and the o= version we gave it. */
  readonly #versions: Record<Side, OriginVersionState | undefined> = { a: undefined, b: undefined };
  /** Per sending side: whether its last SDP put a stream on hold (silence is then allowed). */
  readonly #holding: Record<Side, boolean> = { a: false, b: false };
  /** Per destination side: the last SDP we sent it (rewritten). */
  readonly #sent: Record<Side, Buffer | undefined> = { a: undefined, b: undefined };
  #onInactive: (() => void) | undefined;
  /** The media timeout applies from the answer on (a ringing call is silent by nature). */
  #answered = false;
  /** What the session's media timeout is set to now. */
  #timeout: 'off' | 'armed' | 'held' = 'off';
  #pending: PendingOffer | undefined;
  #lastAnswer: LastAnswer | undefined;
  /** Per relay line index: the transcoders installed on it (none: bypass). */
  readonly #transcoding = new Map<number, LineTranscoding>();

  constructor(opts: CallMediaOptions) {
    this.#opts = opts;
  }

  /**
   * Leases a port block and binds the first line now (a call whose INVITE carries an offer); later SDP
   * reuses it. Throws PortPoolExhausted when no block is free (the caller answers 503).
   */
  async open(): Promise<void> {
    await this.#ensureSession();
  }

  /** Sets what happens when the media timeout hits (the call ends with reason `media-timeout`). */
  whenInactive(fn: () => void): void {
    this.#onInactive = fn;
  }

  /**
   * The call was answered: the media timeout (`inactivityTimeoutMs`) starts counting now, or when the
   * call's first SDP opens the media, and pauses while a side holds.
   */
  answered(): void {
    this.#answered = true;
    this.#applyTimeout();
  }

  /** First port of the block, or null while the call has no media (no SDP seen yet). */
  get basePort(): number | null {
    return this.#session?.basePort ?? null;
  }

  /**
   * Takes an SDP body sent by `from`, points the relay at it and returns the body to send to the other
   * side. `role` says whether it is an offer or an answer; without it, it is inferred (module comment).
   * Throws SdpError when the SDP cannot be used (the caller answers 488), PortPoolExhausted when this is
   * the call's first SDP and no port block is free (503).
   */
  async relay(from: Side, body: Buffer, role?: SdpRole): Promise<Buffer> {
    const description = describeSdp(body);
    const session = await this.#ensureSession();
    const to: Side = from === 'a' ? 'b' : 'a';
    const ports: (MediaPorts | null)[] = [];
    for (const media of description.media) ports.push(await this.#attach(session, from, media));
    this.#noteHold(from, description);
    const origin = originKey(description, body);
    const out =
      (role ?? this.#roleOf(from, origin)) === 'offer'
        ? this.#offer(from, body)
        : this.#answer(session, from, body, origin);
    const prev = this.#versions[to];
    const version = nextOriginVersion(prev, body, 1);
    this.#versions[to] = { lastInput: body, lastVersion: version };
    const rewritten = rewriteSdp(out, {
      address: this.#opts.advertised,
      mediaPorts: ports,
      session: { version },
    });
    this.#sent[to] = rewritten;
    return rewritten;
  }

  /**
   * The last SDP we sent towards `to` (undefined before any): a session refresh re-INVITE offers it again,
   * unchanged, o= version included (RFC 3264 §8: an offer may repeat the session unchanged).
   */
  lastSent(to: Side): Buffer | undefined {
    return this.#sent[to];
  }

  /** RTP packets received on every line, both ways (for the calls API and media timeouts). */
  rtpReceived(): number {
    return this.#session?.rtpReceived() ?? 0;
  }

  /** Closes the sockets and returns the block (waiting for an open in progress); idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const session = this.#session ?? (await this.#opening?.catch(() => undefined));
    await session?.close();
    for (const line of this.#transcoding.values()) closeAll(line.transcoders);
    this.#transcoding.clear();
  }

  /** The role of an SDP whose sender did not say (module comment). */
  #roleOf(from: Side, origin: string): SdpRole {
    if (this.#pending !== undefined) return this.#pending.from === from ? 'offer' : 'answer';
    const last = this.#lastAnswer;
    return last?.answerer === from && last.origin === origin ? 'answer' : 'offer';
  }

  /** An offer from `from`: with transcoding on, extended with the codecs the relay converts. */
  #offer(from: Side, body: Buffer): Buffer {
    const plan = this.#opts.transcode === true ? planTranscodeOffer(body) : undefined;
    this.#pending = { from, plan: plan?.offer };
    return plan?.body ?? body;
  }

  /**
   * An answer from `from` to the pending offer (or the same answer again): the transcoders the exchange
   * needs replace those of the previous one; a line back in bypass loses its transcoders.
   */
  #answer(session: MediaSession, from: Side, body: Buffer, origin: string): Buffer {
    const plan = this.#answeredOffer(from);
    if (this.#pending?.from !== from) this.#pending = undefined;
    this.#lastAnswer = { answerer: from, origin, plan };
    const answer = plan === undefined ? undefined : planTranscodeAnswer(plan, body);
    this.#installTranscoders(session, from === 'a' ? 'b' : 'a', answer?.lines ?? []);
    return answer?.body ?? body;
  }

  /** The transcoding plan of the offer an answer from `from` answers: the other side's pending one, else (a repeat) the last. */
  #answeredOffer(from: Side): TranscodeOffer | undefined {
    if (this.#pending !== undefined) return this.#pending.from === from ? undefined : this.#pending.plan;
    return this.#lastAnswer?.answerer === from ? this.#lastAnswer.plan : undefined;
  }

  /** Makes the relay lines transcode exactly `lines` (offerer's side: `offerer`); keeps unchanged ones. */
  #installTranscoders(session: MediaSession, offerer: Side, lines: readonly TranscodedLine[]): void {
    // A call closing while this SDP was in flight: close() frees what is installed; open nothing new.
    if (this.#closing !== undefined) return;
    const wanted = new Map(lines.map((line) => [line.index, line]));
    for (const [index, current] of this.#transcoding) {
      const line = wanted.get(index);
      if (line !== undefined && transcodingKey(offerer, line) === current.key) {
        wanted.delete(index);
        continue;
      }
      session.line(index)?.setTransform('a-to-b', undefined);
      session.line(index)?.setTransform('b-to-a', undefined);
      closeAll(current.transcoders);
      this.#transcoding.delete(index);
    }
    for (const line of wanted.values()) {
      const relayLine = session.line(line.index);
      if (relayLine === undefined) continue;
      const forward: Direction = offerer === 'a' ? 'a-to-b' : 'b-to-a';
      const backward: Direction = offerer === 'a' ? 'b-to-a' : 'a-to-b';
      const there = openTranscoder(line.offerer, line.answerer, line.telephoneEvent);
      let back: Transcoder;
      try {
        back = openTranscoder(line.answerer, line.offerer, swapEvents(line.telephoneEvent));
      } catch (err) {
        there.close();
        throw err;
      }
      // RTCP follows its RTP: sender reports move to the transcoded stream's clock and counts (RFC 3550 §7.1).
      relayLine.setTransform(forward, this.#counted(there, forward), (p) => there.translateRtcp(p));
      relayLine.setTransform(backward, this.#counted(back, backward), (p) => back.translateRtcp(p));
      this.#transcoding.set(line.index, { key: transcodingKey(offerer, line), transcoders: [there, back] });
    }
  }

  /** The transcoder as a relay transform, counting what it sends on when the options ask for it. */
  #counted(transcoder: Transcoder, direction: Direction): PacketTransform {
    const counts = this.#opts.transcoded;
    if (counts === undefined) return (packet) => transcoder.transform(packet);
    return (packet) => {
      const out = transcoder.transform(packet);
      if (out !== null && out.length > 0) counts[direction]++;
      return out;
    };
  }

  #ensureSession(): Promise<MediaSession> {
    if (this.#closing !== undefined) return Promise.reject(new SdpError('the call has ended'));
    if (this.#session !== undefined) return Promise.resolve(this.#session);
    this.#opening ??= this.#openSession();
    return this.#opening;
  }

  async #openSession(): Promise<MediaSession> {
    const opts = this.#opts;
    try {
      const session = await openMediaSession(opts.pool, {
        listen: opts.listen,
        lines: 1,
        clock: opts.clock,
        counters: opts.counters,
        ...(opts.engine === undefined ? {} : { engine: opts.engine }),
        onInactive: () => this.#onInactive?.(),
      });
      this.#session = session;
      this.#applyTimeout();
      return session;
    } finally {
      this.#opening = undefined;
    }
  }

  /** Points line `media.index` at the sender and returns the relay ports facing the receiver. */
  async #attach(session: MediaSession, from: Side, media: SdpMedia): Promise<MediaPorts | null> {
    if (media.rejected) return null;
    if (media.index >= LINES_PER_BLOCK) {
      throw new SdpError(`at most ${LINES_PER_BLOCK} active media lines per call are relayed`);
    }
    const line = session.line(media.index) ?? (await session.openLine(media.index));
    const address = media.connection?.address ?? '0.0.0.0';
    line.setRemote(from, {
      address,
      rtpPort: media.port,
      ...(media.rtcp === undefined ? {} : { rtcpPort: media.rtcp.port }),
      rtcpMux: media.rtcpMux,
    });
    const facing = line.ports[from === 'a' ? 'b' : 'a'];
    return { rtpPort: facing.rtp, rtcpPort: facing.rtcp };
  }

  /**
   * A held call may be silent (RFC 3264 §8.4): the media timeout pauses while either side's last SDP
   * holds a stream (sendonly, recvonly, inactive or c=0.0.0.0) and restarts from now when both resume.
   */
  #noteHold(from: Side, description: SdpDescription): void {
    this.#holding[from] = description.media.some(
      (m) => !m.rejected && (m.onHold || m.direction !== 'sendrecv'),
    );
    this.#applyTimeout();
  }

  /** Arms, pauses or leaves the session's media timeout; a change restarts the count from now. */
  #applyTimeout(): void {
    const timeout = this.#opts.inactivityTimeoutMs;
    const session = this.#session;
    if (timeout === undefined || session === undefined || !this.#answered) return;
    const want = this.#holding.a || this.#holding.b ? 'held' : 'armed';
    if (want === this.#timeout) return;
    this.#timeout = want;
    session.setInactivityTimeout(want === 'held' ? 0 : timeout);
  }
}

/** What identifies an SDP version: its o= session id and version (RFC 3264 §8), else the whole body. */
function originKey(description: SdpDescription, body: Buffer): string {
  const o = description.origin;
  return o === undefined
    ? body.toString('latin1')
    : `${o.username} ${o.sessionId} ${o.sessionVersion} ${o.address}`;
}

/** Identifies a line's transcoding, so an unchanged re-negotiation keeps its transcoders (and their state). */
function transcodingKey(offerer: Side, line: TranscodedLine): string {
  return JSON.stringify([offerer, line.offerer, line.answerer, line.telephoneEvent ?? null]);
}

type EventPts = TranscodedLine['telephoneEvent'];

function swapEvents(events: EventPts): EventPts {
  return events === undefined ? undefined : { offerer: events.answerer, answerer: events.offerer };
}

/** One direction's transcoder; a codec that cannot be opened makes the SDP unusable (488). */
function openTranscoder(from: CodecOnLeg, to: CodecOnLeg, events: EventPts): Transcoder {
  try {
    return createTranscoder({
      from,
      to,
      ...(events === undefined ? {} : { telephoneEvent: { fromPt: events.offerer, toPt: events.answerer } }),
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SdpError(`cannot transcode ${from.codec} to ${to.codec}: ${why}`);
  }
}

function closeAll(transcoders: readonly Transcoder[]): void {
  for (const transcoder of transcoders) transcoder.close();
}

/** How a call refuses SDP its media cannot take. */
export interface MediaRefusal {
  readonly status: number;
  readonly reason: string;
  readonly headers: SipHeader[];
  /** For the CDR. */
  readonly why: string;
}

/** Maps a media failure to its SIP answer: unusable SDP -> 488, no free port block -> 503 + Retry-After; rethrows anything else. */
export function mediaRefusal(err: unknown): MediaRefusal {
  if (err instanceof SdpError) {
    return { status: 488, reason: 'Not Acceptable Here', headers: [], why: `bad SDP: ${err.reason}` };
  }
  if (err instanceof PortPoolExhausted) {
    return {
      status: 503,
      reason: 'Service Unavailable',
      headers: [retryAfter(err)],
      why: 'media ports exhausted',
    };
  }
  throw err;
}

/** `Retry-After` for an exhausted pool: when a quarantined block returns, else 5 s. */
export function retryAfter(err: PortPoolExhausted): SipHeader {
  return hdr('Retry-After', Math.max(1, Math.ceil((err.retryAfterMs ?? 5000) / 1000)));
}

export { SdpError };
