import { describe, expect, it } from 'vitest';
import { translateSenderReports } from '../../pbx/media/codecs/rtcp-sr.js';
import type { SenderState } from '../../pbx/media/codecs/rtcp-sr.js';

const SSRC = 0x11223344;

/** An SR (RFC 3550 §6.4.1) without report blocks: sender info only. */
function sr(ssrc: number, rtpTimestamp: number, packets: number, octets: number): Buffer {
  const packet = Buffer.alloc(28);
  packet[0] = 0x80;
  packet[1] = 200;
  packet.writeUInt16BE(6, 2);
  packet.writeUInt32BE(ssrc, 4);
  packet.writeUInt32BE(0xe1234567, 8); // NTP seconds
  packet.writeUInt32BE(0x80000000, 12); // NTP fraction
  packet.writeUInt32BE(rtpTimestamp, 16);
  packet.writeUInt32BE(packets, 20);
  packet.writeUInt32BE(octets, 24);
  return packet;
}

/** An SDES with one CNAME item (RFC 3550 §6.5), 12 bytes. */
function sdes(ssrc: number): Buffer {
  const packet = Buffer.alloc(12);
  packet[0] = 0x81;
  packet[1] = 202;
  packet.writeUInt16BE(2, 2);
  packet.writeUInt32BE(ssrc, 4);
  packet[8] = 1; // CNAME
  packet[9] = 1;
  packet[10] = 0x61;
  return packet;
}

/** An RR with no report blocks. */
function rr(ssrc: number): Buffer {
  const packet = Buffer.alloc(8);
  packet[0] = 0x80;
  packet[1] = 201;
  packet.writeUInt16BE(1, 2);
  packet.writeUInt32BE(ssrc, 4);
  return packet;
}

const sender: SenderState = { ssrc: SSRC, map: (ts) => ts * 6, packets: 42, octets: 4242 };

describe('RTCP sender reports across a transcoder (RFC 3550 §7.1)', () => {
  it("rewrites the transcoded stream's SR in a compound packet: RTP timestamp, packet and octet counts", () => {
    const input = Buffer.concat([sr(SSRC, 1000, 7, 1120), sdes(SSRC)]);
    const copy = Buffer.from(input);
    const out = translateSenderReports(input, sender);
    expect(out.readUInt32BE(16)).toBe(6000);
    expect(out.readUInt32BE(20)).toBe(42);
    expect(out.readUInt32BE(24)).toBe(4242);
    expect(out.subarray(0, 16)).toEqual(input.subarray(0, 16)); // header, SSRC and NTP time kept
    expect(out.subarray(28)).toEqual(input.subarray(28)); // SDES untouched
    expect(input).toEqual(copy); // the input is not modified
  });

  it('passes other senders, receiver reports and malformed packets through as they are', () => {
    for (const packet of [
      sr(0x99, 1000, 7, 1120),
      Buffer.concat([rr(SSRC), sdes(SSRC)]),
      Buffer.from([0x40, 200, 0, 6]), // version 1
      sr(SSRC, 1, 1, 1).subarray(0, 20), // length says 28 bytes, 20 present
    ]) {
      expect(translateSenderReports(packet, sender)).toBe(packet);
    }
  });

  it('wraps counts and timestamps to 32 bits', () => {
    const out = translateSenderReports(sr(SSRC, 0xffffffff, 0, 0), {
      ...sender,
      map: (ts) => ts + 10,
      packets: 2 ** 32 + 5,
      octets: 2 ** 33 + 1,
    });
    expect([out.readUInt32BE(16), out.readUInt32BE(20), out.readUInt32BE(24)]).toEqual([9, 5, 1]);
  });
});
