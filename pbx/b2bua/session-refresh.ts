/**
 * One leg's session liveness (RFC 4028 §10) on the injected clock. As the refresher we send a refresh at
 * half the interval (UPDATE when the peer allows it, RFC 4028 §7.4 prefers it; else re-INVITE); a refresh
 * that meets 408, 481, a timeout or a dead transport means the peer is gone (RFC 5057 §5.1) and the call
 * ends. As the other side we expect a refresh (any 2xx'd re-INVITE or UPDATE on the leg) and end the call
 * when none came by the expiry. The Call sends the requests; this only decides when and what.
 */
import type { Clock } from '../core/clock.js';
import { expiryDelayMs, minSe, refreshDelayMs, uacAgreed } from '../dialog/index.js';
import type { LegTimer } from '../dialog/index.js';
import type { SipResponse } from '../sip/index.js';
import { CallTimer } from './context.js';

/** How a refresh request we sent ended. */
export type RefreshOutcome =
  | { readonly kind: 'response'; readonly res: SipResponse }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'transportError' };

/** The refresh methods (§7.4). */
export type RefreshMethod = 'UPDATE' | 'INVITE';

/** What a LegSession needs from its call. */
export interface LegSessionHost {
  readonly clock: Clock;
  /** Sends a refresh on the leg asking for `intervalSeconds`; `done` gets its final outcome. False: not now (an offer is pending). */
  sendRefresh(
    method: RefreshMethod,
    intervalSeconds: number,
    done: (outcome: RefreshOutcome) => void,
  ): boolean;
  /** The peer is gone or the session expired: end the call (BYE both legs) with this CDR reason. */
  expired(reason: 'session-expired' | 'session-refresh-failed'): void;
}

/** Retry of a refresh that could not go now, or met 491 (RFC 3261 §14.1 waits 2.1-4 s; we take 2 s). */
const RETRY_MS = 2000;

/** One leg's session timer: armed after the INVITE's 2xx, re-armed by every refresh, closed with the call. */
export class LegSession {
  readonly #host: LegSessionHost;
  readonly #timer: CallTimer;
  #method: RefreshMethod;
  #agreed: LegTimer | undefined;
  /** Clock time after which the session has expired without a refresh. */
  #expiresAt = 0;
  #inFlight = false;
  #closed = false;

  constructor(host: LegSessionHost, peerAllowsUpdate: boolean) {
    this.#host = host;
    this.#timer = new CallTimer(host.clock);
    this.#method = peerAllowsUpdate ? 'UPDATE' : 'INVITE';
  }

  /** The agreed timer, undefined until the INVITE's 2xx. */
  get agreed(): LegTimer | undefined {
    return this.#agreed;
  }

  /** True while a refresh of ours waits for its final response (a re-INVITE from the peer gets 491). */
  get refreshing(): boolean {
    return this.#inFlight;
  }

  /** The session was set up or refreshed (a 2xx to INVITE, re-INVITE or UPDATE on this leg): re-arm. */
  refreshed(timer: LegTimer): void {
    if (this.#closed) return;
    this.#agreed = timer;
    this.#expiresAt = this.#host.clock.now() + expiryDelayMs(timer);
    if (timer.weRefresh) this.#timer.set(refreshDelayMs(timer), () => this.#refresh());
    else this.#timer.set(expiryDelayMs(timer), () => this.#expire());
  }

  /** Stops the timer; idempotent. */
  close(): void {
    this.#closed = true;
    this.#timer.clear();
  }

  #refresh(): void {
    const agreed = this.#agreed;
    if (this.#closed || agreed === undefined) return;
    const interval = agreed.intervalSeconds;
    const sent = this.#host.sendRefresh(this.#method, interval, (outcome) =>
      this.#onOutcome(outcome, interval),
    );
    if (sent) this.#inFlight = true;
    else this.#retry();
  }

  #onOutcome(outcome: RefreshOutcome, interval: number): void {
    this.#inFlight = false;
    if (this.#closed) return;
    if (outcome.kind !== 'response') return this.#host.expired('session-refresh-failed');
    this.#onResponse(outcome.res, interval);
  }

  #onResponse(res: SipResponse, interval: number): void {
    const status = res.status;
    if (status >= 200 && status < 300) return this.refreshed(uacAgreed(res, interval));
    if (status === 408 || status === 481) return this.#host.expired('session-refresh-failed');
    if (this.#method === 'UPDATE' && (status === 405 || status === 501)) {
      this.#method = 'INVITE'; // §7.4: a peer that does not take UPDATE gets re-INVITE
      return this.#refresh();
    }
    if (status === 422) {
      const floor = minSe(res);
      if (floor !== undefined && floor > interval && this.#agreed !== undefined) {
        this.#agreed = { ...this.#agreed, intervalSeconds: floor };
        return this.#refresh();
      }
    }
    // 491 and any other refusal: the peer is there; try again until the session runs out.
    this.#retry();
  }

  #retry(): void {
    const left = this.#expiresAt - this.#host.clock.now();
    if (left <= RETRY_MS) {
      this.#timer.set(Math.max(0, left), () => this.#expire());
      return;
    }
    this.#timer.set(RETRY_MS, () => this.#refresh());
  }

  #expire(): void {
    if (this.#closed) return;
    this.#host.expired(this.#agreed?.weRefresh === false ? 'session-expired' : 'session-refresh-failed');
  }
}
