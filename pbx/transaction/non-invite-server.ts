/** The non-INVITE server transaction (RFC 3261 §17.2.2). */
import type { Clock } from '../core/clock.js';
import type { MessageSource, SipRequest, SipResponse } from '../sip/index.js';
import { Listeners, assertNever, tuResponseInput } from './fsm.js';
import type { TransactionLink, TransportErrorInput, TuResponseInput } from './fsm.js';
import { TransactionTimers } from './timers.js';
import type { TimerDurations } from './timers.js';
import type { Destination, NonInviteServerTransaction, ServerTransaction } from './types.js';

/** States of Figure 8 (RFC 3261 §17.2.2). */
export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** Inputs of the non-INVITE server transaction, named after the RFC. */
export type NonInviteServerInput =
  { readonly type: 'request' } | TuResponseInput | { readonly type: 'timerJ' } | TransportErrorInput;

/** One non-INVITE server transaction; it is also the `NonInviteServerTransaction` handed to the TU. */
export class NonInviteServer implements NonInviteServerTransaction {
  readonly kind = 'nonInvite';
  #state: NonInviteServerState = 'trying';
  #lastResponse: SipResponse | undefined;
  readonly #timers: TransactionTimers<'J'>;
  readonly #terminated = new Listeners<[ServerTransaction]>();
  readonly #transportError = new Listeners<[Error, ServerTransaction]>();

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly source: MessageSource,
    readonly destination: Destination,
    private readonly durations: TimerDurations,
    clock: Clock,
    private readonly link: TransactionLink,
  ) {
    this.#timers = new TransactionTimers(clock);
  }

  /** The current state. */
  get state(): NonInviteServerState {
    return this.#state;
  }

  /** The last response sent. */
  get lastResponse(): SipResponse | undefined {
    return this.#lastResponse;
  }

  /** Hands a TU response to the state machine. */
  respond(res: SipResponse): void {
    this.handle(tuResponseInput(res));
  }

  /** Registers a callback for Terminated. */
  onTerminated(cb: (tx: ServerTransaction) => void): void {
    this.#terminated.add(cb);
  }

  /** Registers a callback for a failed send (§17.2.4). */
  onTransportError(cb: (err: Error, tx: ServerTransaction) => void): void {
    this.#transportError.add(cb);
  }

  /** Feeds one input to the state machine. */
  handle(input: NonInviteServerInput): void {
    switch (this.#state) {
      case 'trying':
        return this.trying(input);
      case 'proceeding':
        return this.proceeding(input);
      case 'completed':
        return this.completed(input);
      case 'terminated':
        return; // §17.2.2: a terminated transaction is gone; nothing reaches it any more
      default:
        return assertNever(this.#state);
    }
  }

  /** Stops every timer and goes quiet without telling anyone (layer shutdown). */
  dispose(): void {
    this.#timers.stopAll();
    this.#state = 'terminated';
  }

  private trying(input: NonInviteServerInput): void {
    switch (input.type) {
      case 'request': // §17.2.2: retransmissions in Trying are discarded (there is no response yet)
        return;
      case 'tuResponse1xx': // §17.2.2: provisional from the TU -> send it, Proceeding
        this.#state = 'proceeding';
        return this.send(input.response);
      case 'tuResponse2xx': // §17.2.2: final (200-699) from the TU -> send it, Completed, Timer J
      case 'tuResponse300to699':
        return this.enterCompleted(input.response);
      case 'transportError': // §17.2.4: inform the TU, Terminated (nothing is sent in Trying; kept for safety)
        return this.failTransport(input.error);
      case 'timerJ': // not running in Trying
        return;
      default:
        return assertNever(input);
    }
  }

  private proceeding(input: NonInviteServerInput): void {
    switch (input.type) {
      case 'request': // §17.2.2: retransmission in Proceeding -> resend the last provisional response
        return this.resendLast();
      case 'tuResponse1xx': // §17.2.2: further provisional responses are sent
        return this.send(input.response);
      case 'tuResponse2xx': // §17.2.2: final (200-699) from the TU -> send it, Completed, Timer J
      case 'tuResponse300to699':
        return this.enterCompleted(input.response);
      case 'transportError': // §17.2.2 (Figure 8), §17.2.4: transport error -> inform the TU, Terminated
        return this.failTransport(input.error);
      case 'timerJ': // not running in Proceeding
        return;
      default:
        return assertNever(input);
    }
  }

  private completed(input: NonInviteServerInput): void {
    switch (input.type) {
      case 'request': // §17.2.2: retransmission in Completed -> resend the final response
        return this.resendLast();
      case 'timerJ': // §17.2.2: Timer J fires -> Terminated
        this.terminate();
        return this.forget();
      case 'transportError': // §17.2.2 (Figure 8), §17.2.4: transport error -> inform the TU, Terminated
        return this.failTransport(input.error);
      case 'tuResponse1xx': // §17.2.2: any other TU response after the final is discarded
      case 'tuResponse2xx':
      case 'tuResponse300to699':
        return;
      default:
        return assertNever(input);
    }
  }

  /** §17.2.2: final sent -> Completed, Timer J (64*T1, 0 on reliable transports). */
  private enterCompleted(res: SipResponse): void {
    this.#state = 'completed';
    this.send(res);
    this.#timers.schedule('J', this.durations.J, () => this.handle({ type: 'timerJ' }));
  }

  private send(res: SipResponse): void {
    this.#lastResponse = res;
    this.link.send(res);
  }

  private resendLast(): void {
    if (this.#lastResponse !== undefined) this.link.send(this.#lastResponse);
  }

  private failTransport(error: Error): void {
    this.terminate();
    this.#transportError.emit(error, this);
    this.forget();
  }

  /** Enters Terminated: timers stop at once, so a TU callback can never observe a live timer. */
  private terminate(): void {
    this.#state = 'terminated';
    this.#timers.stopAll();
  }

  /** The layer forgets the transaction and the TU learns it is over. */
  private forget(): void {
    this.link.terminated();
    this.#terminated.emit(this);
  }
}
