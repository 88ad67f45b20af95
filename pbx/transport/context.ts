import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { systemClock } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import { PbxError } from '../core/errors.js';
import { ipFamily } from './address.js';
import { TransportErrorCode } from './errors.js';
import { DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_MESSAGE_BYTES } from './framing.js';
import type {
  SocketFactory,
  TransportErrorDetail,
  TransportErrorKind,
  TransportOptions,
  TransportSource,
  TransportStats,
} from './types.js';

/** Default idle timeout: above the 120 s TCP keep-alive interval of RFC 5626 §4.4.1, so pinging flows live. */
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 180_000;
/** Default connect timeout: well inside Timer B/F (64*T1 = 32 s, RFC 3261 §17.1), so the transaction sees why. */
export const DEFAULT_TCP_CONNECT_TIMEOUT_MS = 10_000;
/** Default cap on concurrent TCP connections. */
export const DEFAULT_MAX_TCP_CONNECTIONS = 10_000;
/** Default UDP socket buffers: room for bursts of retransmissions without kernel drops. */
export const DEFAULT_UDP_BUFFER_BYTES = 4 * 1024 * 1024;

/** The sockets of node:dgram and node:net. */
export const nodeSocketFactory: SocketFactory = {
  createUdpSocket: (options) => createSocket(options),
  createTcpServer: () => createServer(),
  connectTcp: (options) => connect(options),
};

/** Options with every default filled in and validated. */
export interface TransportSettings {
  readonly listen: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly udp: boolean;
  readonly tcp: boolean;
  readonly maxMessageBytes: number;
  readonly maxHeaderBytes: number;
  readonly tcpIdleTimeoutMs: number;
  readonly tcpConnectTimeoutMs: number;
  readonly maxTcpConnections: number;
  readonly udpBufferBytes: number;
  readonly udpReceiveBufferBytes: number;
  readonly clock: Clock;
  readonly socketFactory: SocketFactory;
}

/** Counters the listeners bump in place; `stats()` copies them. */
export type MutableStats = { -readonly [K in keyof TransportStats]: TransportStats[K] };

/** What the UDP and TCP listeners share: settings, counters, and the way up to the caller. */
export interface TransportContext {
  readonly settings: TransportSettings;
  readonly stats: MutableStats;
  deliver(data: Buffer, source: TransportSource): void;
  report(kind: TransportErrorKind, detail: TransportErrorDetail): void;
}

function optionError(message: string): PbxError {
  return new PbxError(TransportErrorCode.options, message);
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw optionError(`${name} must be a positive number`);
  return v;
}

/** Fills defaults and rejects impossible options early, at construction rather than at first traffic. */
export function resolveSettings(options: TransportOptions): TransportSettings {
  const family = ipFamily(options.listen);
  if (family === 0) throw optionError(`listen must be an IP address, got ${options.listen}`);
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw optionError(`port must be 0..65535, got ${options.port}`);
  }
  const udp = options.udp ?? true;
  const tcp = options.tcp ?? true;
  if (!udp && !tcp) throw optionError('at least one of udp and tcp must be enabled');
  const maxMessageBytes = positive('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES);
  return {
    listen: options.listen,
    family,
    port: options.port,
    udp,
    tcp,
    maxMessageBytes,
    maxHeaderBytes: positive('maxHeaderBytes', options.maxHeaderBytes, DEFAULT_MAX_HEADER_BYTES),
    tcpIdleTimeoutMs: positive('tcpIdleTimeoutMs', options.tcpIdleTimeoutMs, DEFAULT_TCP_IDLE_TIMEOUT_MS),
    tcpConnectTimeoutMs: positive(
      'tcpConnectTimeoutMs',
      options.tcpConnectTimeoutMs,
      DEFAULT_TCP_CONNECT_TIMEOUT_MS,
    ),
    maxTcpConnections: positive('maxTcpConnections', options.maxTcpConnections, DEFAULT_MAX_TCP_CONNECTIONS),
    udpBufferBytes: positive('udpBufferBytes', options.udpBufferBytes, DEFAULT_UDP_BUFFER_BYTES),
    udpReceiveBufferBytes: positive(
      'udpReceiveBufferBytes',
      options.udpReceiveBufferBytes,
      options.udpBufferBytes ?? DEFAULT_UDP_BUFFER_BYTES,
    ),
    clock: options.clock ?? systemClock(),
    socketFactory: options.socketFactory ?? nodeSocketFactory,
  };
}

/** Fresh zeroed counters. */
export function emptyStats(): MutableStats {
  return {
    tcpConnectionsOpen: 0,
    tcpConnectionsAccepted: 0,
    tcpConnectionsOutbound: 0,
    tcpConnectionsRefused: 0,
    tcpConnectionsIdleClosed: 0,
    messagesIn: 0,
    messagesOut: 0,
    keepAlivesIn: 0,
    framingErrors: 0,
    socketErrors: 0,
    sendErrors: 0,
  };
}
