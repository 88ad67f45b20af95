/** Result of classifying a datagram: not RTP/RTCP at all, RTP, or RTCP. */
export type PacketKind = 0 | 1 | 2;

/** The datagram is neither valid RTP nor valid RTCP. */
export const MALFORMED: PacketKind = 0;
/** An RTP packet (RFC 3550 §5.1). */
export const RTP: PacketKind = 1;
/** An RTCP packet (RFC 3550 §6.4). */
export const RTCP: PacketKind = 2;

const RTP_HEADER_BYTES = 12;
const RTCP_HEADER_BYTES = 8;

/** RTP fixed header present and version 2 (RFC 3550 §5.1). */
export function rtpKind(packet: Buffer): PacketKind {
  return packet.length >= RTP_HEADER_BYTES && (packet[0] ?? 0) >>> 6 === 2 ? RTP : MALFORMED;
}

/** RTCP header plus sender SSRC present and version 2 (RFC 3550 §6.4.1). */
export function rtcpKind(packet: Buffer): PacketKind {
  return packet.length >= RTCP_HEADER_BYTES && (packet[0] ?? 0) >>> 6 === 2 ? RTCP : MALFORMED;
}

/** STUN's magic cookie (RFC 5389 §6), bytes 4-7 of every STUN message. */
const STUN_MAGIC_COOKIE = 0x2112a442;

/**
 * A STUN message (RFC 5389 §6; RFC 7983 §7 demultiplexing: first byte 0-3): the relay is no ICE agent, so
 * such packets (e.g. a softphone's keep-alive Binding Requests) are dropped, counted apart from junk.
 */
export function isStun(packet: Buffer): boolean {
  return packet.length >= 20 && (packet[0] ?? 4) < 4 && packet.readUInt32BE(4) === STUN_MAGIC_COOKIE;
}

/**
 * Demultiplexes RTP and RTCP sharing a port (RFC 5761 §4): the second byte of RTCP is its packet type
 * 192–223, which as an RTP marker+payload type byte would mean payload types 64–95, kept free for this.
 */
export function muxedKind(packet: Buffer): PacketKind {
  const second = packet[1] ?? 0;
  return second >= 192 && second <= 223 ? rtcpKind(packet) : rtpKind(packet);
}
