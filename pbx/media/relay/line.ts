import type { RemoteInfo, Socket } from 'node:dgram';
import { Flow } from './flow.js';
import type { FlowHost } from './flow.js';
import { sendTarget } from './peer.js';
import { applyTransform } from './transform.js';
import { isStun, MALFORMED, muxedKind, RTCP, rtcpKind, rtpKind } from './rtp.js';
import { createRelayCounters } from './counters.js';
import type { LinePorts, MediaLine } from './media-line.js';
import type {
  Direction,
  DirectionCounts,
  DropReason,
  MediaSocketFactory,
  PacketTransform,
  PeerAddress,
  RelayCounters,
  RemoteEndpoint,
  Side,
} from './types.js';

/** One party's pair of relay flows (RTP and RTCP port) and what the relay knows of the party's addresses. */
class Leg {
  rtcpMux = false;
  transform: PacketTransform | undefined;
  rtcpTransform: PacketTransform | undefined;

  constructor(
    readonly rtp: Flow,
    readonly rtcp: Flow,
    /** Direction of packets received from this party. */
    readonly direction: Direction,
  ) {}
}

/** Sockets of one line in block order: A-RTP, A-RTCP, B-RTP, B-RTCP. */
export type LineSockets = readonly [Socket, Socket, Socket, Socket];

/**
 * The Node engine's relay for one media line (one `m=`): packets received from A on the A-facing sockets leave the
 * B-facing sockets towards B, and back. The hot path allocates nothing and logs nothing: a packet is
 * checked, its source compared with the latched one, and the very same Buffer is sent on — once the
 * destination's RTP flow has latched, out of a socket connected to it (flow.ts).
 */
export class RelayLine implements MediaLine {
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
  /** Connected sockets closed by a re-latch and not yet free. */
  readonly #unlinking = new Set<Promise<void>>();
  #rtpReceived = 0;
  #closing: Promise<void> | undefined;

