/** The public contract of the transaction layer: what TUs (dialog, b2bua) see. */
import type { Clock } from '../core/clock.js';
import type { MessageSource, SipRequest, SipResponse } from '../sip/index.js';
import type { InviteClientState } from './invite-client.js';
import type { InviteServerState } from './invite-server.js';
import type { NonInviteClientState } from './non-invite-client.js';
import type { NonInviteServerState } from './non-invite-server.js';

/** Where a message is sent; the transport's destination shape (RFC 3261 §18). */
export interface Destination {
  readonly transport: 'udp' | 'tcp';
  readonly address: string;
  readonly port: number;
  /** TCP only: the connection to reuse (responses go back on the request's connection, §18.2.2). */
  readonly connectionId?: number;
}

/** Sends serialized bytes; rejects (with the transport's PbxError) when they cannot be sent. */
export type SendFunction = (data: Buffer, dest: Destination) => Promise<void>;

/** Options of `createTransactionLayer`. */
export interface TransactionLayerOptions {
  readonly clock: Clock;
  readonly send: SendFunction;
  /** T1/T2/T4 overrides (defaults 500/4000/5000 ms, RFC 3261 §17.1.1.1). */
  readonly timers?: {
    readonly t1Ms?: number;
    readonly t2Ms?: number;
    readonly t4Ms?: number;
    /** Timer D on UDP (default 32 s, RFC 3261 Table 4). */
    readonly dMs?: number;
  };
}

/** The TU of a client transaction (RFC 3261 §17.1): learns about responses, timeouts and transport failures. */
export interface ClientTransactionUser {
  /** A response the transaction passes up (every 1xx, every 2xx — retransmissions too for INVITE — and the first non-2xx final). */
  onResponse(res: SipResponse, tx: ClientTransaction): void;
  /** Timer B or F fired: no final response (the TU treats it as 408, §8.1.3.1). */
  onTimeout(tx: ClientTransaction): void;
  /** The transport could not send the request (§17.1.4, §8.1.3.1: treat as 503). */
  onTransportError(err: Error, tx: ClientTransaction): void;
  /** The transaction reached Terminated and is forgotten. */
  onTerminated?(tx: ClientTransaction): void;
}

/** Fields every client transaction exposes. */
interface ClientTransactionBase {
  /** Match key: top Via branch and method (§17.1.3). */
  readonly id: string;
  readonly request: SipRequest;
  readonly destination: Destination;
  /**
   * The TU is done with the transaction (its call ended): the transaction runs out its timers and still
   * absorbs retransmissions, but passes nothing up and no longer references the TU. Idempotent.
   */
  release(): void;
}

/** An INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2). */
export interface InviteClientTransaction extends ClientTransactionBase {
  readonly kind: 'invite';
  readonly state: InviteClientState;
}

/** A non-INVITE client transaction (RFC 3261 §17.1.2). */
export interface NonInviteClientTransaction extends ClientTransactionBase {
  readonly kind: 'nonInvite';
  readonly state: NonInviteClientState;
}

/** Either client transaction. */
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

/** Fields and methods every server transaction exposes. */
interface ServerTransactionBase {
  /** Match key: branch, sent-by and method (§17.2.3), or the RFC 2543 fields when the branch has no cookie. */
  readonly id: string;
  readonly request: SipRequest;
  readonly source: MessageSource;
  /** Where responses go: `responseDestination(topVia(request), source)` (§18.2.2). */
  readonly destination: Destination;
  /** The last response sent, resent when the request is retransmitted. */
  readonly lastResponse: SipResponse | undefined;
  /** Hands a response from the TU to the transaction, which sends it as its state machine says. */
  respond(res: SipResponse): void;
  /** Called when the transaction reaches Terminated. */
  onTerminated(cb: (tx: ServerTransaction) => void): void;
  /** Called when a response could not be sent (§17.2.4); the transaction then terminates. */
  onTransportError(cb: (err: Error, tx: ServerTransaction) => void): void;
}

/** An INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1). */
export interface InviteServerTransaction extends ServerTransactionBase {
  readonly kind: 'invite';
  readonly state: InviteServerState;
  /** Timer H fired: the ACK for the non-2xx final response never came (§17.2.1). */
  onTimeoutNoAck(cb: (tx: InviteServerTransaction) => void): void;
}

/** A non-INVITE server transaction (RFC 3261 §17.2.2); CANCEL is one too. */
export interface NonInviteServerTransaction extends ServerTransactionBase {
  readonly kind: 'nonInvite';
  readonly state: NonInviteServerState;
}

/** Either server transaction. */
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

/** What became of a received request (§17.2.3). */
export type RequestDisposition =
  /** A new transaction: the TU must handle the request and respond through `tx`. */
  | { readonly kind: 'new'; readonly tx: ServerTransaction }
  /** A retransmission, absorbed; the transaction resent its last response if its state says so. */
  | { readonly kind: 'retransmission' }
  /** The ACK for a non-2xx final response, absorbed by the INVITE server transaction. */
  | { readonly kind: 'ack' }
  /** An ACK for a 2xx (no transaction, or one in Accepted, RFC 6026 §7.1): the dialog layer takes it. */
  | { readonly kind: 'ack2xx' };

/** Live transaction counts. */
export interface TransactionCounts {
  readonly client: number;
  readonly server: number;
}

/** The RFC 3261 §17 transaction layer: matches messages to transactions and runs their timers. */
export interface TransactionLayer {
  /** Starts a client transaction; `req` carries its top Via with a z9hG4bK branch. ACK is refused (§17.1.1.3, §13.2.2.4). */
  sendRequest(req: SipRequest, dest: Destination, user: ClientTransactionUser): ClientTransaction;
  /** Matches a response to a client transaction (§17.1.3); false (and stray handlers called) when none matches. */
  receiveResponse(res: SipResponse): boolean;
  /** Registers a handler for responses no client transaction matched (e.g. 2xx retransmissions to re-ACK). */
  onStrayResponse(handler: (res: SipResponse) => void): void;
  /** Matches a request to a server transaction (§17.2.3), creating one for a new request other than ACK. */
  receiveRequest(req: SipRequest, source: MessageSource): RequestDisposition;
  /** The INVITE server transaction a CANCEL cancels (§9.2), or undefined. */
  findInviteServerTransaction(cancel: SipRequest): InviteServerTransaction | undefined;
  /** Transactions still without a final response: a process that stops now would cut them off. */
  unanswered(): number;
  /** True when a request (not ACK) matches a live server transaction: it is a retransmission (§17.2.3). */
  isKnown(req: SipRequest): boolean;
  /** Live transactions. */
  size(): TransactionCounts;
  /** Clears every timer and forgets every transaction, without callbacks. */
  stop(): void;
}

/**
 * The transaction user (RFC 3261 §6 "TU"): what the SIP stack hands new server transactions and 2xx ACKs
 * to (the B2BUA).
 */
export interface TransactionUser {
  /** A new server transaction; the user must respond through `tx.respond`. */
  onRequest(tx: ServerTransaction, req: SipRequest): void;
  /**
   * Admission of a new out-of-dialog INVITE before any transaction state exists (floods cost no
   * state): undefined to accept, 'drop' to ignore it, or a rejection answered statelessly.
   */
  screen?(req: SipRequest, source: MessageSource): undefined | 'drop' | SipResponse;
  /** An ACK that matched no transaction: the ACK for a 2xx, end to end (RFC 3261 §17.2.3, RFC 6026). */
  onAck(req: SipRequest, source: MessageSource): void;
}
