import { PbxError } from '../../core/errors.js';

/** An SDP body that cannot be described or rewritten safely, or a rewrite plan that does not fit it. */
export class SdpError extends PbxError {
  /** Short description of the fault, e.g. `non-numeric port in m= line 2`. */
  readonly reason: string;

  constructor(reason: string) {
    super('PBX_ERR_SDP', `SDP error: ${reason}`);
    this.name = 'SdpError';
    this.reason = reason;
  }
}