  /**
   * `connectFactory` creates the connected socket of each latched RTP flow (the four relay sockets must then
   * be bound with SO_REUSEPORT); undefined sends everything from the relay sockets. RTCP flows (about one
   * packet per 5 s each) always send from their relay socket; with rtcp-mux RTCP rides the RTP flow's.
   */
  constructor(
    index: number,
    family: 4 | 6,
    sockets: LineSockets,
    aggregate: RelayCounters,
    connectFactory?: MediaSocketFactory,
  ) {
    this.index = index;
    this.#family = family;
    this.#aggregate = aggregate;
    const rtpHost: FlowHost = {
      connectFactory,
      onError: this.#onSocketError,
      track: (closing) => this.#track(closing),
    };
    const rtcpHost: FlowHost = { ...rtpHost, connectFactory: undefined };
    this.#a = new Leg(new Flow(sockets[0], rtpHost), new Flow(sockets[1], rtcpHost), 'a-to-b');
    this.#b = new Leg(new Flow(sockets[2], rtpHost), new Flow(sockets[3], rtcpHost), 'b-to-a');
    this.ports = { a: legPorts(this.#a), b: legPorts(this.#b) };
    this.#listen(this.#a, this.#b);
    this.#listen(this.#b, this.#a);
  }

  /** Sets a party's SDP address (new offer/answer) and clears its latches, so the next packet may re-latch. */
  setRemote(side: Side, remote: RemoteEndpoint): void {
    const leg = side === 'a' ? this.#a : this.#b;
    const { address, rtpPort, rtcpPort } = sendTarget(this.#family, remote);
    leg.rtcpMux = remote.rtcpMux;
    leg.rtp.reset(address, rtpPort);
    leg.rtcp.reset(address, rtcpPort);
  }

  /** Where a party's RTP (or, without mux, RTCP) goes now, and whether that address is latched. */
  remote(side: Side, flow: 'rtp' | 'rtcp' = 'rtp'): PeerAddress {
    const leg = side === 'a' ? this.#a : this.#b;
    const peer = flow === 'rtp' || leg.rtcpMux ? leg.rtp.peer : leg.rtcp.peer;
    return { address: peer.address, port: peer.port, latched: peer.latched };
  }

  /** True when a party's RTP (with rtcp-mux also its RTCP) leaves through a socket connected to it. */
  connected(side: Side): boolean {
    return (side === 'a' ? this.#a : this.#b).rtp.connected;
  }

  setTransform(direction: Direction, transform: PacketTransform | undefined, rtcp?: PacketTransform): void {
    const from = direction === 'a-to-b' ? this.#a : this.#b;
    from.transform = transform;
    from.rtcpTransform = transform === undefined ? undefined : rtcp;
  }

  /** RTP packets accepted from either party so far (the media-inactivity probe). */
  rtpReceived(): number {
    return this.#rtpReceived;
  }

  /** Closes every socket of the line; resolves when their ports are free; later calls return the same promise. */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    const flows = [this.#a.rtp, this.#a.rtcp, this.#b.rtp, this.#b.rtcp];
    await Promise.all([...flows.map((flow) => flow.close()), ...this.#unlinking]);
  }

  #track(closing: Promise<void>): void {
    this.#unlinking.add(closing);
    void closing.then(() => this.#unlinking.delete(closing));
  }

  #listen(from: Leg, to: Leg): void {
    from.rtp.listen((packet: Buffer, rinfo: RemoteInfo) => this.#onRtpSocket(from, to, packet, rinfo));
    from.rtcp.listen((packet: Buffer, rinfo: RemoteInfo) => this.#onRtcpSocket(from, to, packet, rinfo));
  }

  #onRtpSocket(from: Leg, to: Leg, packet: Buffer, rinfo: RemoteInfo): void {
    const kind = from.rtcpMux ? muxedKind(packet) : rtpKind(packet);
    if (kind === MALFORMED) return this.#drop(isStun(packet) ? 'stun' : 'malformed');
    if (!from.rtp.accept(rinfo.address, rinfo.port)) return this.#drop('foreign-source');
    if (kind === RTCP) return this.#forwardRtcp(from, to, packet);
    this.#rtpReceived++;
    this.#forwardRtp(from, to, packet);
  }

  #onRtcpSocket(from: Leg, to: Leg, packet: Buffer, rinfo: RemoteInfo): void {
    if (rtcpKind(packet) === MALFORMED) return this.#drop(isStun(packet) ? 'stun' : 'malformed');
    if (!from.rtcp.accept(rinfo.address, rinfo.port)) return this.#drop('foreign-source');
    this.#forwardRtcp(from, to, packet);
  }

  #forwardRtp(from: Leg, to: Leg, packet: Buffer): void {
    const flow = to.rtp;
    if (flow.peer.port === 0) return this.#drop('no-destination');
    const out = from.transform === undefined ? packet : applyTransform(from.transform, packet);
    if (out === null) return this.#drop('transform');
    if (out.length === 0) return; // held by the transform (types.ts PacketTransform)
    if (!this.#send(flow, out)) return;
    const direction = from.direction;
    count(this.counters.rtpPackets, direction, 1);
    count(this.counters.rtpBytes, direction, out.length);
    count(this.#aggregate.rtpPackets, direction, 1);
    count(this.#aggregate.rtpBytes, direction, out.length);
  }

  #forwardRtcp(from: Leg, to: Leg, packet: Buffer): void {
    const flow = to.rtcpMux ? to.rtp : to.rtcp;
    if (flow.peer.port === 0) return this.#drop('no-destination');
    const out = from.rtcpTransform === undefined ? packet : applyTransform(from.rtcpTransform, packet);
    if (out === null) return this.#drop('transform');
    if (out.length === 0 || !this.#send(flow, out)) return;
    const direction = from.direction;
    count(this.counters.rtcpPackets, direction, 1);
    count(this.counters.rtcpBytes, direction, out.length);
    count(this.#aggregate.rtcpPackets, direction, 1);
    count(this.#aggregate.rtcpBytes, direction, out.length);
  }

  #send(flow: Flow, packet: Buffer): boolean {
    try {
      flow.send(packet, this.#onSent);
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

/**
 * Adds to one direction's counter through a constant property name: a computed `counts[direction]` with two
 * different names at one site is a megamorphic keyed access in V8, paid on every relayed packet.
 */
function count(counts: DirectionCounts, direction: Direction, n: number): void {
  if (direction === 'a-to-b') counts['a-to-b'] += n;
  else counts['b-to-a'] += n;
}

function legPorts(leg: Leg): { rtp: number; rtcp: number } {
  return { rtp: leg.rtp.socket.address().port, rtcp: leg.rtcp.socket.address().port };
}
