import { PbxError } from '../../core/errors.js';

/** Why no block could be handed out: every allowed call is up, or every block is leased or quarantined. */
export type ExhaustionLimit = 'max-calls' | 'no-free-block';

/** No media port block is available; the B2BUA answers the INVITE 503 with Retry-After (RFC 3261 §21.5.4). */
export class PortPoolExhausted extends PbxError {
  /** Which limit was hit. */
  readonly limit: ExhaustionLimit;
  /** When a quarantined block comes back, how long until then; otherwise undefined. */
  readonly retryAfterMs: number | undefined;

  constructor(limit: ExhaustionLimit, retryAfterMs: number | undefined, options?: ErrorOptions) {
    super('PBX_ERR_MEDIA_PORTS_EXHAUSTED', `media port pool exhausted (${limit})`, options);
    this.name = 'PortPoolExhausted';
    this.limit = limit;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A block handed to release/quarantine was never issued by this pool (a wiring bug, not a runtime condition). */
export class ForeignPortBlock extends PbxError {
  constructor(message: string) {
    super('PBX_ERR_MEDIA_PORTS_FOREIGN_BLOCK', message);
    this.name = 'ForeignPortBlock';
  }
}

/** The pool options describe no usable block (bad range, block size or call limit). */
export class PortPoolConfigError extends PbxError {
  constructor(message: string) {
    super('PBX_ERR_MEDIA_PORTS_CONFIG', message);
    this.name = 'PortPoolConfigError';
  }
}
