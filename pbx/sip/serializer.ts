/** Serializes a message to wire bytes (RFC 3261 §7): start line, headers, empty line, body. */
import type { SipMessage } from './message.js';

/** The start line of a message, without CRLF. */
export function startLine(msg: SipMessage): string {
  return msg.type === 'request'
    ? `${msg.method} ${msg.uri} ${msg.version}`
    : `${msg.version} ${msg.status} ${msg.reason}`;
}

/** Encodes a message; header text is written as latin1 so byte strings round-trip exactly. */
export function serialize(msg: SipMessage): Buffer {
  let head = startLine(msg) + '\r\n';
  for (const h of msg.headers) head += h.name + ': ' + h.value + '\r\n';
  head += '\r\n';
  const out = Buffer.allocUnsafe(head.length + msg.body.length);
  out.write(head, 0, 'latin1');
  msg.body.copy(out, head.length);
  return out;
}
