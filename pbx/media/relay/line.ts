import type { RemoteInfo, Socket } from 'node:dgram';
import { checkPort, Peer, sendAddress } from './peer.js';
import { MALFORMED, muxedKind, RTCP, rtcpKind, rtpKind } from './rtp.js';
import { createRelayCounters } from './counters.js';
import { closeUdp } from './sockets.js';
import type {
  Direction,
  DropReason,
  PacketTransform,
  PeerAddress,
  RelayCounters,
  RemoteEndpoint,
  Side,
} from './types.js';

/** One party's pair of relay sockets and what the relay knows of the party's addresses. */
class Leg {
  readonly rtpPeer = new Peer();
  readonly rtcpPeer = new Peer();
  rtcpMux = false;
  transform: PacketTransform | undefined;

  constructor(
    readonly rtp: Socket,
    readonly rtcp: Socket,
    /** Direction of packets received from this party. */
    readonly direction: Direction,
  ) {}
}

/** Local ports of one media line: the A-facing and B-facing RTP/RTCP pairs. */
export interface LinePorts {
  readonly a: { readonly rtp: number; readonly rtcp: number };
  readonly b: { readonly rtp: number; readonly rtcp: number };
}

/** Sockets of one line in block order: A-RTP, A-RTCP, B-RTP, B-RTCP. */
export type LineSockets = readonly [Socket, Socket, Socket, Socket];

/**
 * The relay for one media line (one `m=`): packets received from A on the A-facing sockets leave the
 * B-facing sockets towards B, and back. The hot path allocates nothing and logs nothing: a packet is
 * checked, its source compared with the latched one, and the very same Buffer is sent on.
 */
export class RelayLine {
  /** Media line index within the session (0 = first `m=`). */
  readonly index: number;
  /** Counters of this line alone. */
  readonly counters: RelayCounters = createRelayCounters();
  /** Local ports, for the SDP rewrite. */
  readonly ports: LinePorts;
  readonly #aggregate: RelayCounters;
  readonly #family: 4 | 6;
  readonly #a: Leg;
  readonly #b: Leg;
  #rtpReceived = 0;
  #closing: Promise<void> | undefined;

