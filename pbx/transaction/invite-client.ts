/** The INVITE client transaction: RFC 3261 §17.1.1 with the RFC 6026 §7.2 Accepted state. */
import type { Clock } from '../core/clock.js';
import type { SipRequest, SipResponse } from '../sip/index.js';
import { assertNever } from './fsm.js';
import type { ResponseInput, TransactionLink, TransportErrorInput } from './fsm.js';
import { buildAck } from './requests.js';
import { TransactionTimers } from './timers.js';
import type { TimerDurations } from './timers.js';
import { IGNORING_USER } from './ignoring-user.js';
import type { ClientTransactionUser, Destination, InviteClientTransaction } from './types.js';

/** States of Figure 5 (RFC 3261 §17.1.1.2) plus Accepted (RFC 6026 §7.2). */
export type InviteClientState = 'calling' | 'proceeding' | 'accepted' | 'completed' | 'terminated';

/** Inputs of the INVITE client transaction, named after the RFC. */
export type InviteClientInput =
  | ResponseInput
  | { readonly type: 'timerA' }
  | { readonly type: 'timerB' }
  | { readonly type: 'timerD' }
  | { readonly type: 'timerM' }
  | TransportErrorInput;

type Timer = 'A' | 'B' | 'D' | 'M';

/** One INVITE client transaction; it is also the `InviteClientTransaction` handed to the TU. */
export class InviteClient implements InviteClientTransaction {
  readonly kind = 'invite';
  #state: InviteClientState = 'calling';
  #intervalA: number;
  #ack: SipRequest | undefined;
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
    this.#intervalA = durations.A ?? 0;
  }

  /** The current state. */
  get state(): InviteClientState {
    return this.#state;
  }

  /** §17.1.1.2: Calling is entered by sending the INVITE, starting Timer A (unreliable only) and Timer B. */
  start(): void {
    this.link.send(this.request);
    if (this.durations.A !== undefined) this.armA();
    this.#timers.schedule('B', this.durations.B, () => this.handle({ type: 'timerB' }));
  }

  /** Feeds one input to the state machine. */
  handle(input: InviteClientInput): void {
    switch (this.#state) {
      case 'calling':
        return this.calling(input);
      case 'proceeding':
        return this.proceeding(input);
      case 'accepted':
        return this.accepted(input);
      case 'completed':
        return this.completed(input);
      case 'terminated':
        return; // §17.1.1.2: a terminated transaction is gone; nothing reaches it any more
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

  private calling(input: InviteClientInput): void {
    switch (input.type) {
      case 'timerA': // §17.1.1.2: retransmit, reset Timer A to twice its value (no T2 cap for INVITE)
        this.link.send(this.request);
        this.#intervalA *= 2;
        return this.armA();
      case 'timerB': // §17.1.1.2: Timer B fires in Calling -> inform the TU of the timeout, Terminated
        this.terminate();
        this.user.onTimeout(this);
        return this.forget();
      case 'response1xx': // §17.1.1.2: 1xx in Calling -> Proceeding, pass it up; no more retransmissions
        this.#state = 'proceeding';
        this.#timers.stop('A', 'B');
        return this.user.onResponse(input.response, this);
      case 'response2xx': // RFC 6026 §7.2: 2xx -> pass it up, Accepted, Timer M
        return this.enterAccepted(input.response);
      case 'response300to699': // §17.1.1.2: 300-699 -> ACK, pass it up, Completed
        return this.enterCompleted(input.response);
      case 'transportError': // §17.1.1.2 (Figure 5): transport error in Calling -> inform the TU, Terminated
        return this.failTransport(input.error);
      case 'timerD': // not running in Calling
      case 'timerM':
        return;
      default:
        return assertNever(input);
    }
  }

  private proceeding(input: InviteClientInput): void {
    switch (input.type) {
      case 'response1xx': // §17.1.1.2: further provisional responses are passed up
        return this.user.onResponse(input.response, this);
      case 'response2xx': // RFC 6026 §7.2: 2xx in Proceeding -> pass it up, Accepted, Timer M
        return this.enterAccepted(input.response);
      case 'response300to699': // §17.1.1.2: 300-699 in Proceeding -> ACK, pass it up, Completed
        return this.enterCompleted(input.response);
      case 'transportError': // Figure 5: nothing is sent in Proceeding; a late error of the INVITE is moot
      case 'timerA': // §17.1.1.2: A and B were stopped on entering Proceeding
      case 'timerB':
      case 'timerD':
      case 'timerM':
        return;
      default:
        return assertNever(input);
    }
  }

  private accepted(input: InviteClientInput): void {
    switch (input.type) {
      case 'response2xx': // RFC 6026 §7.2: retransmitted (or forked) 2xx in Accepted -> pass it up
        return this.user.onResponse(input.response, this);
      case 'timerM': // RFC 6026 §7.2: Timer M fires -> Terminated
        this.terminate();
        return this.forget();
      case 'response1xx': // RFC 6026 §7.2 (Figure 5): only 2xx is passed up in Accepted; others absorbed
      case 'response300to699':
      case 'transportError': // the transaction sends nothing in Accepted (the TU sends the ACK for 2xx)
      case 'timerA':
      case 'timerB':
      case 'timerD':
        return;
      default:
        return assertNever(input);
    }
  }

  private completed(input: InviteClientInput): void {
    switch (input.type) {
      case 'response300to699': // §17.1.1.2: retransmitted final in Completed -> resend the ACK, not passed up
        if (this.#ack !== undefined) this.link.send(this.#ack);
        return;
      case 'timerD': // §17.1.1.2: Timer D fires in Completed -> Terminated
        this.terminate();
        return this.forget();
      case 'transportError': // §17.1.1.2 (Figure 5): transport error in Completed -> inform the TU, Terminated
        return this.failTransport(input.error);
      case 'response1xx': // §17.1.1.2: only the final response is absorbed; anything else is stale
      case 'response2xx':
      case 'timerA':
      case 'timerB':
      case 'timerM':
        return;
      default:
        return assertNever(input);
    }
  }

  /** RFC 6026 §7.2: 2xx -> Accepted, Timer M = 64*T1, response passed to the TU. */
  private enterAccepted(res: SipResponse): void {
    this.#state = 'accepted';
    this.#timers.stop('A', 'B');
    this.#timers.schedule('M', this.durations.M, () => this.handle({ type: 'timerM' }));
    this.user.onResponse(res, this);
  }

  /** §17.1.1.2/§17.1.1.3: 300-699 -> ACK sent, response passed up, Completed, Timer D (0 on reliable). */
  private enterCompleted(res: SipResponse): void {
    this.#state = 'completed';
    this.#timers.stop('A', 'B');
    this.#ack = buildAck(this.request, res);
    this.link.send(this.#ack);
    this.user.onResponse(res, this);
    if (this.#state === 'completed') {
      this.#timers.schedule('D', this.durations.D, () => this.handle({ type: 'timerD' }));
    }
  }

  private armA(): void {
    this.#timers.schedule('A', this.#intervalA, () => this.handle({ type: 'timerA' }));
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
