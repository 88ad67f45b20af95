/** RFC 3261 §17 timer values (Table 4, RFC 6026 §8.4) and the per-transaction timer set on an injected Clock. */
import type { Clock, TimerHandle } from '../core/clock.js';
import { PbxError } from '../core/errors.js';

/** The base intervals of RFC 3261 §17.1.1.1, in milliseconds. */
export interface TimerConfig {
  /** RTT estimate: first retransmission interval, base of the 64*T1 timeouts. */
  readonly t1Ms: number;
  /** Longest retransmission interval for non-INVITE requests and INVITE final responses. */
  readonly t2Ms: number;
  /** Longest time a message stays in the network. */
  readonly t4Ms: number;
  /** Timer D on unreliable transports: how long response retransmissions are absorbed (Table 4: > 32 s). */
  readonly dMs: number;
}

/** RFC 3261 §17.1.1.1 recommended values: T1 500 ms, T2 4 s, T4 5 s. */
export const DEFAULT_TIMER_CONFIG: TimerConfig = { t1Ms: 500, t2Ms: 4000, t4Ms: 5000, dMs: 32_000 };

/** §17.2.1: the INVITE server transaction sends 100 Trying itself when the TU has not answered in 200 ms. */
export const TRYING_DELAY_MS = 200;

/** Resolves partial overrides against the defaults; throws PBX_ERR_TRANSACTION_TIMERS on nonsense values. */
export function timerConfig(
  overrides: { t1Ms?: number; t2Ms?: number; t4Ms?: number; dMs?: number } = {},
): TimerConfig {
  const cfg: TimerConfig = {
    t1Ms: overrides.t1Ms ?? DEFAULT_TIMER_CONFIG.t1Ms,
    t2Ms: overrides.t2Ms ?? DEFAULT_TIMER_CONFIG.t2Ms,
    t4Ms: overrides.t4Ms ?? DEFAULT_TIMER_CONFIG.t4Ms,
    dMs: overrides.dMs ?? DEFAULT_TIMER_CONFIG.dMs,
  };
  for (const [name, value] of Object.entries(cfg)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new PbxError(
        'PBX_ERR_TRANSACTION_TIMERS',
        `${name} must be a positive number of ms, got ${value}`,
      );
    }
  }
  if (cfg.t2Ms < cfg.t1Ms) {
    throw new PbxError(
      'PBX_ERR_TRANSACTION_TIMERS',
      `t2Ms (${cfg.t2Ms}) must not be below t1Ms (${cfg.t1Ms})`,
    );
  }
  return cfg;
}

/**
 * Every §17 timer of one transaction in ms (RFC 3261 Table 4, RFC 6026 L and M). `undefined` means "not
 * started" (A, E, G on reliable transports); 0 means "fires at once" (D, I, J, K on reliable transports).
 */
export interface TimerDurations {
  readonly A: number | undefined;
  readonly B: number;
  readonly D: number;
  readonly E: number | undefined;
  readonly F: number;
  readonly G: number | undefined;
  readonly H: number;
  readonly I: number;
  readonly J: number;
  readonly K: number;
  readonly L: number;
  readonly M: number;
  /** The cap of the E and G back-off. */
  readonly T2: number;
}

/** The timer durations for a transaction over a reliable (tcp) or unreliable (udp) transport. */
export function timerDurations(cfg: TimerConfig, reliable: boolean): TimerDurations {
  const t1 = cfg.t1Ms;
  const retransmit = reliable ? undefined : t1;
  return {
    A: retransmit,
    B: 64 * t1,
    // Table 4: "> 32 s for UDP" by default; never below 64*T1 so it outlasts the server's Timer H.
    D: reliable ? 0 : Math.max(cfg.dMs, 64 * t1),
    E: retransmit,
    F: 64 * t1,
    G: retransmit,
    H: 64 * t1,
    I: reliable ? 0 : cfg.t4Ms,
    J: reliable ? 0 : 64 * t1,
    K: reliable ? 0 : cfg.t4Ms,
    L: 64 * t1,
    M: 64 * t1,
    T2: cfg.t2Ms,
  };
}

/** The named timers of one transaction; it owns their handles and clears them all on `stopAll`. */
export class TransactionTimers<N extends string> {
  private readonly running = new Map<N, TimerHandle>();

  constructor(private readonly clock: Clock) {}

  /** Starts (or restarts) `name`; a 0 ms timer (Table 4, reliable transports) fires at once, synchronously. */
  schedule(name: N, ms: number, fire: () => void): void {
    this.stop(name);
    if (ms === 0) {
      fire();
      return;
    }
    const handle = this.clock.setTimer(ms, () => {
      this.running.delete(name);
      fire();
    });
    this.running.set(name, handle);
  }

  /** Cancels the named timers; ones not running are ignored. */
  stop(...names: N[]): void {
    for (const name of names) {
      const handle = this.running.get(name);
      if (handle !== undefined) {
        this.clock.clearTimer(handle);
        this.running.delete(name);
      }
    }
  }

  /** Cancels every running timer of the transaction. */
  stopAll(): void {
    for (const handle of this.running.values()) this.clock.clearTimer(handle);
    this.running.clear();
  }
}
