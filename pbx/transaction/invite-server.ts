/** The INVITE server transaction: RFC 3261 §17.2.1 with the RFC 6026 §7.1 Accepted state. */
import type { Clock } from '../core/clock.js';
import { createResponse } from '../sip/index.js';
import type { MessageSource, SipRequest, SipResponse } from '../sip/index.js';
import { Listeners, assertNever, tuResponseInput } from './fsm.js';
import type { TransactionLink, TransportErrorInput, TuResponseInput } from './fsm.js';
import { TRYING_DELAY_MS, TransactionTimers } from './timers.js';
import type { TimerDurations } from './timers.js';
import type { Destination, InviteServerTransaction, ServerTransaction } from './types.js';

/** States of Figure 7 (RFC 3261 §17.2.1) plus Accepted (RFC 6026 §7.1). */
export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** Inputs of the INVITE server transaction, named after the RFC. */
export type InviteServerInput =
  | { readonly type: 'request' }
  | { readonly type: 'ack' }
  | TuResponseInput
  | { readonly type: 'timerTrying' }
  | { readonly type: 'timerG' }
  | { readonly type: 'timerH' }
  | { readonly type: 'timerI' }
  | { readonly type: 'timerL' }
  | TransportErrorInput;

type Timer = 'trying' | 'G' | 'H' | 'I' | 'L';

/**
 * One INVITE server transaction; it is also the `InviteServerTransaction` handed to the TU. The TU
 * normally sends 100 Trying at once; if it has not responded within 200 ms the transaction sends one
 * itself (§17.2.1). The TU, not the transaction, retransmits a 2xx (RFC 6026 §7.1).
 */
