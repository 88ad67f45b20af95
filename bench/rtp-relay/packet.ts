/**
 * Layout of the benchmark's G.711 packets: a 12-byte RTP header (RFC 3550 §5.1, PT 0 = PCMU) and a
 * 160-byte payload (20 ms of 8 kHz µ-law) whose first bytes carry what the receiver needs to measure.
 */

/** RTP fixed header bytes. */
export const RTP_HEADER_BYTES = 12;
/** 20 ms of PCMU at 8 kHz. */
export const PAYLOAD_BYTES = 160;
/** Whole datagram: 172 bytes. */
export const PACKET_BYTES = RTP_HEADER_BYTES + PAYLOAD_BYTES;
/** Packet interval of a G.711 stream at 50 packets/s. */
export const PACKET_INTERVAL_MS = 20;

/** Offset of the send time: float64 LE, nanoseconds on the generator's monotonic clock (performance.now). */
export const OFF_SEND_NS = RTP_HEADER_BYTES;
/** Offset of the 32-bit sequence number (the RTP one wraps at 65,536). */
export const OFF_SEQ = RTP_HEADER_BYTES + 8;
/** Offset of the stream index. */
export const OFF_STREAM = RTP_HEADER_BYTES + 12;
/** Offset of the flags byte. */
export const OFF_FLAGS = RTP_HEADER_BYTES + 16;
/** Flag: the packet was sent inside the measured window (after warm-up). */
export const FLAG_MEASURED = 1;

/** A fresh packet for stream `stream`: version 2, PCMU, SSRC = stream + 1, µ-law silence (0xFF) payload. */
export function createPacket(stream: number): Buffer {
  const packet = Buffer.alloc(PACKET_BYTES, 0xff);
  packet[0] = 0x80;
  packet[1] = 0;
  packet.writeUInt16BE(0, 2);
  packet.writeUInt32BE(0, 4);
  packet.writeUInt32BE(stream + 1, 8);
  packet.writeUInt32LE(stream, OFF_STREAM);
  return packet;
}

/** Stamps the next packet of a stream in place: RTP sequence and timestamp, send time, measured flag. */
export function stampPacket(packet: Buffer, seq: number, sendNs: number, measured: boolean): void {
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE((seq * PAYLOAD_BYTES) >>> 0, 4);
  packet.writeDoubleLE(sendNs, OFF_SEND_NS);
  packet.writeUInt32LE(seq >>> 0, OFF_SEQ);
  packet[OFF_FLAGS] = measured ? FLAG_MEASURED : 0;
}
