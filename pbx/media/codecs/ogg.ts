// A small, bounded Ogg page reader (RFC 3533) that yields the packets of the first logical stream,
// enough to read Ogg Opus files (RFC 7845) for reference tests and prompts. Pages are CRC-checked.
import { CodecError } from './errors.js';

/** Ogg page header size before the lacing table (RFC 3533 §6). */
const PAGE_HEADER = 27;
/** Upper bound on one reassembled packet (RFC 7845 §3 suggests demuxers may cap at 61,440 bytes). */
const MAX_PACKET = 61440;

/** Ogg CRC-32: polynomial 0x04c11db7, not reflected, init 0, no final xor (RFC 3533 §6). */
const CRC_TABLE = buildCrcTable();

/** Builds the 256-entry table of the Ogg CRC. */
function buildCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let bit = 0; bit < 8; bit++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
}

/** CRC of a page with its checksum field (bytes 22..25) taken as zero. */
function pageCrc(page: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < page.length; i++) {
    const byte = i >= 22 && i < 26 ? 0 : (page[i] ?? 0);
    crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] ?? 0)) >>> 0;
  }
  return crc;
}

/** One parsed page: where its body starts and its lacing values. */
interface Page {
  readonly serial: number;
  readonly lacing: Uint8Array;
  readonly bodyStart: number;
  readonly end: number;
}

/** Parses and CRC-checks the page at `offset`; throws CodecError on any inconsistency. */
function readPage(data: Buffer, offset: number): Page {
  if (offset + PAGE_HEADER > data.length || data.toString('latin1', offset, offset + 4) !== 'OggS') {
    throw new CodecError('PBX_ERR_CODEC_DECODE', 'not an Ogg page', `offset ${offset}`);
  }
  if (data[offset + 4] !== 0)
    throw new CodecError('PBX_ERR_CODEC_DECODE', 'unknown Ogg version', `offset ${offset}`);
  const segments = data[offset + 26] ?? 0;
  const bodyStart = offset + PAGE_HEADER + segments;
  const lacing = data.subarray(offset + PAGE_HEADER, bodyStart);
  let bodyLength = 0;
  for (const value of lacing) bodyLength += value;
  const end = bodyStart + bodyLength;
  if (end > data.length)
    throw new CodecError('PBX_ERR_CODEC_DECODE', 'truncated Ogg page', `offset ${offset}`);
  if (pageCrc(data.subarray(offset, end)) !== data.readUInt32LE(offset + 22)) {
    throw new CodecError('PBX_ERR_CODEC_DECODE', 'Ogg page CRC mismatch', `offset ${offset}`);
  }
  return { serial: data.readUInt32LE(offset + 14), lacing, bodyStart, end };
}

/** Returns the packets of the first logical stream in an Ogg file, in order. */
export function readOggPackets(data: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let pending: Buffer[] = [];
  let serial: number | undefined;
  for (let offset = 0; offset < data.length;) {
    const page = readPage(data, offset);
    offset = page.end;
    serial ??= page.serial;
    if (page.serial !== serial) continue;
    let cursor = page.bodyStart;
    for (const value of page.lacing) {
      pending.push(data.subarray(cursor, cursor + value));
      cursor += value;
      if (value < 255) {
        packets.push(joinBounded(pending));
        pending = [];
      }
    }
  }
  return packets;
}

/** Concatenates the segments of one packet, refusing packets above MAX_PACKET. */
function joinBounded(parts: Buffer[]): Buffer {
  const packet = Buffer.concat(parts);
  if (packet.length > MAX_PACKET) {
    throw new CodecError('PBX_ERR_CODEC_DECODE', 'Ogg packet too large', String(packet.length));
  }
  return packet;
}

/** Fields of the Opus identification header used by players (RFC 7845 §5.1). */
export interface OpusHead {
  readonly channels: number;
  readonly preSkip: number;
  readonly inputSampleRate: number;
}

/** Parses an `OpusHead` packet (RFC 7845 §5.1). */
export function parseOpusHead(packet: Buffer): OpusHead {
  if (packet.length < 19 || packet.toString('latin1', 0, 8) !== 'OpusHead') {
    throw new CodecError('PBX_ERR_CODEC_DECODE', 'not an OpusHead packet');
  }
  return {
    channels: packet[9] ?? 0,
    preSkip: packet.readUInt16LE(10),
    inputSampleRate: packet.readUInt32LE(12),
  };
}
