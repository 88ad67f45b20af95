import { attachLive, createRelayCounters } from './counters.js';
import { MediaBindError, MediaSessionError } from './errors.js';
import type { LinePorts, MediaLine } from './media-line.js';
import { loadNativeRelay } from './native.js';
import type { NativeHandle, NativeRelayBinding } from './native.js';
import { sendTarget } from './peer.js';
import { applyTransform } from './transform.js';
import { DROP_REASONS } from './types.js';
import type {
  Direction,
  DirectionCounts,
  PacketTransform,
  PeerAddress,
  RelayCounters,
  RemoteEndpoint,
  Side,
} from './types.js';

/** Slots of the addon's counter array (relay.c `C_*`). */
const SLOTS = 16;
const RTP_RECEIVED = 15;
const TRANSFORM_DROP = DROP_REASONS.indexOf('transform');

/** Open native lines by id, so packets the addon hands to JS (transcoding) find their line. */
class NativeEngine {
  readonly binding: NativeRelayBinding;
  readonly lines = new Map<number, NativeRelayLine>();
  #nextId = 1;

  constructor(binding: NativeRelayBinding) {
    this.binding = binding;
    binding.start((lineId, fromLeg, packet, rtcp) =>
      this.lines.get(lineId)?.onDiverted(fromLeg, packet, rtcp),
    );
  }

  nextId(): number {
    const id = this.#nextId;
    this.#nextId = id >= 0xffff_fffe ? 1 : id + 1;
    return id;
  }
}

let engine: NativeEngine | undefined;

/** The process's native engine; throws MediaSessionError saying why when the addon is unavailable. */
function nativeEngine(): NativeEngine {
  if (engine !== undefined) return engine;
  const load = loadNativeRelay();
  if (!load.ok) throw new MediaSessionError(`native relay unavailable: ${load.reason}`);
  engine = new NativeEngine(load.binding);
  return engine;
}

/** Options of openNativeLine. */
export interface NativeLineOptions {
  readonly index: number;
  readonly family: 4 | 6;
  readonly listen: string;
  /** A-RTP; A-RTCP, B-RTP and B-RTCP follow. */
  readonly firstPort: number;
  /** Session or process aggregate; the line's counters count in it until and after close. */
  readonly aggregate: RelayCounters;
}

/** Binds a native line's four sockets; throws MediaBindError (nothing stays bound) when a port is taken. */
export function openNativeLine(options: NativeLineOptions): NativeRelayLine {
  const native = nativeEngine();
  const id = native.nextId();
  const opened = native.binding.open(id, options.family, options.listen, options.firstPort);
  if ('code' in opened) {
    const cause = Object.assign(new Error(opened.message), { code: opened.code });
    throw new MediaBindError(options.listen, opened.port, cause);
  }
  const line = new NativeRelayLine(native, id, opened, options);
  native.lines.set(id, line);
  return line;
}

/**
 * The native engine's relay for one media line: pbx/media/relay/native/relay.c forwards every packet on
 * its own thread; this object configures it and reads its counters. Same semantics as RelayLine (line.ts).
 */
export class NativeRelayLine implements MediaLine {
  readonly index: number;
  readonly ports: LinePorts;
  readonly #engine: NativeEngine;
  readonly #id: number;
  readonly #handle: NativeHandle;
  readonly #family: 4 | 6;
  readonly #slots = new Float64Array(SLOTS);
  readonly #mux: Record<Side, boolean> = { a: false, b: false };
  /** Per party: the rewrite of the RTP (and RTCP) it sends. */
  readonly #transforms: Record<
    Side,
    { rtp: PacketTransform; rtcp: PacketTransform | undefined } | undefined
  > = { a: undefined, b: undefined };
  readonly #detach: () => void;
  #closing: Promise<void> | undefined;
  /** Peers by leg·2 + flow, taken at close; the handle must not be used after that. */
  #lastPeers: PeerAddress[] | undefined;

