/**
 * An error that retrying cannot fix (invalid spec, missing permission the operator will never get):
 * the controller logs it and forgets the key instead of requeueing it with backoff
 * (controller-runtime's `reconcile.TerminalError`).
 */
export class TerminalError extends Error {
  /** Stable code, as every sippbx error carries one. */
  readonly code = 'PBX_ERR_OPERATOR_TERMINAL';

  /** Wraps `cause` (optional) with a message that says why retrying is useless. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** True when `err` is a TerminalError (or wraps one as its `cause`). */
export function isTerminalError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof TerminalError) return true;
  }
  return false;
}
