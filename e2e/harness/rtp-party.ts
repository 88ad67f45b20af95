// RTP endpoints for media tests through the relay (in-process CallMedia or the real pbx): a UDP socket on 127.0.0.1
// per party that records every datagram it receives, so a test sends packets from one party and reads what the
// other got for them.
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { once } from 'node:events';

const HOST = '127.0.0.1';

/** A party's RTP socket on 127.0.0.1: records what arrives, in order. */
export class RtpParty {
  /** Every datagram received so far. */
  readonly received: Buffer[] = [];
  #waiters: { count: number; resolve: () => void }[] = [];
  #closing: Promise<void> | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('message', (data: Buffer) => {
      this.received.push(data);
      this.#waiters = this.#waiters.filter((w) =>
        this.received.length >= w.count ? (w.resolve(), false) : true,
      );
    });
  }

  /** Binds a party to an ephemeral port on 127.0.0.1. */
  static async open(): Promise<RtpParty> {
    const socket = createSocket('udp4');
    socket.bind(0, HOST);
    await once(socket, 'listening');
    return new RtpParty(socket);
  }

  /** The port the party receives and sends on. */
  get port(): number {
    return this.socket.address().port;
  }

  /**
   * Sends `packets` to the relay's `port` and resolves with what `to` received from then on, once that is as many
   * datagrams; rejects after `timeoutMs` saying how many came (a bound on the wait, never a delay).
   */
  async exchange(
    to: RtpParty,
    port: number,
    packets: readonly Buffer[],
    timeoutMs = 5000,
  ): Promise<Buffer[]> {
    const before = to.received.length;
    const arrived = to.#arrival(before + packets.length, timeoutMs);
    for (const packet of packets) this.socket.send(packet, port, HOST);
    await arrived;
    return to.received.slice(before);
  }

  /** Closes the socket; a second call waits for the same close. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => this.socket.close(() => resolve()));
    return this.#closing;
  }

  /** Resolves once `count` datagrams arrived in total. */
  #arrival(count: number, timeoutMs: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`expected ${count} RTP packets in ${timeoutMs} ms, got ${this.received.length}`)),
        timeoutMs,
      );
      this.#waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}
