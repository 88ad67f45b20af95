import type {
  Direction,
  PacketTransform,
  PeerAddress,
  RelayCounters,
  RemoteEndpoint,
  Side,
} from './types.js';

/** Local ports of one media line: the A-facing and B-facing RTP/RTCP pairs. */
export interface LinePorts {
  readonly a: { readonly rtp: number; readonly rtcp: number };
  readonly b: { readonly rtp: number; readonly rtcp: number };
}

/**
 * The relay for one media line (one `m=`), whichever engine runs it: the Node one (line.ts) or the
 * native one (native-line.ts). Both have the same semantics; test/media/relay.test.ts runs on both.
 */
export interface MediaLine {
  /** Media line index within the session (0 = first `m=`). */
  readonly index: number;
  /** Local ports, for the SDP rewrite. */
  readonly ports: LinePorts;
  /** This line's counters (a snapshot for the native engine). */
  readonly counters: RelayCounters;
  /** Sets a party's SDP address (new offer/answer) and clears its latches, so the next packet may re-latch. */
  setRemote(side: Side, remote: RemoteEndpoint): void;
  /** Where a party's RTP (or, without mux, RTCP) goes now, and whether that address is latched. */
  remote(side: Side, flow?: 'rtp' | 'rtcp'): PeerAddress;
  /** True when a party's RTP leaves through a socket connected to it (Node engine only). */
  connected(side: Side): boolean;
  /**
   * Installs (or with undefined removes) the RTP rewrite of one direction and, optionally, the rewrite of
   * that direction's RTCP (a transcoder's sender reports); without one RTCP passes untouched.
   */
  setTransform(direction: Direction, transform: PacketTransform | undefined, rtcp?: PacketTransform): void;
  /** RTP packets accepted from either party so far (the media-inactivity probe). */
  rtpReceived(): number;
  /** Closes every socket of the line; resolves when their ports are free; later calls return the same promise. */
  close(): Promise<void>;
}
