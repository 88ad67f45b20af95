/** The non-INVITE client transaction (RFC 3261 §17.1.2). */
import type { Clock } from '../core/clock.js';
import type { SipRequest, SipResponse } from '../sip/index.js';
import { assertNever } from './fsm.js';
import type { ResponseInput, TransactionLink, TransportErrorInput } from './fsm.js';
import { TransactionTimers } from './timers.js';
import type { TimerDurations } from './timers.js';
import { IGNORING_USER } from './ignoring-user.js';
import type { ClientTransactionUser, Destination, NonInviteClientTransaction } from './types.js';

/** States of Figure 6 (RFC 3261 §17.1.2.2). */
export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** Inputs of the non-INVITE client transaction, named after the RFC. */
export type NonInviteClientInput =
  | ResponseInput
  | { readonly type: 'timerE' }
  | { readonly type: 'timerF' }
  | { readonly type: 'timerK' }
  | TransportErrorInput;

type Timer = 'E' | 'F' | 'K';

/** One non-INVITE client transaction; it is also the `NonInviteClientTransaction` handed to the TU. */
export class NonInviteClient implements NonInviteClientTransaction {
  readonly kind = 'nonInvite';
  #state: NonInviteClientState = 'trying';
  #intervalE: number;
  readonly #timers: TransactionTimers<Timer>;

  constructor(
    readonly id: string,
    readonly request: SipRequest,
    readonly destination: Destination,
    private readonly durations: TimerDurations,
    clock: Clock,
    private user: ClientTransactionUser,
    private readonly link: TransactionLink,
  ) {
    this.#timers = new TransactionTimers(clock);
    this.#intervalE = durations.E ?? 0;
  }

  /** The current state. */
  get state(): NonInviteClientState {
    return this.#state;
  }

  /** §17.1.2.2: Trying is entered by sending the request, starting Timer F and Timer E (unreliable only). */
  start(): void {
    this.link.send(this.request);
    if (this.durations.E !== undefined) this.armE();
    this.#timers.schedule('F', this.durations.F, () => this.handle({ type: 'timerF' }));
  }

  /** Feeds one input to the state machine. */
  handle(input: NonInviteClientInput): void {
    switch (this.#state) {
      case 'trying':
        return this.trying(input);
      case 'proceeding':
        return this.proceeding(input);
      case 'completed':
        return this.completed(input);
      case 'terminated':
        return; // §17.1.2.2: a terminated transaction is gone; nothing reaches it any more
      default:
        return assertNever(this.#state);
    }
  }

  /** Stops every timer and goes quiet without telling anyone (layer shutdown). */
  dispose(): void {
    this.#timers.stopAll();
    this.#state = 'terminated';
  }

  /** The TU is done with this transaction: nothing is passed up any more, and the TU is no longer referenced. */
  release(): void {
    this.user = IGNORING_USER;
  }

  private trying(input: NonInviteClientInput): void {
    switch (input.type) {
      case 'timerE': // §17.1.2.2: retransmit, Timer E = min(2*E, T2)
        this.link.send(this.request);
        this.#intervalE = Math.min(2 * this.#intervalE, this.durations.T2);
        return this.armE();
      case 'response1xx': // §17.1.2.2: provisional in Trying -> pass it up, Proceeding
        this.#state = 'proceeding';
        return this.user.onResponse(input.response, this);
      case 'response2xx': // §17.1.2.2: final (200-699) in Trying -> pass it up, Completed
      case 'response300to699':
        return this.enterCompleted(input.response);
      case 'timerF': // §17.1.2.2: Timer F in Trying -> inform the TU of the timeout, Terminated
        return this.timeout();
      case 'transportError': // §17.1.2.2 (Figure 6): transport error in Trying -> inform the TU, Terminated
        return this.failTransport(input.error);
      case 'timerK': // not running in Trying
        return;
      default:
        return assertNever(input);
    }
  }

  private proceeding(input: NonInviteClientInput): void {
    switch (input.type) {
      case 'timerE': // §17.1.2.2: Timer E in Proceeding -> retransmit, reset E to T2
        this.link.send(this.request);
        this.#intervalE = this.durations.T2;
        return this.armE();
      case 'response1xx': // §17.1.2.2: further provisional responses are passed up
        return this.user.onResponse(input.response, this);
      case 'response2xx': // §17.1.2.2: final (200-699) in Proceeding -> pass it up, Completed
      case 'response300to699':
        return this.enterCompleted(input.response);
      case 'timerF': // §17.1.2.2: Timer F in Proceeding -> inform the TU of the timeout, Terminated
        return this.timeout();
      case 'transportError': // §17.1.2.2 (Figure 6): transport error in Proceeding -> inform the TU, Terminated
        return this.failTransport(input.error);
      case 'timerK': // not running in Proceeding
        return;
      default:
        return assertNever(input);
    }
  }

  private completed(input: NonInviteClientInput): void {
    switch (input.type) {
      case 'timerK': // §17.1.2.2: Timer K fires in Completed -> Terminated
        this.terminate();
        return this.forget();
      case 'response1xx': // §17.1.2.2: Completed buffers response retransmissions; they are absorbed
      case 'response2xx':
      case 'response300to699':
      case 'transportError': // Figure 6: nothing is sent in Completed; a late error is moot
      case 'timerE': // E and F were stopped on entering Completed
      case 'timerF':
        return;
      default:
        return assertNever(input);
    }
  }

  /** §17.1.2.2: final response -> passed up, Completed, Timer K (T4, 0 on reliable transports). */
  private enterCompleted(res: SipResponse): void {
    this.#state = 'completed';
    this.#timers.stop('E', 'F');
    this.user.onResponse(res, this);
    // Completed passes nothing more up (retransmissions are absorbed, errors moot): a TU that did not ask to
    // learn of Terminated is let go now rather than after Timer K.
    if (this.user.onTerminated === undefined) this.release();
    if (this.#state === 'completed') {
      this.#timers.schedule('K', this.durations.K, () => this.handle({ type: 'timerK' }));
    }
  }

  private armE(): void {
    this.#timers.schedule('E', this.#intervalE, () => this.handle({ type: 'timerE' }));
  }

  private timeout(): void {
    this.terminate();
    this.user.onTimeout(this);
    this.forget();
  }

  private failTransport(error: Error): void {
    this.terminate();
    this.user.onTransportError(error, this);
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
    this.user.onTerminated?.(this);
  }
}
