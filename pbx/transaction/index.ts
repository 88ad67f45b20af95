/** RFC 3261 §17 transactions: the four state machines and the layer that matches messages to them. */
export { createTransactionLayer } from './layer.js';
export { createCancel } from './requests.js';
export { IGNORING_USER } from './ignoring-user.js';
export { DEFAULT_TIMER_CONFIG, TRYING_DELAY_MS } from './timers.js';
export type { TimerConfig } from './timers.js';
export type { InviteClientState } from './invite-client.js';
export type { NonInviteClientState } from './non-invite-client.js';
export type { InviteServerState } from './invite-server.js';
export type { NonInviteServerState } from './non-invite-server.js';
export type {
  ClientTransaction,
  ClientTransactionUser,
  Destination,
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  RequestDisposition,
  SendFunction,
  ServerTransaction,
  TransactionUser,
  TransactionCounts,
  TransactionLayer,
  TransactionLayerOptions,
} from './types.js';
