// ConfigError: every problem found in a configuration, each with its path and where the value came from.
import { PbxError } from '../core/errors.js';

/** One configuration problem: dotted key path (or env variable), why it is wrong, and the value's source. */
export interface ConfigIssue {
  /** Dotted key path such as `media.portRange.start`; `(root)` for the document itself. */
  readonly path: string;
  /** Why the value is rejected, e.g. `must be even (got 10001)`. */
  readonly message: string;
  /** Where the value came from: a file (with line:col when known), `SIPPBX_…`, `overrides` or `default`. */
  readonly source: string;
}

/** Formats one issue as `path: why (from source)`. */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.path}: ${issue.message} (from ${issue.source})`;
}

/** Raised when the configuration cannot be read or is invalid; the message lists every problem. */
export class ConfigError extends PbxError {
  /** Every problem found, in document order. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: ErrorOptions) {
    const n = issues.length;
    const lines = issues.map((i) => `  ${formatIssue(i)}`).join('\n');
    super(
      'PBX_ERR_CONFIG',
      `invalid pbx configuration (${n} problem${n === 1 ? '' : 's'}):\n${lines}`,
      options,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
