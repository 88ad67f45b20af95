/**
 * The media half of a call: one relay session, and the SDP rewriting between the legs (bypass mode:
 * only c=, m= ports, a=rtcp and o= change). SDP from a side tells the relay where that side listens;
 * the rewritten copy sent to the other side points at the relay's sockets facing it.
 */
import type { Clock } from '../core/clock.js';
import { describeSdp, nextOriginVersion, rewriteSdp, SdpError } from '../media/sdp/index.js';
import type { MediaPorts, OriginVersionState, SdpMedia } from '../media/sdp/index.js';
import { openMediaSession } from '../media/relay/index.js';
import type { MediaSession, RelayCounters, Side } from '../media/relay/index.js';
import type { PortPool } from '../media/ports/index.js';

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
  readonly inactivityTimeoutMs?: number;
  readonly onInactive?: () => void;
}

/** The relay and SDP state of one call. */
export class CallMedia {
  readonly #session: MediaSession;
  readonly #advertised: string;
  /** Per destination side: the last SDP we rewrote towards it and the o= version we gave it. */
  readonly #versions: Record<Side, OriginVersionState | undefined> = { a: undefined, b: undefined };

  private constructor(session: MediaSession, advertised: string) {
    this.#session = session;
    this.#advertised = advertised;
  }

  /** Leases a port block and binds the first line; throws PortPoolExhausted when none is free. */
  static async open(opts: CallMediaOptions): Promise<CallMedia> {
    const session = await openMediaSession(opts.pool, {
      listen: opts.listen,
      lines: 1,
      clock: opts.clock,
      counters: opts.counters,
      ...(opts.inactivityTimeoutMs === undefined ? {} : { inactivityTimeoutMs: opts.inactivityTimeoutMs }),
      ...(opts.onInactive === undefined ? {} : { onInactive: () => opts.onInactive?.() }),
    });
    return new CallMedia(session, opts.advertised);
  }

  /** First port of the block (for the calls API). */
  get basePort(): number {
    return this.#session.basePort;
  }

  /**
   * Takes an SDP body sent by `from`, points the relay at it and returns the body to send to the other
   * side. Throws SdpError when the SDP cannot be used (the caller answers 488).
   */
  async relay(from: Side, body: Buffer): Promise<Buffer> {
    const description = describeSdp(body);
    const to: Side = from === 'a' ? 'b' : 'a';
    const ports: (MediaPorts | null)[] = [];
    for (const media of description.media) ports.push(await this.#attach(from, media));
    const prev = this.#versions[to];
    const version = nextOriginVersion(prev, body, 1);
    this.#versions[to] = { lastInput: body, lastVersion: version };
    return rewriteSdp(body, { address: this.#advertised, mediaPorts: ports, session: { version } });
  }

  /** Points line `media.index` at the sender and returns the relay ports facing the receiver. */
  async #attach(from: Side, media: SdpMedia): Promise<MediaPorts | null> {
    if (media.rejected) return null;
    if (media.index >= LINES_PER_BLOCK) {
      throw new SdpError(`at most ${LINES_PER_BLOCK} active media lines per call are relayed`);
    }
    const line = this.#session.line(media.index) ?? (await this.#session.openLine(media.index));
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

  /** RTP packets received on every line, both ways (for the calls API and media timeouts). */
  rtpReceived(): number {
    return this.#session.rtpReceived();
  }

  /** Closes the sockets and returns the block; idempotent. */
  close(): Promise<void> {
    return this.#session.close();
  }
}

export { SdpError };
