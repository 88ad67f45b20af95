import type { Clock, TimerHandle } from '../../core/clock.js';

/**
 * Reports a session that received no RTP for `timeoutMs`, once. It samples a packet count every `checkMs`
 * instead of reading the clock per packet, so the hot path only increments a counter.
 */
export class InactivityMonitor {
  readonly #clock: Clock;
  readonly #checkMs: number;
  readonly #sample: () => number;
  readonly #onInactive: () => void;
  #timeoutMs = 0;
  #timer: TimerHandle | undefined;
  #lastCount = 0;
  #lastActiveAt = 0;

  constructor(clock: Clock, checkMs: number, sample: () => number, onInactive: () => void) {
    this.#clock = clock;
    this.#checkMs = Math.max(1, checkMs);
    this.#sample = sample;
    this.#onInactive = onInactive;
  }

  /** (Re)arms with a new timeout counted from now; 0 or less disarms (e.g. while a call is on hold). */
  arm(timeoutMs: number): void {
    this.stop();
    this.#timeoutMs = timeoutMs;
    if (timeoutMs <= 0) return;
    this.#lastCount = this.#sample();
    this.#lastActiveAt = this.#clock.now();
    this.#timer = this.#clock.setTimer(this.#checkMs, this.#check);
  }

  /** Cancels the check; idempotent. */
  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #check = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    const count = this.#sample();
    if (count !== this.#lastCount) {
      this.#lastCount = count;
      this.#lastActiveAt = now;
    } else if (now - this.#lastActiveAt >= this.#timeoutMs) {
      this.#onInactive();
      return;
    }
    this.#timer = this.#clock.setTimer(this.#checkMs, this.#check);
  };
}
