/** What every call of the B2BUA shares: the transaction layer, addresses, media, events, timers. */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { IdSource } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { LocalAddress, SessionTimerConfig } from '../dialog/index.js';
import type { EventSink, CallResult } from '../events/index.js';
import type { SipResponse } from '../sip/index.js';
import type { Destination, ServerTransaction, TransactionLayer } from '../transaction/index.js';
import type { CallMediaOptions } from './media.js';

/** Counters and histograms the B2BUA updates (the metrics layer implements them). */
export interface B2buaMetrics {
  inviteTo100(seconds: number): void;
  callEnded(result: CallResult): void;
}

/** B2BUA timers, in milliseconds. */
export interface B2buaTimers {
  readonly t1Ms: number;
  readonly t2Ms: number;
  /** Ring time before the B2BUA gives up: CANCEL to the callee, 480 to the caller. */
  readonly noAnswerMs: number;
}

/** The shared dependencies of calls. */
export interface B2buaContext {
  readonly clock: Clock;
  /** Wall-clock milliseconds since the epoch, for event and CDR times. */
  wallClock(): number;
  readonly ids: IdSource;
  readonly transactions: TransactionLayer;
  /** How we address ourselves per transport (Via, Contact). */
  readonly local: Readonly<Record<'udp' | 'tcp', LocalAddress>>;
  readonly tcpAvailable: boolean;
  /** Sends a response through its server transaction (and counts it). */
  respond(tx: ServerTransaction, res: SipResponse): void;
  /** Sends raw bytes outside any transaction (the ACK for a 2xx, §13.2.2.4). */
  send(data: Buffer, dest: Destination): Promise<void>;
  readonly media: CallMediaOptions;
  readonly events: EventSink;
  readonly metrics: B2buaMetrics;
  readonly timers: B2buaTimers;
  /** RFC 4028 session timers on both legs (`sip.sessionTimers`). */
  readonly sessionTimers: SessionTimerConfig;
  readonly logger: Logger;
  readonly userAgent: string;
}

/** A timer owned by a call: cleared when replaced or when the call closes. */
export class CallTimer {
  #handle: TimerHandle | undefined;
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Starts (or restarts) the timer. */
  set(ms: number, fn: () => void): void {
    this.clear();
    this.#handle = this.#clock.setTimer(ms, () => {
      this.#handle = undefined;
      fn();
    });
  }

  /** Stops it; idempotent. */
  clear(): void {
    if (this.#handle !== undefined) this.#clock.clearTimer(this.#handle);
    this.#handle = undefined;
  }

  /** True while set and not fired. */
  get active(): boolean {
    return this.#handle !== undefined;
  }
}
