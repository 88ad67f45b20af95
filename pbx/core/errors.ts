/** Base of every error the pbx raises on purpose; `code` is stable and listed in docs/errors.md. */
export class PbxError extends Error {
  /** Stable machine-readable code, `PBX_ERR_…`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PbxError';
    this.code = code;
  }
}
