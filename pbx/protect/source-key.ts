import { isIPv4, isIPv6 } from 'node:net';

/** IPv6 sources are limited per /64: one subnet is what a single host or site is normally given (RFC 6177). */
export const IPV6_PREFIX_GROUPS = 4;

/** Longest key kept for an input that is not an IP literal, so a bogus source string cannot grow memory. */
const MAX_OPAQUE_KEY = 64;

/** Expands a valid IPv6 literal (no zone) into its eight 16-bit groups. */
function ipv6Groups(ip: string): number[] {
  const [head = '', tail] = ip.split('::');
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((field) => (field.includes('.') ? ipv4Groups(field) : [parseInt(field, 16)]));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

/** A dotted IPv4 address as two 16-bit groups (the tail of an IPv4-embedded IPv6 address, RFC 4291 §2.2). */
function ipv4Groups(ip: string): number[] {
  const [a = 0, b = 0, c = 0, d = 0] = ip.split('.').map(Number);
  return [a * 256 + b, c * 256 + d];
}

/** True for `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2), what a dual-stack socket reports for an IPv4 peer. */
function isV4Mapped(groups: readonly number[]): boolean {
  return groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
}

/**
 * The rate-limit bucket key of a source address: IPv4 as is; IPv4-mapped IPv6 as the IPv4 address; other IPv6
 * addresses as their /64 prefix (`2001:db8:0:1::/64`), so a host rotating through its subnet shares one bucket.
 */
export function sourceKey(address: string): string {
  const zone = address.indexOf('%');
  const ip = zone === -1 ? address : address.slice(0, zone);
  if (isIPv4(ip) || !isIPv6(ip)) return ip.length <= MAX_OPAQUE_KEY ? ip : ip.slice(0, MAX_OPAQUE_KEY);
  const groups = ipv6Groups(ip);
  if (isV4Mapped(groups)) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${groups
    .slice(0, IPV6_PREFIX_GROUPS)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}
