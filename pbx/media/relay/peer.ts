import { isIPv4, isIPv6 } from 'node:net';
import { MediaSessionError } from './errors.js';
import type { PeerAddress, RemoteEndpoint } from './types.js';

/** One flow's far end: starts at the SDP address and latches to the first packet's real source (symmetric RTP). */
export class Peer implements PeerAddress {
  address = '';
  port = 0;
  latched = false;

  /** Sets the SDP address and forgets the latch: a new offer/answer is the only way to move a latched flow. */
  reset(address: string, port: number): void {
    this.address = address;
    this.port = address === '' ? 0 : port;
    this.latched = false;
  }

  /** Latches on the first packet; afterwards true only for packets from the latched source (no RTP bleed). */
  accept(address: string, port: number): boolean {
    if (this.latched) return port === this.port && address === this.address;
    this.address = address;
    this.port = port;
    this.latched = true;
    return true;
  }
}

/**
 * The address to send to from a socket of `family`, or '' when the SDP gives none yet (hold address
 * `0.0.0.0`/`::`, RFC 3264 §8.4). IPv4 peers of a dual-stack udp6 socket are reached through their mapped form.
 */
export function sendAddress(family: 4 | 6, address: string): string {
  if (address === '0.0.0.0' || address === '::') return '';
  if (isIPv4(address)) return family === 6 ? `::ffff:${address}` : address;
  if (isIPv6(address) && family === 6) return address;
  throw new MediaSessionError(`remote media address ${address} is not an IPv${family} literal`);
}

/** Where a party's RTP and RTCP go, from its SDP, checked for a relay socket of `family`. */
export interface SendTarget {
  /** '' while the SDP gives no address (hold). */
  readonly address: string;
  readonly rtpPort: number;
  readonly rtcpPort: number;
}

/**
 * A party's SDP endpoint as both relay engines send to it: its address for `family` (sendAddress), its
 * RTP port and its RTCP port (RFC 3605 `a=rtcp`, else RTP + 1, RFC 3550 §11; 0 with a rejected stream).
 */
export function sendTarget(family: 4 | 6, remote: RemoteEndpoint): SendTarget {
  const address = sendAddress(family, remote.address);
  const rtpPort = checkPort(remote.rtpPort, 'RTP');
  const rtcpPort = checkPort(remote.rtcpPort ?? (rtpPort === 0 ? 0 : rtpPort + 1), 'RTCP');
  return { address, rtpPort, rtcpPort };
}

/** Checks an SDP port: 0 (rejected stream) or a UDP port. */
export function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MediaSessionError(`remote ${what} port ${port} is not a UDP port`);
  }
  return port;
}
