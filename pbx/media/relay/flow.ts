import type { RemoteInfo, Socket } from 'node:dgram';
import { Peer } from './peer.js';
import { closeQuietly, closeUdp } from './sockets.js';
import type { MediaSocketFactory } from './types.js';

/** Handles one datagram received on a flow's relay port. */
export type DatagramHandler = (packet: Buffer, rinfo: RemoteInfo) => void;

/** What a flow needs from its line. */
export interface FlowHost {
  /**
   * Creates the flow's connected socket once it latches; undefined keeps every send on the relay socket
   * (platforms without Linux SO_REUSEPORT semantics, RTCP flows).
   */
  readonly connectFactory: MediaSocketFactory | undefined;
  /** Socket `error` listener of the line (counts `socket-error`). */
  readonly onError: (error: Error) => void;
  /** Keeps the promise of a connected socket closed by a re-latch, so the line's close() waits for its port. */
  track(closing: Promise<void>): void;
}

/**
 * One flow at one relay port: a party's RTP (or RTCP) as seen from the relay socket facing it, the party's
 * address (SDP, then latched) and, once latched, a second socket *connected* to that address.
 *
 * The connected socket is bound to the relay socket's own address and port (both with SO_REUSEPORT) and
 * `connect()`ed to the latched source. Linux then delivers datagrams of exactly that 4-tuple to it and
 * everything else to the relay socket, where a foreign source is still received, dropped and counted
 * (no RTP bleed). Sending on it needs no address: node:dgram skips its per-send `dns.lookup` round and the
 * kernel its per-send route lookup, the larger part of an unconnected send's cost.
 */
export class Flow {
  /** The party's address for this flow. */
  readonly peer = new Peer();
  /** The relay socket (SO_REUSEPORT when connected sockets are in use). */
  readonly socket: Socket;
  /** The connected socket once bound and connected; until then sends go out of the relay socket. */
  #connected: Socket | undefined;
  /** The connected socket being opened or open, so a reset or close can close it in any state. */
  #linked: Socket | undefined;
  #onMessage: DatagramHandler | undefined;
  #closed = false;
  readonly #host: FlowHost;

  constructor(socket: Socket, host: FlowHost) {
    this.socket = socket;
    this.#host = host;
  }

  /** Installs the datagram handler on the relay socket (and on the connected socket once there is one). */
  listen(onMessage: DatagramHandler): void {
    this.#onMessage = onMessage;
    this.socket.on('message', onMessage);
    this.socket.on('error', this.#host.onError);
  }

  /** Sets the SDP address, forgets the latch and closes the connected socket: the next packet may re-latch. */
  reset(address: string, port: number): void {
    this.peer.reset(address, port);
    this.#unlink();
  }

  /**
   * Latches on the first packet (and starts connecting a socket to that source); afterwards true only for
   * packets from the latched source.
   */
  accept(address: string, port: number): boolean {
    const peer = this.peer;
    if (peer.latched) return port === peer.port && address === peer.address;
    peer.accept(address, port);
    this.#link();
    return true;
  }

  /** True when packets sent now leave through the connected socket. */
  get connected(): boolean {
    return this.#connected !== undefined;
  }

  /**
   * Sends one datagram to the peer; the caller has checked that there is a destination (port ≠ 0).
   * On the connected socket there is no per-send callback (it would cost a process.nextTick per packet):
   * node:dgram drops a failed synchronous send silently there, and the failures a connected UDP socket
   * learns of (ICMP port/host unreachable) arrive as its `error` events, counted as `socket-error`.
   * On the relay socket `onSent` reports the result; a synchronous throw (socket closed) propagates.
   */
  send(packet: Buffer, onSent: (error: Error | null) => void): void {
    const connected = this.#connected;
    if (connected !== undefined) connected.send(packet);
    else this.socket.send(packet, this.peer.port, this.peer.address, onSent);
  }

  /** Closes the relay socket and the connected one and opens no more; resolves when both ports are free. */
  close(): Promise<void> {
    this.#closed = true;
    const linked = this.#linked;
    this.#linked = undefined;
    this.#connected = undefined;
    return Promise.all([closeUdp(this.socket), linked === undefined ? undefined : closeUdp(linked)]).then(
      () => undefined,
    );
  }

  #link(): void {
    const factory = this.#host.connectFactory;
    const onMessage = this.#onMessage;
    if (factory === undefined || onMessage === undefined || this.#closed) return;
    const local = this.socket.address();
    const { address, port } = this.peer;
    const socket = factory.createUdpSocket({
      type: local.family === 'IPv6' ? 'udp6' : 'udp4',
      reusePort: true,
    });
    this.#linked = socket;
    // Until connect() completes this socket is an unconnected member of the port's reuseport group and may
    // receive any datagram, so it gets the very same handler, source check included.
    socket.on('message', onMessage);
    const onOpenError = (): void => {
      closeQuietly(socket);
      if (this.#linked !== socket) return;
      this.#linked = undefined;
      this.#host.onError(new Error('connected media socket failed to open'));
    };
    socket.once('error', onOpenError);
    socket.bind({ port: local.port, address: local.address, exclusive: true }, () => {
      if (this.#linked !== socket) return;
      socket.connect(port, address, (error?: Error) => {
        if (this.#linked !== socket) return;
        if (error !== undefined) return onOpenError();
        socket.off('error', onOpenError);
        socket.on('error', this.#host.onError);
        this.#connected = socket;
      });
    });
  }

  #unlink(): void {
    const linked = this.#linked;
    if (linked === undefined) return;
    this.#linked = undefined;
    this.#connected = undefined;
    this.#host.track(closeUdp(linked));
  }
}
