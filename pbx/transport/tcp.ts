import type { Server, Socket, TcpNetConnectOpts } from 'node:net';
import { PbxError } from '../core/errors.js';
import { ipFamily, normalizeRemote, remoteKey } from './address.js';
import { TcpConnection } from './connection.js';
import type { TransportContext } from './context.js';
import { sendError, TransportErrorCode } from './errors.js';
import type { SendDestination } from './types.js';

/** An outbound connect in flight, so concurrent sends to one peer share it. */
interface PendingConnect {
  readonly promise: Promise<TcpConnection>;
  fail(error: Error): void;
}

/**
 * The TCP side of the transport: the listening server and the connection table, keyed by id (replies on
 * the request's connection, RFC 3261 §18.2.2) and by remote address:port (reuse, RFC 3261 §18.1.1).
 */
export class TcpListener {
  readonly #ctx: TransportContext;
  readonly #byId = new Map<number, TcpConnection>();
  readonly #byRemote = new Map<string, TcpConnection>();
  readonly #connecting = new Map<string, PendingConnect>();
  #server: Server | undefined;
  #nextId = 1;
  #closed = false;

  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
  }

  /** Listens on `port` (0 = any) and resolves with the port bound. */
  listen(port: number): Promise<number> {
    const { settings } = this.#ctx;
    const server = settings.socketFactory.createTcpServer();
    return new Promise((resolve, reject) => {
      const onListenError = (error: Error): void => {
        server.close();
        reject(error);
      };
      server.once('error', onListenError);
      server.on('connection', this.#onConnection);
      server.listen({ port, host: settings.listen, exclusive: true }, () => {
        server.off('error', onListenError);
        server.on('error', (error: Error) => this.#ctx.report('tcpServer', { error, transport: 'tcp' }));
        this.#server = server;
        const bound = server.address();
        resolve(typeof bound === 'object' && bound !== null ? bound.port : port);
      });
    });
  }

  /** Stops listening, fails connects in flight and closes every connection; resolves when all are closed. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const pending of this.#connecting.values()) pending.fail(sendError('transport stopped'));
    const closing: Promise<void>[] = [];
    for (const connection of this.#byId.values()) {
      closing.push(connection.closed);
      connection.close();
    }
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) closing.push(new Promise((resolve) => server.close(() => resolve())));
    await Promise.all(closing);
  }

  /** Sends on the connection named by id, else on one to address:port, else on a new one. */
  send(dest: SendDestination, data: Buffer): Promise<void> {
    if (this.#closed) return this.#reject('TCP transport is not running');
    if (dest.connectionId !== undefined) {
      const byId = this.#byId.get(dest.connectionId);
      if (byId !== undefined) return byId.write(data);
    }
    if (ipFamily(dest.address) === 0) return this.#reject(`not an IP address: ${dest.address}`);
    const key = remoteKey(dest.address, dest.port);
    const existing = this.#byRemote.get(key);
    if (existing !== undefined) return existing.write(data);
    const pending = this.#connecting.get(key) ?? this.#connect(dest, key);
    return pending.promise.then(
      (connection) => connection.write(data),
      (error: unknown) => {
        this.#ctx.stats.sendErrors++;
        throw error;
      },
    );
  }

  #reject(message: string): Promise<never> {
    this.#ctx.stats.sendErrors++;
    return Promise.reject(sendError(message));
  }

  #atCapacity(): boolean {
    return this.#byId.size + this.#connecting.size >= this.#ctx.settings.maxTcpConnections;
  }

  #onConnection = (socket: Socket): void => {
    const ctx = this.#ctx;
    if (this.#closed || socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    if (this.#atCapacity()) {
      socket.destroy();
      ctx.stats.tcpConnectionsRefused++;
      const error = new PbxError(TransportErrorCode.connectionLimit, 'TCP connection cap reached');
      const address = normalizeRemote(socket.remoteAddress);
      ctx.report('connectionLimit', { error, transport: 'tcp', address, port: socket.remotePort ?? 0 });
      return;
    }
    ctx.stats.tcpConnectionsAccepted++;
    this.#adopt(socket, remoteKey(socket.remoteAddress, socket.remotePort ?? 0));
  };

  /** Registers a connected socket in both tables; an earlier connection to the same peer keeps its slot. */
  #adopt(socket: Socket, key: string): TcpConnection {
    const connection = new TcpConnection(socket, this.#nextId++, key, this.#ctx, this.#onClosed);
    this.#byId.set(connection.id, connection);
    if (!this.#byRemote.has(key)) this.#byRemote.set(key, connection);
    this.#ctx.stats.tcpConnectionsOpen++;
    return connection;
  }

  #onClosed = (connection: TcpConnection): void => {
    this.#byId.delete(connection.id);
    if (this.#byRemote.get(connection.key) === connection) this.#byRemote.delete(connection.key);
    this.#ctx.stats.tcpConnectionsOpen--;
  };

  /** Opens an outbound connection with a connect timeout on the injected clock. */
  #connect(dest: SendDestination, key: string): PendingConnect {
    const { settings } = this.#ctx;
    if (this.#atCapacity()) {
      const error = new PbxError(TransportErrorCode.connectionLimit, 'TCP connection cap reached');
      return { promise: Promise.reject(sendError(error.message, error)), fail: () => undefined };
    }
    const socket = settings.socketFactory.connectTcp(this.#connectOptions(dest));
    const { promise, resolve, reject } = Promise.withResolvers<TcpConnection>();
    const timer = settings.clock.setTimer(settings.tcpConnectTimeoutMs, () =>
      fail(new Error(`connect timed out after ${settings.tcpConnectTimeoutMs} ms`)),
    );
    const finish = (): void => {
      settings.clock.clearTimer(timer);
      socket.off('error', fail);
      this.#connecting.delete(key);
    };
    const fail = (error: Error): void => {
      finish();
      socket.destroy();
      reject(sendError(`TCP connect to ${dest.address}:${dest.port} failed: ${error.message}`, error));
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      finish();
      this.#ctx.stats.tcpConnectionsOutbound++;
      resolve(this.#adopt(socket, key));
    });
    const pending: PendingConnect = { promise, fail };
    this.#connecting.set(key, pending);
    return pending;
  }

  /** Outbound connections leave from the listening address when it is a specific one of the same family. */
  #connectOptions(dest: SendDestination): TcpNetConnectOpts {
    const { settings } = this.#ctx;
    const options: TcpNetConnectOpts = { host: dest.address, port: dest.port, noDelay: true };
    const unspecified = settings.listen === '0.0.0.0' || settings.listen === '::';
    if (!unspecified && ipFamily(dest.address) === settings.family) options.localAddress = settings.listen;
    return options;
  }
}
