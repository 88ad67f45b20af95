import { SdpError } from './errors.js';
import { tokenize } from './lines.js';
import type { SdpAddressType, SdpConnection, SdpOrigin, SdpRtcp } from './types.js';

/** Fields of an `m=` line (RFC 8866 §5.14). */
export interface MediaField {
  readonly type: string;
  readonly port: number;
  readonly portCount: number;
  readonly proto: string;
  readonly formats: readonly string[];
}

const PORT = /^(\d{1,5})(?:\/(\d{1,5}))?$/;

/** Parses a port number 0..65535 or returns undefined. */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** Parses `IP4`/`IP6` (case-insensitive) or throws: the relay only speaks IP. */
export function parseAddrType(text: string | undefined, where: string): SdpAddressType {
  const upper = text?.toUpperCase();
  if (upper === 'IP4' || upper === 'IP6') return upper;
  throw new SdpError(`unsupported address type ${JSON.stringify(text ?? '')} in ${where}`);
}

/** Parses `c=<nettype> <addrtype> <address>[/ttl[/n]]`. */
export function parseConnection(text: string): SdpConnection {
  const [netType, addrType, address] = tokenize(text).map((t) => t.value);
  if (netType === undefined || address === undefined) throw new SdpError('malformed c= line');
  const slash = address.indexOf('/');
  return {
    addrType: parseAddrType(addrType, 'c= line'),
    address: slash === -1 ? address : address.slice(0, slash),
  };
}

/** Parses `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`. */
export function parseOrigin(text: string): SdpOrigin {
  const fields = tokenize(text).map((t) => t.value);
  const [username, sessionId, sessionVersion, netType, addrType, address] = fields;
  if (
    fields.length !== 6 ||
    !username ||
    !sessionId ||
    !sessionVersion ||
    !netType ||
    !addrType ||
    !address
  ) {
    throw new SdpError('malformed o= line');
  }
  return { username, sessionId, sessionVersion, netType, addrType, address };
}

/** Parses `m=<media> <port>[/<count>] <proto> <fmt> ...`. */
export function parseMediaLine(text: string, index: number): MediaField {
  const fields = tokenize(text).map((t) => t.value);
  const [type, portField, proto] = fields;
  if (type === undefined || portField === undefined || proto === undefined) {
    throw new SdpError(`malformed m= line ${index + 1}`);
  }
  const match = PORT.exec(portField);
  const port = match?.[1] === undefined ? undefined : parsePort(match[1]);
  const count = match?.[2] === undefined ? 1 : Number(match[2]);
  if (port === undefined || count < 1) throw new SdpError(`non-numeric port in m= line ${index + 1}`);
  return { type, port, portCount: count, proto, formats: fields.slice(3) };
}

/** Parses the value of `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605 §2.1). */
export function parseRtcp(value: string): SdpRtcp {
  const fields = tokenize(value, 0).map((t) => t.value);
  const port = fields[0] === undefined ? undefined : parsePort(fields[0]);
  if (port === undefined) throw new SdpError('bad port in a=rtcp');
  if (fields.length === 1) return { port };
  const address = fields[3];
  if (fields.length !== 4 || address === undefined) throw new SdpError('malformed a=rtcp');
  return { port, connection: { addrType: parseAddrType(fields[2], 'a=rtcp'), address } };
}

/**
 * The RFC 2543 hold address (RFC 3264 §8.4 keeps it working): 0.0.0.0, or its IPv6 analogue `::`. The relay must keep
 * it so the far side still sees a hold.
 */
export function isHoldAddress(connection: SdpConnection): boolean {
  return connection.address === '0.0.0.0' || connection.address === '::';
}