  constructor(index: number, family: 4 | 6, sockets: LineSockets, aggregate: RelayCounters) {
    this.index = index;
    this.#family = family;
    this.#aggregate = aggregate;
    this.#a = new Leg(sockets[0], sockets[1], 'a-to-b');
    this.#b = new Leg(sockets[2], sockets[3], 'b-to-a');
    this.ports = { a: legPorts(this.#a), b: legPorts(this.#b) };
    this.#listen(this.#a, this.#b);
    this.#listen(this.#b, this.#a);
  }

  /** Sets a party's SDP address (new offer/answer) and clears its latches, so the next packet may re-latch. */
  setRemote(side: Side, remote: RemoteEndpoint): void {
    const leg = side === 'a' ? this.#a : this.#b;
    const address = sendAddress(this.#family, remote.address);
    const rtpPort = checkPort(remote.rtpPort, 'RTP');
    const rtcpPort = checkPort(remote.rtcpPort ?? (rtpPort === 0 ? 0 : rtpPort + 1), 'RTCP');
    leg.rtcpMux = remote.rtcpMux;
    leg.rtpPeer.reset(address, rtpPort);
    leg.rtcpPeer.reset(address, rtcpPort);
  }

  /** Where a party's RTP (or, without mux, RTCP) goes now, and whether that address is latched. */
  remote(side: Side, flow: 'rtp' | 'rtcp' = 'rtp'): PeerAddress {
    const leg = side === 'a' ? this.#a : this.#b;
    const peer = flow === 'rtp' || leg.rtcpMux ? leg.rtpPeer : leg.rtcpPeer;
    return { address: peer.address, port: peer.port, latched: peer.latched };
  }

  /** Installs (or with undefined removes) the RTP rewrite for one direction; RTCP always passes untouched. */
  setTransform(direction: Direction, transform: PacketTransform | undefined): void {
    (direction === 'a-to-b' ? this.#a : this.#b).transform = transform;
  }

  /** RTP packets accepted from either party so far (the media-inactivity probe). */
  rtpReceived(): number {
    return this.#rtpReceived;
  }

  /** Closes the four sockets; resolves when their ports are free; later calls return the same promise. */
  close(): Promise<void> {
    this.#closing ??= closeAll([this.#a.rtp, this.#a.rtcp, this.#b.rtp, this.#b.rtcp]);
    return this.#closing;
  }

  #listen(from: Leg, to: Leg): void {
    from.rtp.on('message', (packet: Buffer, rinfo: RemoteInfo) => this.#onRtpSocket(from, to, packet, rinfo));
    from.rtcp.on('message', (packet: Buffer, rinfo: RemoteInfo) =>
      this.#onRtcpSocket(from, to, packet, rinfo),
    );
    for (const socket of [from.rtp, from.rtcp]) socket.on('error', this.#onSocketError);
  }

  #onRtpSocket(from: Leg, to: Leg, packet: Buffer, rinfo: RemoteInfo): void {
    const kind = from.rtcpMux ? muxedKind(packet) : rtpKind(packet);
    if (kind === MALFORMED) return this.#drop('malformed');
    if (!from.rtpPeer.accept(rinfo.address, rinfo.port)) return this.#drop('foreign-source');
    if (kind === RTCP) return this.#forwardRtcp(from.direction, to, packet);
    this.#rtpReceived++;
    this.#forwardRtp(from, to, packet);
  }

  #onRtcpSocket(from: Leg, to: Leg, packet: Buffer, rinfo: RemoteInfo): void {
    if (rtcpKind(packet) === MALFORMED) return this.#drop('malformed');
    if (!from.rtcpPeer.accept(rinfo.address, rinfo.port)) return this.#drop('foreign-source');
    this.#forwardRtcp(from.direction, to, packet);
  }

  #forwardRtp(from: Leg, to: Leg, packet: Buffer): void {
    const peer = to.rtpPeer;
    if (peer.port === 0) return this.#drop('no-destination');
    const out = from.transform === undefined ? packet : applyTransform(from.transform, packet);
    if (out === null) return this.#drop('transform');
    if (!this.#send(to.rtp, out, peer)) return;
    const direction = from.direction;
    this.counters.rtpPackets[direction]++;
    this.counters.rtpBytes[direction] += out.length;
    this.#aggregate.rtpPackets[direction]++;
    this.#aggregate.rtpBytes[direction] += out.length;
  }

  #forwardRtcp(direction: Direction, to: Leg, packet: Buffer): void {
    const peer = to.rtcpMux ? to.rtpPeer : to.rtcpPeer;
    if (peer.port === 0) return this.#drop('no-destination');
    if (!this.#send(to.rtcpMux ? to.rtp : to.rtcp, packet, peer)) return;
    this.counters.rtcpPackets[direction]++;
    this.counters.rtcpBytes[direction] += packet.length;
    this.#aggregate.rtcpPackets[direction]++;
    this.#aggregate.rtcpBytes[direction] += packet.length;
  }

  #send(socket: Socket, packet: Buffer, peer: Peer): boolean {
    try {
      socket.send(packet, peer.port, peer.address, this.#onSent);
      return true;
    } catch {
      this.#drop('send-error');
      return false;
    }
  }

  #drop(reason: DropReason): void {
    this.counters.dropped[reason]++;
    this.#aggregate.dropped[reason]++;
  }

  // Bound once per line, so sending allocates no callback per packet.
  #onSent = (error: Error | null): void => {
    if (error !== null) this.#drop('send-error');
  };

  #onSocketError = (): void => {
    this.#drop('socket-error');
  };
}

function legPorts(leg: Leg): { rtp: number; rtcp: number } {
  return { rtp: leg.rtp.address().port, rtcp: leg.rtcp.address().port };
}

/** Runs a transform; one that throws drops the packet instead of taking the process down. */
function applyTransform(transform: PacketTransform, packet: Buffer): Buffer | null {
  try {
    return transform(packet);
  } catch {
    return null;
  }
}

async function closeAll(sockets: Socket[]): Promise<void> {
  await Promise.all(sockets.map(closeUdp));
}
