import { PbxError } from '../core/errors.js';

/** Stable codes of this layer (to be listed in docs/errors.md). */
export const TransportErrorCode = {
  /** A message could not be sent; the transaction layer maps it to a transport error (RFC 3261 §17.1.4). */
  send: 'PBX_ERR_TRANSPORT_SEND',
  /** The listening port could not be bound. */
  bind: 'PBX_ERR_TRANSPORT_BIND',
  /** createTransport got options it cannot honour. */
  options: 'PBX_ERR_TRANSPORT_OPTIONS',
  /** A TCP connection was refused because the connection cap was reached. */
  connectionLimit: 'PBX_ERR_TRANSPORT_CONNECTION_LIMIT',
} as const;

/** Builds the rejection of a failed send, keeping the socket error as `cause`. */
export function sendError(message: string, cause?: unknown): PbxError {
  return new PbxError(TransportErrorCode.send, message, cause === undefined ? undefined : { cause });
}
