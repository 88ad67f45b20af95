/** Typed errors of the registry layer, each with a stable `PBX_ERR_…` code (docs/errors.md). */
import { PbxError } from '../core/errors.js';

/** Stable codes raised by `pbx/registry`. */
export const RegistryErrorCode = {
  unavailable: 'PBX_ERR_REGISTRY_UNAVAILABLE',
  outOfOrder: 'PBX_ERR_REGISTER_OUT_OF_ORDER',
  badAor: 'PBX_ERR_REGISTRY_BAD_AOR',
} as const;

/** The shared store cannot be reached (or answered with an error); the caller falls back to local state. */
export class RegistryUnavailable extends PbxError {
  constructor(message: string, options?: ErrorOptions) {
    super(RegistryErrorCode.unavailable, message, options);
    this.name = 'RegistryUnavailable';
  }
}

/** RFC 3261 §10.3 steps 6-7: same Call-ID with a CSeq not above the stored one; the registrar answers 500. */
export class RegisterOutOfOrder extends PbxError {
  /** The address-of-record of the refused REGISTER. */
  readonly aor: string;
  /** The contact whose stored binding has an equal or higher CSeq. */
  readonly contact: string;

  constructor(aor: string, contact: string, storedCseq: number, cseq: number) {
    super(
      RegistryErrorCode.outOfOrder,
      `REGISTER for ${aor} out of order: CSeq ${cseq} is not above ${storedCseq} stored for ${contact}`,
    );
    this.name = 'RegisterOutOfOrder';
    this.aor = aor;
    this.contact = contact;
  }
}

/** A URI that cannot be an address-of-record (not sip/sips/tel, or unparseable); the registrar answers 400/416. */
export class InvalidAor extends PbxError {
  constructor(uri: string, options?: ErrorOptions) {
    super(RegistryErrorCode.badAor, `not a usable address-of-record: ${JSON.stringify(uri)}`, options);
    this.name = 'InvalidAor';
  }
}
