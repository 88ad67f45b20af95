import type { ClientTransactionUser } from './types.js';

/**
 * The user of a released client transaction (`ClientTransaction.release()`): it takes whatever the
 * transaction still passes up and drops it, so a transaction running out Timer M (32 s) or Timer K no
 * longer keeps its call, and everything the call holds, alive.
 */
export const RELEASED: ClientTransactionUser = {
  onResponse: () => undefined,
  onTimeout: () => undefined,
  onTransportError: () => undefined,
};
