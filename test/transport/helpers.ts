import { once } from 'node:events';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** A minimal SIP request with a correct Content-Length. */
export function sipRequest(body = '', lengthHeader = 'Content-Length'): Buffer {
  const head =
    'OPTIONS sip:pbx@example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n' +
    'Call-ID: a84b4c76e66710\r\n' +
    `${lengthHeader}: ${Buffer.byteLength(body)}\r\n\r\n`;
  return Buffer.from(head + body);
}

/** An async queue: producers push, tests await the next item in order. */
export class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: ((item: T) => void)[] = [];

  push = (item: T): void => {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(item);
    else this.#items.push(item);
  };

  next(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  get size(): number {
    return this.#items.length;
  }
}

/** Opens a TCP client and resolves once connected. */
export async function tcpClient(host: string, port: number): Promise<Socket> {
  const socket = connect({ host, port });
  await once(socket, 'connect');
  return socket;
}

/** Writes and resolves when the socket has taken the bytes. */
export function write(socket: Socket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (error) => (error ? reject(error) : resolve())));
}

/** Collects everything a socket receives until `predicate` holds for the bytes so far. */
export function readUntil(socket: Socket, predicate: (received: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      if (predicate(received)) {
        socket.off('data', onData);
        socket.off('error', reject);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}
