import { isIP } from 'node:net';
import { SdpError } from './errors.js';
import type { SdpAddressType } from './types.js';

/** The relay's RTP and RTCP ports for one media line (ARCHITECTURE.md "Media": RTCP = RTP + 1, but not assumed). */
export interface MediaPorts {
  readonly rtpPort: number;
  readonly rtcpPort: number;
}

/** What rewriteSdp changes: the relay address, per-m-line ports, the o= line, and whether ICE lines go. */
export interface RewritePlan {
  /** The relay's IPv4 or IPv6 address, written into every rewritten c=, o= and addressed a=rtcp. */
  readonly address: string;
  /** One entry per m= line in order; null leaves that section's c=, m= and a=rtcp lines as they are. */
  readonly mediaPorts: ReadonlyArray<MediaPorts | null>;
  /** o= line: the sess-version to write (see nextOriginVersion) and, if given, a username replacing the far side's. */
  readonly session: { readonly username?: string; readonly version: number };
  /** Remove ICE attributes (default true): the relay is the only candidate. */
  readonly stripIce?: boolean;
}

/** The relay address with the addrtype it needs in c= and o=. */
export interface Relay {
  readonly address: string;
  readonly addrType: SdpAddressType;
}

/** Validates a plan against the number of m= lines of the body; throws SdpError naming the fault. */
export function checkPlan(plan: RewritePlan, mediaCount: number): Relay {
  const family = isIP(plan.address);
  if (family === 0) throw new SdpError(`relay address ${JSON.stringify(plan.address)} is not an IP address`);
  if (plan.mediaPorts.length !== mediaCount) {
    throw new SdpError(`plan has ${plan.mediaPorts.length} media entries for ${mediaCount} m= lines`);
  }
  plan.mediaPorts.forEach(checkPorts);
  checkSession(plan.session);
  return { address: plan.address, addrType: family === 6 ? 'IP6' : 'IP4' };
}

function checkPorts(ports: MediaPorts | null, index: number): void {
  if (ports === null) return;
  if (!isPort(ports.rtpPort) || !isPort(ports.rtcpPort)) {
    throw new SdpError(`plan ports for m= line ${index + 1} are not 1..65535`);
  }
}

function checkSession(session: RewritePlan['session']): void {
  if (!Number.isSafeInteger(session.version) || session.version < 0) {
    throw new SdpError(`o= version ${session.version} is not a non-negative integer`);
  }
  // RFC 8866 §5.2: the username must not contain spaces.
  if (session.username !== undefined && !/^[\x21-\x7e]+$/.test(session.username)) {
    throw new SdpError('o= username must be visible ASCII without spaces');
  }
}

function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}
