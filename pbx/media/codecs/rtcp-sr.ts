// RTCP sender reports across a transcoder (RFC 3550 §7.1: a translator that changes the encoding must
// adjust the SR of the streams it changes): the RTP timestamp moves to the output clock and the sender's
// packet and octet counts become those of the packets the transcoder sent.

/** RTCP packet type of a sender report (RFC 3550 §6.4.1). */
const SR = 200;
/** Header (4) + sender SSRC (4) + NTP (8) + RTP timestamp (4) + packet count (4) + octet count (4). */
const SR_SENDER_INFO_END = 28;

/** What the transcoder knows of the stream it sends: SSRC, clock mapping and counts. */
export interface SenderState {
  readonly ssrc: number;
  /** Maps an input RTP timestamp to the output clock (the transcoder's own mapper). */
  map(timestamp: number): number;
  readonly packets: number;
  readonly octets: number;
}

/**
 * Returns a copy of a compound RTCP packet whose SRs from `sender.ssrc` are translated, or the packet
 * itself when it holds none (or is not a well-formed compound packet: it then passes unchanged, as RTCP
 * does on lines that are not transcoded). Receiver reports and every other packet type pass unchanged.
 */
export function translateSenderReports(packet: Buffer, sender: SenderState): Buffer {
  let out: Buffer | undefined;
  let offset = 0;
  while (offset + 4 <= packet.length) {
    if ((packet[offset] ?? 0) >>> 6 !== 2) return packet;
    const length = (packet.readUInt16BE(offset + 2) + 1) * 4;
    if (offset + length > packet.length) return packet;
    const isOurSr =
      packet[offset + 1] === SR &&
      length >= SR_SENDER_INFO_END &&
      packet.readUInt32BE(offset + 4) === sender.ssrc;
    if (isOurSr) {
      out ??= Buffer.from(packet);
      out.writeUInt32BE(sender.map(packet.readUInt32BE(offset + 16)) >>> 0, offset + 16);
      out.writeUInt32BE(sender.packets >>> 0, offset + 20);
      out.writeUInt32BE(sender.octets >>> 0, offset + 24);
    }
    offset += length;
  }
  return out ?? packet;
}
