/** RTP/RTCP relay: per-call MediaSession owning one RelayLine per media line, with latching and counters. */
export { createMediaSession, MediaSession, resolveRelayEngine } from './session.js';
export type { MediaSessionOptions, RelayEngine } from './session-options.js';
export { openMediaSession } from './open.js';
export type { OpenMediaSessionOptions } from './open.js';
export { RelayLine } from './line.js';
export { NativeRelayLine } from './native-line.js';
export type { LinePorts, MediaLine } from './media-line.js';
export { createRelayCounters, addCounters, relayTotals } from './counters.js';
export { MediaBindError, MediaSessionError } from './errors.js';
export { dgramSocketFactory } from './sockets.js';
export { DROP_REASONS } from './types.js';
export type {
  Side,
  Direction,
  DropReason,
  DirectionCounts,
  DropCounts,
  RelayCounters,
  RemoteEndpoint,
  PeerAddress,
  PacketTransform,
  MediaSocketFactory,
} from './types.js';
