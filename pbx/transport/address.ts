import { isIPv4, isIPv6, SocketAddress } from 'node:net';

const MAPPED_PREFIX = '::ffff:';

/** Address family of an IP literal, or 0 when it is not one (this layer never resolves names). */
export function ipFamily(address: string): 0 | 4 | 6 {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return 0;
}

/** Reports IPv4 peers of a dual-stack socket as plain IPv4, so Via `received` matches what they sent from. */
export function normalizeRemote(address: string): string {
  if (address.startsWith(MAPPED_PREFIX)) {
    const v4 = address.slice(MAPPED_PREFIX.length);
    if (isIPv4(v4)) return v4;
  }
  return address;
}

/** Key of the connection table: canonical address and port, so `::1` and `0:0::1` find one connection. */
export function remoteKey(address: string, port: number): string {
  const plain = normalizeRemote(address);
  const canonical = isIPv6(plain) ? new SocketAddress({ address: plain, family: 'ipv6' }).address : plain;
  return `${canonical}|${port}`;
}

/** A udp6 socket bound to `::` reaches IPv4 peers only through their IPv4-mapped form. */
export function udpTarget(socketFamily: 4 | 6, address: string): string {
  return socketFamily === 6 && isIPv4(address) ? MAPPED_PREFIX + address : address;
}
