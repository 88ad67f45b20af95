import { PbxError } from '../../core/errors.js';

/** Stable codes of codec failures (listed in docs/errors.md). */
export type CodecErrorCode = 'PBX_ERR_CODEC_UNSUPPORTED' | 'PBX_ERR_CODEC_DECODE' | 'PBX_ERR_CODEC_ENCODE';

/** A codec could not be created or a frame could not be decoded/encoded; `detail` says why. */
export class CodecError extends PbxError {
  /** What failed, e.g. the libopus error number or the offending parameter. */
  readonly detail: string;

  constructor(code: CodecErrorCode, message: string, detail = '') {
    super(code, message);
    this.name = 'CodecError';
    this.detail = detail;
  }
}
