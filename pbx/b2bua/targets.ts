/** Where requests go: SIP URIs resolved to transport destinations (RFC 3263 simplified: A/AAAA only). */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { bareHost, isSipUri, parseUri } from '../sip/index.js';
import type { MessageSource } from '../sip/index.js';
import type { Destination } from '../transaction/index.js';

/** A URI the pbx cannot send to (not sip:, unresolvable host); the caller answers 404/416/502. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

/** The transport a URI asks for (`;transport=tcp`), and whether it pins it. */
export function uriTransport(uri: string): { transport: 'udp' | 'tcp'; pinned: boolean } {
  const parsed = parseUri(uri);
  if (!isSipUri(parsed)) return { transport: 'udp', pinned: false };
  const t = parsed.params.get('transport')?.toLowerCase();
  if (t === 'tcp') return { transport: 'tcp', pinned: true };
  return { transport: 'udp', pinned: t === 'udp' };
}

/**
 * Resolves a sip: URI to a destination: its host (an IP literal, or a name looked up as A/AAAA), its
 * port (default 5060) and its transport. `maddr` is ignored. sips: is refused (no TLS transport).
 */
export async function resolveTarget(uri: string, fallback: 'udp' | 'tcp' = 'udp'): Promise<Destination> {
  let parsed;
  try {
    parsed = parseUri(uri.startsWith('<') ? uri.slice(1, -1) : uri);
  } catch {
    throw new TargetError(`unparseable target URI ${uri}`);
  }
  if (!isSipUri(parsed) || parsed.scheme !== 'sip')
    throw new TargetError(`cannot send to ${parsed.scheme}: URIs`);
  const host = bareHost(parsed.host);
  const t = parsed.params.get('transport')?.toLowerCase();
  const transport = t === 'tcp' ? 'tcp' : t === 'udp' ? 'udp' : fallback;
  const address = isIP(host) !== 0 ? host : await resolveName(host);
  return { transport, address, port: parsed.port ?? 5060 };
}

async function resolveName(host: string): Promise<string> {
  try {
    return (await lookup(host)).address;
  } catch {
    throw new TargetError(`cannot resolve ${host}`);
  }
}

/** Requests to the caller go back on the flow its INVITE came from (NAT-friendly, RFC 5626 spirit). */
export function flowDestination(source: MessageSource): Destination {
  const dest = { transport: source.transport, address: source.address, port: source.port };
  return source.connectionId === undefined ? dest : { ...dest, connectionId: source.connectionId };
}