export class InviteServer implements InviteServerTransaction {
  readonly kind = 'invite';
  #state: InviteServerState = 'proceeding';
  #lastResponse: SipResponse | undefined;
  #intervalG: number;
  readonly #timers: TransactionTimers<Timer>;
  readonly #terminated = new Listeners<[ServerTransaction]>();
  readonly #transportError = new Listeners<[Error, ServerTransaction]>();
  readonly #timeoutNoAck = new Listeners<[InviteServerTransaction]>();

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
    this.#intervalG = durations.G ?? 0;
  }

  /** The current state. */
  get state(): InviteServerState {
    return this.#state;
  }

  /** The last response sent. */
  get lastResponse(): SipResponse | undefined {
    return this.#lastResponse;
  }

  /** §17.2.1: Proceeding is entered when the INVITE is passed to the TU; the 200 ms Trying timer starts. */
  start(): void {
    this.#timers.schedule('trying', TRYING_DELAY_MS, () => this.handle({ type: 'timerTrying' }));
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

  /** Registers a callback for Timer H (no ACK for the non-2xx final, §17.2.1). */
  onTimeoutNoAck(cb: (tx: InviteServerTransaction) => void): void {
    this.#timeoutNoAck.add(cb);
  }

  /** Feeds one input to the state machine. */
  handle(input: InviteServerInput): void {
    switch (this.#state) {
      case 'proceeding':
        return this.proceeding(input);
      case 'completed':
        return this.completed(input);
      case 'confirmed':
        return this.confirmed(input);
      case 'accepted':
        return this.accepted(input);
      case 'terminated':
        return; // §17.2.1: a terminated transaction is gone; nothing reaches it any more
      default:
        return assertNever(this.#state);
    }
  }

  /** Stops every timer and goes quiet without telling anyone (layer shutdown). */
  dispose(): void {
    this.#timers.stopAll();
    this.#state = 'terminated';
  }

  private proceeding(input: InviteServerInput): void {
    switch (input.type) {
      case 'request': // §17.2.1: retransmitted INVITE in Proceeding -> resend the last provisional response
        return this.resendLast();
      case 'timerTrying': // §17.2.1: the TU did not respond within 200 ms -> send 100 Trying
        return this.send(createResponse(this.request, 100));
      case 'tuResponse1xx': // §17.2.1: provisional from the TU -> send it, stay in Proceeding
        return this.send(input.response);
      case 'tuResponse2xx': // RFC 6026 §7.1: 2xx from the TU -> send it, Accepted, Timer L
        return this.enterAccepted(input.response);
      case 'tuResponse300to699': // §17.2.1: 300-699 from the TU -> send it, Completed, Timers G and H
        return this.enterCompleted(input.response);
      case 'transportError': // §17.2.1 (Figure 7), §17.2.4: transport error -> inform the TU, Terminated
        return this.failTransport(input.error);
      case 'ack': // no final response was sent yet: there is nothing this ACK could acknowledge
      case 'timerG': // G, H, I and L are not running in Proceeding
      case 'timerH':
      case 'timerI':
      case 'timerL':
        return;
      default:
        return assertNever(input);
    }
  }

  private completed(input: InviteServerInput): void {
    switch (input.type) {
      case 'request': // §17.2.1: retransmitted INVITE in Completed -> resend the final response
        return this.resendLast();
      case 'timerG': // §17.2.1: Timer G -> resend the final response, G = min(2*G, T2)
        this.resendLast();
        this.#intervalG = Math.min(2 * this.#intervalG, this.durations.T2);
        return this.armG();
      case 'ack': // §17.2.1: ACK in Completed -> Confirmed, Timer I (T4, 0 on reliable transports)
        return this.enterConfirmed();
      case 'timerH': // §17.2.1: Timer H -> the ACK never came: inform the TU, Terminated
        this.terminate();
        this.#timeoutNoAck.emit(this);
        return this.forget();
      case 'transportError': // §17.2.1 (Figure 7), §17.2.4: transport error -> inform the TU, Terminated
        return this.failTransport(input.error);
      case 'tuResponse1xx': // §17.2.1: the final response is sent; later TU responses are ignored
      case 'tuResponse2xx':
      case 'tuResponse300to699':
      case 'timerTrying': // stopped by the final response
      case 'timerI': // not running in Completed
      case 'timerL':
        return;
      default:
        return assertNever(input);
    }
  }

  private confirmed(input: InviteServerInput): void {
    switch (input.type) {
      case 'timerI': // §17.2.1: Timer I fires in Confirmed -> Terminated
        this.terminate();
        return this.forget();
      case 'request': // §17.2.1: Confirmed absorbs retransmitted INVITEs and ACKs without a response
      case 'ack':
      case 'tuResponse1xx': // the final response is sent; later TU responses are ignored
      case 'tuResponse2xx':
      case 'tuResponse300to699':
      case 'transportError': // Figure 7: nothing is sent in Confirmed; a late error is moot
      case 'timerTrying':
      case 'timerG':
      case 'timerH':
      case 'timerL':
        return;
      default:
        return assertNever(input);
    }
  }

  private accepted(input: InviteServerInput): void {
    switch (input.type) {
      case 'tuResponse2xx': // RFC 6026 §7.1: a 2xx retransmission from the TU is passed to the transport
        return this.send(input.response);
      case 'timerL': // RFC 6026 §7.1: Timer L fires -> Terminated
        this.terminate();
        return this.forget();
      case 'transportError': // §17.2.4: inform the TU; stay Accepted to keep absorbing retransmitted INVITEs
        return this.#transportError.emit(input.error, this);
      case 'request': // RFC 6026 §7.1: retransmitted INVITE in Accepted is absorbed (the TU resends the 2xx)
      case 'ack': // RFC 6026 §7.1: the ACK is passed to the TU (the layer answers 'ack2xx'); stay Accepted
      case 'tuResponse1xx': // no provisional or non-2xx final after a 2xx
      case 'tuResponse300to699':
      case 'timerTrying':
      case 'timerG':
      case 'timerH':
      case 'timerI':
        return;
      default:
        return assertNever(input);
    }
  }

  /** RFC 6026 §7.1: 2xx sent -> Accepted, Timer L = 64*T1. */
  private enterAccepted(res: SipResponse): void {
    this.#state = 'accepted';
    this.send(res);
    this.#timers.schedule('L', this.durations.L, () => this.handle({ type: 'timerL' }));
  }

  /** §17.2.1: 300-699 sent -> Completed, Timer G (unreliable only) and Timer H = 64*T1. */
  private enterCompleted(res: SipResponse): void {
    this.#state = 'completed';
    this.send(res);
    if (this.durations.G !== undefined) this.armG();
    this.#timers.schedule('H', this.durations.H, () => this.handle({ type: 'timerH' }));
  }

  /** §17.2.1: ACK -> Confirmed; G and H stop; Timer I (0 on reliable transports). */
  private enterConfirmed(): void {
    this.#state = 'confirmed';
    this.#timers.stop('G', 'H');
    this.#timers.schedule('I', this.durations.I, () => this.handle({ type: 'timerI' }));
  }

  private armG(): void {
    this.#timers.schedule('G', this.#intervalG, () => this.handle({ type: 'timerG' }));
  }

  /** Sends a response and remembers it for retransmissions; any response ends the 200 ms Trying wait. */
  private send(res: SipResponse): void {
    this.#timers.stop('trying');
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
