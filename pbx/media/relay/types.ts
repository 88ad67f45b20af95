import type { Socket, SocketOptions } from 'node:dgram';

/** The two parties of a call as the relay sees them: A is the caller's leg, B the callee's. */
export type Side = 'a' | 'b';

/** Which way a packet travels through the relay (label of `sippbx_rtp_packets_total{direction}`). */
export type Direction = 'a-to-b' | 'b-to-a';

/** Why the relay dropped a packet (label of `sippbx_rtp_dropped_total{reason}`). */
export type DropReason =
  'malformed' | 'foreign-source' | 'no-destination' | 'transform' | 'send-error' | 'socket-error' | 'stun';

/** Every drop reason, for metrics layers that pre-register label values. */
export const DROP_REASONS: readonly DropReason[] = [
  'malformed',
  'foreign-source',
  'no-destination',
  'transform',
  'send-error',
  'socket-error',
  'stun',
];

/** A counter per direction. */
export type DirectionCounts = Record<Direction, number>;

/** A counter per drop reason. */
export type DropCounts = Record<DropReason, number>;

/** Relay counters; plain mutable numbers so the hot path only increments and the metrics layer only reads. */
export interface RelayCounters {
  readonly rtpPackets: DirectionCounts;
  readonly rtpBytes: DirectionCounts;
  readonly rtcpPackets: DirectionCounts;
  readonly rtcpBytes: DirectionCounts;
  readonly dropped: DropCounts;
}

/** A party's media address from its SDP (RFC 4566 `c=`/`m=`, RFC 3605 `a=rtcp`, RFC 5761 `a=rtcp-mux`). */
export interface RemoteEndpoint {
  /** IP literal of `c=`; `0.0.0.0`/`::` (hold, RFC 3264 §8.4) means "not known until a packet arrives". */
  readonly address: string;
  /** Port of `m=`; 0 (rejected stream) means no destination. */
  readonly rtpPort: number;
  /** Port of `a=rtcp:`; default rtpPort + 1 (RFC 3550 §11). */
  readonly rtcpPort?: number;
  /** The party sends and receives RTCP on its RTP port. */
  readonly rtcpMux: boolean;
}

/** Where packets of one of a party's flows currently come from and go to. */
export interface PeerAddress {
  readonly address: string;
  readonly port: number;
  /** True once the first packet fixed the address (symmetric RTP); false while it is the SDP's. */
  readonly latched: boolean;
}

/**
 * Rewrites one RTP packet (e.g. a transcoder); returns the packet to send, null to drop it (counted), or an
 * empty Buffer when it keeps the packet to send it with a later one (nothing sent, nothing counted).
 */
export type PacketTransform = (packet: Buffer) => Buffer | null;

/** Creates UDP sockets; same shape as the transport layer's factory so one object can serve both. */
export interface MediaSocketFactory {
  createUdpSocket(options: SocketOptions): Socket;
}