  constructor(native: NativeEngine, id: number, handle: NativeHandle, options: NativeLineOptions) {
    this.#engine = native;
    this.#id = id;
    this.#handle = handle;
    this.index = options.index;
    this.#family = options.family;
    const p = options.firstPort;
    this.ports = { a: { rtp: p, rtcp: p + 1 }, b: { rtp: p + 2, rtcp: p + 3 } };
    this.#detach = attachLive(options.aggregate, () => this.counters);
  }

  /** A snapshot of this line's counters (final once closed). */
  get counters(): RelayCounters {
    const s = this.#read();
    const pair = (at: number): DirectionCounts => ({ 'a-to-b': s[at] ?? 0, 'b-to-a': s[at + 1] ?? 0 });
    const counters = createRelayCounters();
    Object.assign(counters.rtpPackets, pair(0));
    Object.assign(counters.rtpBytes, pair(2));
    Object.assign(counters.rtcpPackets, pair(4));
    Object.assign(counters.rtcpBytes, pair(6));
    DROP_REASONS.forEach((reason, i) => (counters.dropped[reason] = s[8 + i] ?? 0));
    return counters;
  }

  setRemote(side: Side, remote: RemoteEndpoint): void {
    if (this.#closing !== undefined) return;
    const { address, rtpPort, rtcpPort } = sendTarget(this.#family, remote);
    this.#mux[side] = remote.rtcpMux;
    this.#engine.binding.setRemote(this.#handle, leg(side), address, rtpPort, rtcpPort, remote.rtcpMux);
  }

  remote(side: Side, flow: 'rtp' | 'rtcp' = 'rtp'): PeerAddress {
    const index = leg(side) * 2 + (flow === 'rtp' || this.#mux[side] ? 0 : 1);
    // After close the addon may have freed the line: answer from the snapshot close() took.
    return this.#lastPeers?.[index] ?? this.#peer(index);
  }

  /** The native engine sends from its relay sockets: it needs no connected socket for speed. */
  connected(): boolean {
    return false;
  }

  setTransform(direction: Direction, transform: PacketTransform | undefined, rtcp?: PacketTransform): void {
    const from: Side = direction === 'a-to-b' ? 'a' : 'b';
    this.#transforms[from] = transform === undefined ? undefined : { rtp: transform, rtcp };
    if (this.#closing !== undefined) return;
    const rtcpToo = transform !== undefined && rtcp !== undefined;
    this.#engine.binding.setDivert(this.#handle, leg(from), transform !== undefined, rtcpToo);
  }

  rtpReceived(): number {
    return this.#read()[RTP_RECEIVED] ?? 0;
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#read();
    this.#lastPeers = [0, 1, 2, 3].map((i) => this.#peer(i));
    this.#engine.binding.close(this.#handle);
    this.#engine.lines.delete(this.#id);
    this.#closing = Promise.resolve();
    this.#detach();
    return this.#closing;
  }

  /** An RTP (or RTCP) packet from `fromLeg` whose direction has a transform: transform it, send it on. */
  onDiverted(fromLeg: number, packet: Buffer, rtcp: boolean): void {
    if (this.#closing !== undefined) return;
    const transforms = this.#transforms[fromLeg === 0 ? 'a' : 'b'];
    const transform = rtcp ? transforms?.rtcp : transforms?.rtp;
    const out = transform === undefined ? packet : applyTransform(transform, packet);
    const binding = this.#engine.binding;
    if (out === null) binding.drop(this.#handle, TRANSFORM_DROP);
    else if (out.length === 0)
      return; // held by the transform
    else if (rtcp) binding.forwardRtcp(this.#handle, fromLeg, out);
    else binding.forward(this.#handle, fromLeg, out);
  }

  /** The addon's peer of leg·2 + flow `index`; only while the line is open. */
  #peer(index: number): PeerAddress {
    const [address, port, latched] = this.#engine.binding.remote(this.#handle, index >> 1, index & 1);
    return { address, port, latched };
  }

  /** Current counters from the addon; after close the last reading stays. */
  #read(): Float64Array {
    if (this.#closing === undefined) this.#engine.binding.counters(this.#handle, this.#slots);
    return this.#slots;
  }
}

function leg(side: Side): number {
  return side === 'a' ? 0 : 1;
}
