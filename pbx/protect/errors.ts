import { PbxError } from '../core/errors.js';

/** Options handed to a protect/ factory describe no usable limit (a wiring bug or a config the schema let through). */
export class ProtectConfigError extends PbxError {
  constructor(message: string) {
    super('PBX_ERR_PROTECT_CONFIG', message);
    this.name = 'ProtectConfigError';
  }
}
