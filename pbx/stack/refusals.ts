/**
 * Stateless refusals of new INVITEs, remembered for as long as their senders retransmit (Timer B, 64×T1).
 * A refused INVITE leaves no transaction (ADR 0002), so without this a retransmission queued behind the
 * refusal would be screened again and could be admitted when the load has dropped: a call whose caller
 * already took the 503 and gave up, answered and never ACKed. Retransmissions get the same answer instead,
 * without a second admission decision. Bounded in entries and time; the oldest are forgotten first.
 */
import type { Clock } from '../core/clock.js';
import { cseq, header, topVia, viaBranch } from '../sip/index.js';
import type { SipRequest, SipResponse } from '../sip/index.js';

/** Options of RefusalMemory. */
export interface RefusalMemoryOptions {
  readonly clock: Clock;
  /** How long a refusal is remembered (64×T1: how long a UAC retransmits an INVITE, RFC 3261 §17.1.1.2). */
  readonly ttlMs: number;
  /** At most this many refusals are remembered (default 8192); a flood evicts the oldest. */
  readonly maxEntries?: number;
}

/** Refusals by transaction key (Call-ID, top Via branch, CSeq number). */
export class RefusalMemory {
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #max: number;
  /** Insertion order is expiry order: every entry lives ttlMs from its insertion. */
  readonly #entries = new Map<string, { readonly res: SipResponse; readonly until: number }>();

  constructor(options: RefusalMemoryOptions) {
    this.#clock = options.clock;
    this.#ttlMs = options.ttlMs;
    this.#max = options.maxEntries ?? 8192;
  }

  /** The refusal given to an earlier copy of this INVITE, if it is still remembered. */
  recall(invite: SipRequest): SipResponse | undefined {
    this.#expire();
    // Nothing refused lately (the normal case): no key to build on the INVITE path.
    if (this.#entries.size === 0) return undefined;
    return this.#entries.get(keyOf(invite))?.res;
  }

  /** Remembers the refusal of `invite`. */
  remember(invite: SipRequest, res: SipResponse): void {
    const key = keyOf(invite);
    this.#entries.delete(key);
    this.#entries.set(key, { res, until: this.#clock.now() + this.#ttlMs });
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  /** Remembered refusals now. */
  get size(): number {
    return this.#entries.size;
  }

  #expire(): void {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) {
      if (entry.until > now) return;
      this.#entries.delete(key);
    }
  }
}

/** The identity of an INVITE's retransmissions: Call-ID, top Via branch and CSeq number (RFC 3261 §17.2.3). */
function keyOf(invite: SipRequest): string {
  return `${header(invite, 'call-id') ?? ''}\n${viaBranch(topVia(invite)) ?? ''}\n${cseq(invite).seq}`;
}
