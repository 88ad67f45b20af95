import { PbxError } from '../core/errors.js';

/** A message, header or URI that cannot be parsed; `reason` says what was wrong, fit for a reason phrase. */
export class SipParseError extends PbxError {
  /** Short description of the fault, e.g. `bad CSeq header`. */
  readonly reason: string;

  constructor(reason: string) {
    super('PBX_ERR_SIP_PARSE', `SIP parse error: ${reason}`);
    this.name = 'SipParseError';
    this.reason = reason;
  }
}
