import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { ipFamily, normalizeRemote, udpTarget } from './address.js';
import type { TransportContext } from './context.js';
import type { UdpReceiveBuffer } from './types.js';
import { sendError } from './errors.js';
import { FramingError } from './framing.js';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;

/** A datagram of only CR/LF/whitespace is a keep-alive (RFC 5626 §4.4.1 / RFC 3261 §7.5), never a message. */
export function isKeepAliveDatagram(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c !== CR && c !== LF && c !== SP && c !== HT) return false;
  }
  return true;
}

/** The UDP side of the transport: one socket, every datagram one message (RFC 3261 §18.1.1, §18.2.1). */
export class UdpListener {
  readonly #ctx: TransportContext;
  #socket: UdpSocket | undefined;
  #localAddress = '';
  #localPort = 0;
  #receiveBuffer: UdpReceiveBuffer | undefined;

  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
  }

  /** Binds a fresh socket on `port` (0 = any) and resolves with the port bound. */
  bind(port: number): Promise<number> {
    const { settings } = this.#ctx;
    const socket = settings.socketFactory.createUdpSocket({ type: settings.family === 6 ? 'udp6' : 'udp4' });
    return new Promise((resolve, reject) => {
      const onBindError = (error: Error): void => {
        safeClose(socket);
        reject(error);
      };
      socket.once('error', onBindError);
      socket.on('message', this.#onDatagram);
      socket.bind({ port, address: settings.listen, exclusive: true }, () => {
        socket.off('error', onBindError);
        socket.on('error', this.#onSocketError);
        this.#tune(socket);
        const bound = socket.address();
        this.#socket = socket;
        this.#localAddress = bound.address;
        this.#localPort = bound.port;
        resolve(bound.port);
      });
    });
  }

  /** The receive buffer asked for and granted at bind; undefined before. */
  receiveBuffer(): UdpReceiveBuffer | undefined {
    return this.#receiveBuffer;
  }

  /** Closes the socket; resolves once it is closed, at once when there is none. */
  close(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      socket.close(() => resolve());
    });
  }

  /** Sends one datagram from the listening socket, so replies reach the peer's NAT binding (RFC 3581). */
  send(address: string, port: number, data: Buffer): Promise<void> {
    const socket = this.#socket;
    const { stats, settings } = this.#ctx;
    if (socket === undefined) return rejectSend(this.#ctx, 'UDP transport is not running');
    const family = ipFamily(address);
    if (family === 0) return rejectSend(this.#ctx, `not an IP address: ${address}`);
    if (data.length > settings.maxMessageBytes) {
      return rejectSend(this.#ctx, `message of ${data.length} bytes exceeds maxMessageBytes`);
    }
    return new Promise((resolve, reject) => {
      const done = (error: Error | null): void => {
        if (error === null) {
          stats.messagesOut++;
          resolve();
        } else {
          stats.sendErrors++;
          reject(sendError(`UDP send to ${address}:${port} failed: ${error.message}`, error));
        }
      };
      try {
        socket.send(data, port, udpTarget(settings.family, address), done);
      } catch (error) {
        done(error as Error);
      }
    });
  }

  #onDatagram = (data: Buffer, rinfo: RemoteInfo): void => {
    const ctx = this.#ctx;
    if (isKeepAliveDatagram(data)) {
      ctx.stats.keepAlivesIn++;
      return;
    }
    const address = ctx.settings.family === 6 ? normalizeRemote(rinfo.address) : rinfo.address;
    if (data.length > ctx.settings.maxMessageBytes) {
      ctx.stats.framingErrors++;
      const error = new FramingError('messageTooLarge', `datagram of ${data.length} bytes is over the limit`);
      ctx.report('framing', { error, transport: 'udp', address, port: rinfo.port });
      return;
    }
    ctx.deliver(data, {
      transport: 'udp',
      address,
      port: rinfo.port,
      localAddress: this.#localAddress,
      localPort: this.#localPort,
    });
  };

  #onSocketError = (error: Error): void => {
    this.#ctx.stats.socketErrors++;
    this.#ctx.report('udpSocket', { error, transport: 'udp' });
  };

  /**
   * Large buffers absorb bursts (a backlog of INVITEs waits here while the event loop is busy, instead of being
   * dropped by the kernel); the kernel may refuse or cap the size (net.core.rmem_max), which is not fatal.
   */
  #tune(socket: UdpSocket): void {
    const { udpBufferBytes, udpReceiveBufferBytes } = this.#ctx.settings;
    try {
      socket.setRecvBufferSize(udpReceiveBufferBytes);
    } catch {
      // kept at the system default
    }
    try {
      socket.setSendBufferSize(udpBufferBytes);
    } catch {
      // kept at the system default
    }
    try {
      this.#receiveBuffer = {
        requestedBytes: udpReceiveBufferBytes,
        grantedBytes: socket.getRecvBufferSize(),
      };
    } catch {
      this.#receiveBuffer = undefined;
    }
  }
}

function rejectSend(ctx: TransportContext, message: string): Promise<never> {
  ctx.stats.sendErrors++;
  return Promise.reject(sendError(message));
}

function safeClose(socket: UdpSocket): void {
  try {
    socket.close();
  } catch {
    // a socket that failed to bind may already be closed
  }
}
