import type { Socket } from 'node:net';
import type { TimerHandle } from '../core/clock.js';
import { normalizeRemote } from './address.js';
import type { TransportContext } from './context.js';
import { sendError } from './errors.js';
import { StreamFramer } from './framing.js';
import type { FrameEvent } from './framing.js';
import type { TransportSource } from './types.js';

const PONG = Buffer.from('\r\n', 'latin1');

/** Which side opened a connection; both sides deliver what they receive (RFC 3261 §18.1.1 / §18.2.1). */
export type ConnectionDirection = 'inbound' | 'outbound';

/**
 * One TCP connection: frames the stream, answers pings, closes itself when idle or broken.
 * It owns its socket and idle timer; the listener owns the connection and learns of its end via `onClosed`.
 */
export class TcpConnection {
  /** Process-unique id, handed to the caller in TransportSource.connectionId. */
  readonly id: number;
  /** Connection-table key of the remote address and port. */
  readonly key: string;
  /** Shared by every message of the connection: the source never changes, so it is allocated once. */
  readonly source: TransportSource;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #ctx: TransportContext;
  readonly #framer: StreamFramer;
  #lastActivity: number;
  #idleTimer: TimerHandle | undefined;
  #open = true;

  constructor(
    socket: Socket,
    id: number,
    key: string,
    ctx: TransportContext,
    onClosed: (connection: TcpConnection) => void,
  ) {
    this.id = id;
    this.key = key;
    this.#socket = socket;
    this.#ctx = ctx;
    const { settings } = ctx;
    this.#framer = new StreamFramer({
      maxMessageBytes: settings.maxMessageBytes,
      maxHeaderBytes: settings.maxHeaderBytes,
    });
    this.source = {
      transport: 'tcp',
      address: normalizeRemote(socket.remoteAddress ?? ''),
      port: socket.remotePort ?? 0,
      localAddress: normalizeRemote(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
      connectionId: id,
    };
    this.#lastActivity = settings.clock.now();
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#open = false;
        this.#clearIdle();
        onClosed(this);
        resolve();
      });
    });
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    this.#armIdle(settings.tcpIdleTimeoutMs);
  }

  /** Writes one message; resolves when the socket has taken it. */
  write(data: Buffer): Promise<void> {
    const { stats } = this.#ctx;
    if (!this.#open || !this.#socket.writable) {
      stats.sendErrors++;
      return Promise.reject(sendError(`TCP connection ${this.id} is closed`));
    }
    this.#lastActivity = this.#ctx.settings.clock.now();
    return new Promise((resolve, reject) => {
      this.#socket.write(data, (error) => {
        if (error === undefined || error === null) {
          stats.messagesOut++;
          resolve();
        } else {
          stats.sendErrors++;
          reject(sendError(`TCP send on connection ${this.id} failed: ${error.message}`, error));
        }
      });
    });
  }

  /** Destroys the socket; idempotent. Cleanup runs on the socket's 'close' event. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#clearIdle();
    this.#socket.destroy();
  }

  #onData = (chunk: Buffer): void => {
    this.#lastActivity = this.#ctx.settings.clock.now();
    const framer = this.#framer;
    framer.push(chunk);
    for (let event = framer.next(); event !== undefined && this.#open; event = framer.next()) {
      this.#handle(event);
    }
  };

  #handle(event: FrameEvent): void {
    const ctx = this.#ctx;
    switch (event.type) {
      case 'message':
        ctx.deliver(event.data, this.source);
        return;
      case 'ping':
        // RFC 5626 §4.4.1: a CRLFCRLF ping is answered with a single CRLF pong.
        ctx.stats.keepAlivesIn++;
        this.#socket.write(PONG);
        return;
      case 'error':
        ctx.stats.framingErrors++;
        ctx.report('framing', this.#detail(event.error));
        this.close();
        return;
      default: {
        const unreachable: never = event;
        return unreachable;
      }
    }
  }

  #onError = (error: Error): void => {
    this.#ctx.stats.socketErrors++;
    this.#ctx.report('tcpSocket', this.#detail(error));
  };

  #detail(error: Error): {
    error: Error;
    transport: 'tcp';
    address: string;
    port: number;
    connectionId: number;
  } {
    return {
      error,
      transport: 'tcp',
      address: this.source.address,
      port: this.source.port,
      connectionId: this.id,
    };
  }

  /** One timer per connection, re-armed from the last activity, instead of a reset per message. */
  #armIdle(ms: number): void {
    this.#idleTimer = this.#ctx.settings.clock.setTimer(ms, this.#onIdleTimer);
  }

  #onIdleTimer = (): void => {
    this.#idleTimer = undefined;
    if (!this.#open) return;
    const { clock, tcpIdleTimeoutMs } = this.#ctx.settings;
    const idle = clock.now() - this.#lastActivity;
    if (idle >= tcpIdleTimeoutMs) {
      this.#ctx.stats.tcpConnectionsIdleClosed++;
      this.close();
    } else {
      this.#armIdle(tcpIdleTimeoutMs - idle);
    }
  };

  #clearIdle(): void {
    if (this.#idleTimer !== undefined) {
      this.#ctx.settings.clock.clearTimer(this.#idleTimer);
      this.#idleTimer = undefined;
    }
  }
}
