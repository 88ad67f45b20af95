/**
 * Datagrams the kernel dropped on one UDP socket (receive buffer full, or a checksum error), read from the
 * `drops` column of Linux's /proc/net/udp and /proc/net/udp6 (net/ipv4/udp.c `udp4_format_sock`). The parser is
 * a pure function over the file's text; the read is a separate, lazy call (done at metrics scrape time).
 */
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6, SocketAddress } from 'node:net';

/** The local end of a UDP socket as /proc/net/udp{,6} prints it. */
export interface UdpLocalEnd {
  /** The bound IP literal (`127.0.0.1`, `0.0.0.0`, `::`, `::1`). */
  readonly address: string;
  readonly port: number;
}

/** The /proc file that lists sockets of `address`'s family. */
export function procNetUdpPath(address: string): string {
  return isIPv6(address) ? '/proc/net/udp6' : '/proc/net/udp';
}

/** Hex of 4 bytes as the kernel prints a 32-bit word in host order (%08X); little-endian hosts reverse them. */
function word(bytes: readonly number[], littleEndian: boolean): string {
  const ordered = littleEndian ? [...bytes].reverse() : bytes;
  return ordered
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
}

/** The 16 bytes of an IPv6 literal. */
function ipv6Bytes(address: string): number[] {
  const expanded = new SocketAddress({ address, family: 'ipv6' }).address;
  const [head = '', tail] = expanded.split('::');
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/**
 * The `local_address` field for a socket bound to `end` (`0100007F:13C4` for 127.0.0.1:5060), or undefined when
 * the address is not an IP literal. IPv4-embedded IPv6 forms (`::ffff:1.2.3.4`) are not expected: the SIP
 * listener binds a plain IPv4 or IPv6 address.
 */
export function procLocalAddress(end: UdpLocalEnd, littleEndian = true): string | undefined {
  const port = end.port.toString(16).toUpperCase().padStart(4, '0');
  if (isIPv4(end.address)) return `${word(end.address.split('.').map(Number), littleEndian)}:${port}`;
  if (!isIPv6(end.address) || end.address.includes('.')) return undefined;
  const bytes = ipv6Bytes(end.address);
  const hex = [0, 4, 8, 12].map((i) => word(bytes.slice(i, i + 4), littleEndian)).join('');
  return `${hex}:${port}`;
}

/**
 * Sums the `drops` column (the last one) of the lines of /proc/net/udp{,6} `text` whose `local_address` is
 * `end`; undefined when no line matches (no such socket, or not Linux). Bounded: one pass over the lines.
 */
export function udpDropsFromProc(text: string, end: UdpLocalEnd, littleEndian = true): number | undefined {
  const local = procLocalAddress(end, littleEndian);
  if (local === undefined) return undefined;
  let found = false;
  let drops = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (fields.length < 13 || fields[1] !== local) continue;
    const value = Number(fields[fields.length - 1]);
    if (!Number.isFinite(value)) continue;
    found = true;
    drops += value;
  }
  return found ? drops : undefined;
}

/** Reads the kernel's drop count of the UDP socket bound to `end`; undefined when /proc does not say. */
export async function readUdpDrops(end: UdpLocalEnd): Promise<number | undefined> {
  try {
    return udpDropsFromProc(await readFile(procNetUdpPath(end.address), 'utf8'), end);
  } catch {
    return undefined; // not Linux, or /proc not mounted
  }
}
