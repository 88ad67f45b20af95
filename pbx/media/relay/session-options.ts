import type { Clock } from '../../core/clock.js';
import type { MediaSession } from './session.js';
import type { MediaSocketFactory, RelayCounters } from './types.js';

/** Which relay forwards packets (`media.relayEngine`): the native addon, the Node one, or native when built. */
export type RelayEngine = 'auto' | 'native' | 'node';

/** Options of createMediaSession. */
export interface MediaSessionOptions {
  /** The call's port block (a PortBlock from the pool fits): line i binds start + 4i … start + 4i + 3. */
  readonly block: { readonly start: number; readonly size: number };
  /** IPv4 or IPv6 literal to bind (`media.listen`); its family picks udp4 or udp6 sockets. */
  readonly listen: string;
  /** Media lines to open at once (default 1); more later with `openLine`. */
  readonly lines?: number;
  /** Identifier for logs; default derived from the block. */
  readonly id?: string;
  /** Relay engine; default `auto` (native when its addon is built). The socket options below are the Node engine's. */
  readonly engine?: RelayEngine;
  /** Socket factory of the Node engine; default node:dgram. */
  readonly socketFactory?: MediaSocketFactory;
  /**
   * Bind relay ports with SO_REUSEPORT and give each latched RTP flow a socket connected to its source, so a
   * relayed packet skips node:dgram's per-send address lookup (docs/benchmarks.md "RTP relay"); default true
   * on Linux only. Caveat: a process of the same user that also sets SO_REUSEPORT could share a relay port.
   */
  readonly connectedFlows?: boolean;
  /** Process-wide counters the metrics layer polls; default private to the session. */
  readonly counters?: RelayCounters;
  /** Time source of the inactivity check; default the system clock. */
  readonly clock?: Clock;
  /** Report the session after this long without RTP either way; 0 or absent disables. */
  readonly inactivityTimeoutMs?: number;
  /** How often the inactivity check runs; default 1000 ms. */
  readonly inactivityCheckMs?: number;
  /** Called once when the media timeout hits; the B2BUA ends the call with reason `media-timeout`. */
  readonly onInactive?: (session: MediaSession) => void;
  /** Called once after close() freed the sockets (the owner of the block releases it here). */
  readonly onClose?: () => void;
}
