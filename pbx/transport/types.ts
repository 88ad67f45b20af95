import type { Socket as UdpSocket, SocketOptions as UdpSocketOptions } from 'node:dgram';
import type { Server, Socket, TcpNetConnectOpts } from 'node:net';
import type { Clock } from '../core/clock.js';

/** The transports this layer speaks (RFC 3261 §18); TLS and WebSocket belong to later work. */
export type TransportProtocol = 'udp' | 'tcp';

/** Where a message came from and on which local socket, so Via `received`/`rport` and replies can use it. */
export interface TransportSource {
  readonly transport: TransportProtocol;
  readonly address: string;
  readonly port: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** TCP only: the connection the message arrived on, for replies on it (RFC 3261 §18.2.2). */
  readonly connectionId?: number;
}

/** Where to send: a TCP `connectionId` is tried first, then any connection to address:port, then a new one. */
export interface SendDestination {
  readonly transport: TransportProtocol;
  readonly address: string;
  readonly port: number;
  readonly connectionId?: number;
}

/** What went wrong, for counting: framing breaks a stream, socket errors are per socket, the rest per policy. */
export type TransportErrorKind =
  'framing' | 'udpSocket' | 'tcpSocket' | 'tcpServer' | 'connectionLimit' | 'handler';

/** Context of a reported transport error. */
export interface TransportErrorDetail {
  readonly error: Error;
  readonly transport: TransportProtocol;
  readonly address?: string;
  readonly port?: number;
  readonly connectionId?: number;
}

/** Receives every message; called synchronously from the socket callback, so it must not block. */
export type MessageHandler = (data: Buffer, source: TransportSource) => void;

/** Receives every transport error the layer absorbed instead of throwing. */
export type ErrorHandler = (kind: TransportErrorKind, detail: TransportErrorDetail) => void;

/** Counters since start; a snapshot, cheap to take. */
export interface TransportStats {
  readonly tcpConnectionsOpen: number;
  readonly tcpConnectionsAccepted: number;
  readonly tcpConnectionsOutbound: number;
  readonly tcpConnectionsRefused: number;
  readonly tcpConnectionsIdleClosed: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly keepAlivesIn: number;
  readonly framingErrors: number;
  readonly socketErrors: number;
  readonly sendErrors: number;
}

/** Creates the sockets; tests replace it to simulate peers that never answer or fail. */
export interface SocketFactory {
  createUdpSocket(options: UdpSocketOptions): UdpSocket;
  createTcpServer(): Server;
  connectTcp(options: TcpNetConnectOpts): Socket;
}

/** Options of createTransport; only `listen` and `port` are required. */
export interface TransportOptions {
  /** IPv4 or IPv6 literal to bind; `0.0.0.0` or `::` for all interfaces. */
  readonly listen: string;
  /** Port for both UDP and TCP; 0 picks one free for both. */
  readonly port: number;
  /** Listen on UDP (default true). */
  readonly udp?: boolean;
  /** Listen on TCP (default true). */
  readonly tcp?: boolean;
  /** Largest message on either transport (default 65535). */
  readonly maxMessageBytes?: number;
  /** Largest TCP header section (default 16384). */
  readonly maxHeaderBytes?: number;
  /** Close a TCP connection after this long without traffic either way (default 180000). */
  readonly tcpIdleTimeoutMs?: number;
  /** Give up on an outbound TCP connect after this long (default 10000). */
  readonly tcpConnectTimeoutMs?: number;
  /** Cap on concurrent TCP connections, inbound plus outbound (default 10000). */
  readonly maxTcpConnections?: number;
  /** Requested SO_SNDBUF of the UDP socket, and SO_RCVBUF unless udpReceiveBufferBytes is given (default 4 MiB). */
  readonly udpBufferBytes?: number;
  /** Requested SO_RCVBUF of the UDP socket (default udpBufferBytes); Linux caps it at net.core.rmem_max. */
  readonly udpReceiveBufferBytes?: number;
  /** Time source for idle and connect timers (default systemClock()). */
  readonly clock?: Clock;
  /** Socket constructors (default node:dgram and node:net). */
  readonly socketFactory?: SocketFactory;
}

/** The SIP transport layer: listeners on one port, framing, and sends with connection reuse (RFC 3261 §18). */
export interface SipTransport {
  /** Binds UDP and TCP on the same port. */
  start(): Promise<void>;
  /** Closes every socket and connection; safe to call twice. */
  stop(): Promise<void>;
  /** The bound address and port (port 0 before start). */
  address(): { address: string; port: number };
  /** Sets the message handler (one handler; a later call replaces it). */
  onMessage(handler: MessageHandler): void;
  /** Sets the error handler (one handler; a later call replaces it). */
  onError(handler: ErrorHandler): void;
  /** Sends one message; rejects with a PbxError coded PBX_ERR_TRANSPORT_SEND on any failure. */
  send(dest: SendDestination, data: Buffer): Promise<void>;
  /** A snapshot of the counters. */
  stats(): TransportStats;
  /** The UDP socket's receive buffer as requested and as granted (getRecvBufferSize); undefined without UDP. */
  udpReceiveBuffer(): UdpReceiveBuffer | undefined;
}

/** SO_RCVBUF of the UDP socket: what was asked for and what the kernel granted (Linux doubles it, for overhead). */
export interface UdpReceiveBuffer {
  readonly requestedBytes: number;
  readonly grantedBytes: number;
}
