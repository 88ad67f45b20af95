// The RTP fixed header (RFC 3550 §5.1) as the transcoder needs it: parsed into a reused view (no
// allocation per packet) and written back with a new payload type, sequence number and timestamp.

/** Size of the fixed RTP header. */
export const RTP_HEADER = 12;

/** Fields of one parsed RTP packet; reused across packets by `parseRtp`. */
export interface RtpView {
  payloadType: number;
  marker: boolean;
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Number of CSRC identifiers (they follow the fixed header). */
  csrcCount: number;
  /** Offset of the payload, after CSRCs and any header extension. */
  payloadOffset: number;
  /** Payload length, without padding. */
  payloadLength: number;
}

/** A blank view to hand to `parseRtp`. */
export function emptyRtpView(): RtpView {
  return {
    payloadType: 0,
    marker: false,
    sequence: 0,
    timestamp: 0,
    ssrc: 0,
    csrcCount: 0,
    payloadOffset: 0,
    payloadLength: 0,
  };
}

/** Offset after the header extension starting at `offset` (RFC 3550 §5.3.1), or -1 if truncated. */
function skipExtension(packet: Uint8Array, offset: number): number {
  if (offset + 4 > packet.length) return -1;
  const words = ((packet[offset + 2] ?? 0) << 8) | (packet[offset + 3] ?? 0);
  const end = offset + 4 + words * 4;
  return end > packet.length ? -1 : end;
}

/** Payload end once padding is removed (RFC 3550 §5.1, P bit), or -1 if the padding is invalid. */
function stripPadding(packet: Uint8Array, payloadOffset: number, padded: boolean): number {
  if (!padded) return packet.length;
  const count = packet[packet.length - 1] ?? 0;
  const end = packet.length - count;
  return count === 0 || end < payloadOffset ? -1 : end;
}

/** Parses `packet` into `view`; returns false (view undefined) unless it is well-formed RTP v2. */
export function parseRtp(packet: Uint8Array, view: RtpView): boolean {
  if (packet.length < RTP_HEADER) return false;
  const b0 = packet[0] ?? 0;
  const b1 = packet[1] ?? 0;
  if (b0 >> 6 !== 2) return false;
  const csrcCount = b0 & 0x0f;
  let offset = RTP_HEADER + csrcCount * 4;
  if (offset > packet.length) return false;
  if (b0 & 0x10) offset = skipExtension(packet, offset);
  if (offset < 0) return false;
  const end = stripPadding(packet, offset, (b0 & 0x20) !== 0);
  if (end < 0) return false;
  view.payloadType = b1 & 0x7f;
  view.marker = (b1 & 0x80) !== 0;
  view.sequence = ((packet[2] ?? 0) << 8) | (packet[3] ?? 0);
  view.timestamp = readUint32(packet, 4);
  view.ssrc = readUint32(packet, 8);
  view.csrcCount = csrcCount;
  view.payloadOffset = offset;
  view.payloadLength = end - offset;
  return true;
}

/** Big-endian unsigned 32-bit read. */
function readUint32(bytes: Uint8Array, at: number): number {
  return (
    (((bytes[at] ?? 0) << 24) |
      ((bytes[at + 1] ?? 0) << 16) |
      ((bytes[at + 2] ?? 0) << 8) |
      (bytes[at + 3] ?? 0)) >>>
    0
  );
}

/** Header fields of an output packet. */
export interface RtpHeaderFields {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequence: number;
  readonly timestamp: number;
}

/**
 * Builds an output packet: a fresh header (version 2, no padding, no extension, new `fields`, the
 * input's SSRC and CSRC list — a translator keeps them, RFC 3550 §7.1) followed by the first
 * `payloadLength` bytes of `payload`. The returned Buffer is the only allocation.
 */
export function buildRtp(
  input: Uint8Array,
  view: RtpView,
  fields: RtpHeaderFields,
  payload: Buffer,
  payloadLength: number,
): Buffer {
  const header = RTP_HEADER + view.csrcCount * 4;
  const out = Buffer.allocUnsafe(header + payloadLength);
  out[0] = 0x80 | view.csrcCount;
  out[1] = (fields.marker ? 0x80 : 0) | (fields.payloadType & 0x7f);
  out.writeUInt16BE(fields.sequence & 0xffff, 2);
  out.writeUInt32BE(fields.timestamp >>> 0, 4);
  for (let i = 8; i < header; i++) out[i] = input[i] ?? 0;
  payload.copy(out, header, 0, payloadLength);
  return out;
}
