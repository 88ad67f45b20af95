import type { Clock } from '../../core/clock.js';

/** A leased block of consecutive media ports; a fresh object per lease, so a stale copy can never free a reissued block. */
export interface PortBlock {
  /** Position of the block in the pool (0-based). */
  readonly index: number;
  /** First port, a multiple of `size` (so RTP ports are even and RTCP = RTP + 1, RFC 3550 §11). */
  readonly start: number;
  /** Number of ports in the block (`portsPerCall`). */
  readonly size: number;
}

/** Checks that a block's ports can be bound right now (e.g. by a probe); false or a rejection quarantines it. */
export type CanBind = (block: PortBlock) => boolean | Promise<boolean>;

/** Options of createPortPool; mirrors config `media.portRange`, `media.portsPerCall`, `media.maxCalls`. */
export interface PortPoolOptions {
  /** First port of the range (inclusive). */
  readonly start: number;
  /** End of the range (exclusive). */
  readonly end: number;
  /** Ports per call, a multiple of 4 (one A/B RTP/RTCP quad per media line); default 8. */
  readonly portsPerCall?: number;
  /** Blocks leased at once at most; default every block in the range. */
  readonly maxCalls?: number;
  /** How long a block that failed to bind stays out of circulation; default 30 s. */
  readonly quarantineMs?: number;
  /** Time source for quarantine timers; default the system clock. */
  readonly clock?: Clock;
  /** Bind check used by `acquire()`; default: every block is bindable. */
  readonly canBind?: CanBind;
}

/** Ports of the media range, leased per call in aligned blocks. */
export interface PortPool {
  /** Leases the block at the head of the free list in O(1); throws PortPoolExhausted. */
  reserve(): PortBlock;
  /** Leases a block that passes `canBind`, quarantining each one that does not; throws PortPoolExhausted. */
  acquire(): Promise<PortBlock>;
  /** Returns a leased block to the tail of the free list; a second release of the same lease is a no-op. */
  release(block: PortBlock): void;
  /** Takes a leased block out of circulation for `quarantineMs` (its ports are taken by someone else). */
  quarantine(block: PortBlock): void;
  /** Ports in leased blocks (`sippbx_media_ports_in_use`). */
  inUse(): number;
  /** Ports the pool may lease at once: min(maxCalls, blocks) x portsPerCall (`sippbx_media_ports_total`). */
  total(): number;
  /** Ports in quarantined blocks. */
  quarantined(): number;
  /** Blocks on the free list (leasable unless maxCalls is reached). */
  freeBlocks(): number;
  /** Number of blocks in the range. */
  blockCount(): number;
  /** Cancels quarantine timers and puts quarantined blocks straight back on the free list; idempotent. */
  close(): void;
}
