import type { ClientTransactionUser } from './types.js';

/**
 * A transaction user that takes whatever its transaction passes up and drops it: for requests whose outcome
 * nobody waits for (a CANCEL, the BYEs that end a call), and what a released client transaction
 * (`ClientTransaction.release()`) passes up to, so a transaction running out Timer M (32 s) or Timer K no
 * longer keeps its call, and everything the call holds, alive.
 */
export const IGNORING_USER: ClientTransactionUser = {
  onResponse: () => undefined,
  onTimeout: () => undefined,
  onTransportError: () => undefined,
};
