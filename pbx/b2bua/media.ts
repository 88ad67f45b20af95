/**
 * The media half of a call: one relay session, and the SDP rewriting between the legs (bypass mode:
 * only c=, m= ports, a=rtcp and o= change). SDP from a side tells the relay where that side listens;
 * the rewritten copy sent to the other side points at the relay's sockets facing it.
 *
 * The session (a port block and its sockets) is opened by the first SDP of the call, not by the
 * INVITE: a signaling-only call holds no port and no socket, so a pbx carries many more of them than
 * its port range has blocks (issue #4: 10,000 concurrent signaling-only calls).
 */
import type { Clock } from '../core/clock.js';
import { describeSdp, nextOriginVersion, rewriteSdp, SdpError } from '../media/sdp/index.js';
import type { MediaPorts, OriginVersionState, SdpDescription, SdpMedia } from '../media/sdp/index.js';
import { openMediaSession } from '../media/relay/index.js';
import type { MediaSession, RelayCounters, Side } from '../media/relay/index.js';
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
  /** No RTP either way for this long ends the call (`media.inactivityTimeoutSeconds`); absent: never. */
  readonly inactivityTimeoutMs?: number;
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
  #onInactive: (() => void) | undefined;

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

  /** First port of the block, or null while the call has no media (no SDP seen yet). */
  get basePort(): number | null {
    return this.#session?.basePort ?? null;
  }

  /**
   * Takes an SDP body sent by `from`, points the relay at it and returns the body to send to the other
   * side. Throws SdpError when the SDP cannot be used (the caller answers 488), PortPoolExhausted when
   * this is the call's first SDP and no port block is free (503).
   */
  async relay(from: Side, body: Buffer): Promise<Buffer> {
    const description = describeSdp(body);
    const session = await this.#ensureSession();
    const to: Side = from === 'a' ? 'b' : 'a';
    const ports: (MediaPorts | null)[] = [];
    for (const media of description.media) ports.push(await this.#attach(session, from, media));
    this.#noteHold(session, from, description);
    const prev = this.#versions[to];
    const version = nextOriginVersion(prev, body, 1);
    this.#versions[to] = { lastInput: body, lastVersion: version };
    return rewriteSdp(body, { address: this.#opts.advertised, mediaPorts: ports, session: { version } });
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
        ...(opts.inactivityTimeoutMs === undefined ? {} : { inactivityTimeoutMs: opts.inactivityTimeoutMs }),
        onInactive: () => this.#onInactive?.(),
      });
      this.#session = session;
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
  #noteHold(session: MediaSession, from: Side, description: SdpDescription): void {
    const timeout = this.#opts.inactivityTimeoutMs;
    if (timeout === undefined) return;
    const wasHeld = this.#holding.a || this.#holding.b;
    this.#holding[from] = description.media.some(
      (m) => !m.rejected && (m.onHold || m.direction !== 'sendrecv'),
    );
    const held = this.#holding.a || this.#holding.b;
    if (held !== wasHeld) session.setInactivityTimeout(held ? 0 : timeout);
  }
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
