/** Pieces shared by the four §17 state machines: input classes, the link to the layer, TU listeners. */
import { PbxError } from '../core/errors.js';
import type { SipMessage, SipResponse } from '../sip/index.js';

/** Makes a missing `case` in an exhaustive state-machine switch a compile error. */
export function assertNever(value: never): never {
  throw new PbxError('PBX_ERR_TRANSACTION_STATE', `unhandled state machine value ${JSON.stringify(value)}`);
}

/** A received response as a client transaction input, classed as in RFC 3261 §17.1.1.2 and §17.1.2.2. */
export type ResponseInput =
  | { readonly type: 'response1xx'; readonly response: SipResponse }
  | { readonly type: 'response2xx'; readonly response: SipResponse }
  | { readonly type: 'response300to699'; readonly response: SipResponse };

/** Classes a received response by status code. */
export function responseInput(response: SipResponse): ResponseInput {
  if (response.status < 200) return { type: 'response1xx', response };
  if (response.status < 300) return { type: 'response2xx', response };
  return { type: 'response300to699', response };
}

/** A response handed down by the TU as a server transaction input (RFC 3261 §17.2.1, §17.2.2). */
export type TuResponseInput =
  | { readonly type: 'tuResponse1xx'; readonly response: SipResponse }
  | { readonly type: 'tuResponse2xx'; readonly response: SipResponse }
  | { readonly type: 'tuResponse300to699'; readonly response: SipResponse };

/** Classes a TU response by status code. */
export function tuResponseInput(response: SipResponse): TuResponseInput {
  if (response.status < 200) return { type: 'tuResponse1xx', response };
  if (response.status < 300) return { type: 'tuResponse2xx', response };
  return { type: 'tuResponse300to699', response };
}

/** The transport reported that a message of this transaction could not be sent (§17.1.4, §17.2.4). */
export type TransportErrorInput = { readonly type: 'transportError'; readonly error: Error };

/** What a transaction needs from its layer: a way out to the transport and a way to be forgotten. */
export interface TransactionLink {
  /** Serializes and sends a message; a failure comes back later as a `transportError` input. */
  send(msg: SipMessage): void;
  /** Called once when the transaction reaches Terminated, so the layer stops matching it. */
  terminated(): void;
}

/** Callbacks registered by a TU; emitting calls them in registration order. */
export class Listeners<A extends unknown[]> {
  private readonly fns: ((...args: A) => void)[] = [];

  /** Registers a callback. */
  add(fn: (...args: A) => void): void {
    this.fns.push(fn);
  }

  /** Calls every registered callback. */
  emit(...args: A): void {
    for (const fn of [...this.fns]) fn(...args);
  }
}
