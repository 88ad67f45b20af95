/**
 * rtpengine "ng" control client: each request is `<cookie> <bencoded dict>` in one UDP datagram and the
 * reply echoes the cookie. rtpengine caches replies by cookie, so a retry with the same cookie is safe.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { bdecode, bencode } from './bencode.js';
import type { BValue } from './bencode.js';

/** A decoded ng reply dictionary. */
export type NgReply = { [key: string]: BValue };

interface Pending {
  readonly resolve: (reply: NgReply) => void;
  readonly reject: (error: Error) => void;
  readonly datagram: Buffer;
  tries: number;
  timer: NodeJS.Timeout;
}

/** ng client over one UDP socket, with per-request timeout and bounded retries. */
export class NgClient {
  readonly #socket: Socket;
  readonly #pending = new Map<string, Pending>();
  readonly #timeoutMs: number;
  readonly #maxTries: number;
  // rtpengine caches replies by cookie: clients must never share cookies, so each gets a random prefix.
  readonly #prefix = randomBytes(4).toString('hex');
  #next = 1;

  private constructor(socket: Socket, timeoutMs: number, maxTries: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#maxTries = maxTries;
    socket.on('message', (msg) => this.#onMessage(msg));
    // ECONNREFUSED while rtpengine is still starting: the request simply times out and is retried.
    socket.on('error', () => {});
  }

  /** Connects a client to rtpengine's `--listen-ng` address. */
  static async connect(host: string, port: number, timeoutMs = 1000, maxTries = 3): Promise<NgClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new NgClient(socket, timeoutMs, maxTries);
  }

  /** Sends one command; rejects on timeout after `maxTries` attempts or when rtpengine answers `error`. */
  request(command: { [key: string]: BValue }): Promise<NgReply> {
    const cookie = `${this.#prefix}_${this.#next++}`;
    const datagram = Buffer.concat([Buffer.from(`${cookie} `), bencode(command)]);
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject, datagram, tries: 0, timer: setTimeout(() => {}, 0) };
      this.#pending.set(cookie, pending);
      this.#send(cookie, pending);
    });
  }

  /** Closes the socket; pending requests are rejected. */
  close(): void {
    for (const [cookie, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error(`ng request ${cookie} aborted: client closed`));
    }
    this.#pending.clear();
    this.#socket.close();
  }

  #send(cookie: string, pending: Pending): void {
    pending.tries++;
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      if (pending.tries >= this.#maxTries) {
        this.#pending.delete(cookie);
        pending.reject(new Error(`ng request ${cookie}: no reply after ${pending.tries} tries`));
      } else {
        this.#send(cookie, pending);
      }
    }, this.#timeoutMs);
    this.#socket.send(pending.datagram);
  }

  #onMessage(msg: Buffer): void {
    const space = msg.indexOf(0x20);
    if (space < 0) return;
    const cookie = msg.toString('latin1', 0, space);
    const pending = this.#pending.get(cookie);
    if (pending === undefined) return;
    this.#pending.delete(cookie);
    clearTimeout(pending.timer);
    let reply: BValue;
    try {
      reply = bdecode(msg.subarray(space + 1));
    } catch (error) {
      pending.reject(error as Error);
      return;
    }
    if (typeof reply !== 'object' || Array.isArray(reply) || Buffer.isBuffer(reply)) {
      pending.reject(new Error(`ng reply ${cookie} is not a dictionary`));
    } else if (reply.result === 'error') {
      pending.reject(new Error(`rtpengine: ${JSON.stringify(reply['error-reason'])}`));
    } else {
      pending.resolve(reply);
    }
  }
}
