import { ProtectConfigError } from './errors.js';

/** Only this many leading characters of a User-Agent are inspected, so a huge header costs bounded regex work. */
export const MAX_USER_AGENT_INSPECTED = 256;

/** Recognises the User-Agent of known SIP scanners (`limits.scannerUserAgents`). */
export interface ScannerFilter {
  /** True when the (first 256 characters of the) User-Agent matches a pattern; a missing one never matches. */
  isScanner(userAgent: string | undefined): boolean;
}

/** Compiles one pattern case-insensitively; rejects invalid ones and ones that would match every User-Agent. */
function compile(pattern: string, index: number): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'i');
  } catch (err) {
    throw new ProtectConfigError(`scannerUserAgents[${index}]: ${(err as Error).message}`);
  }
  // A pattern that matches the empty string matches every User-Agent: all INVITEs would be dropped silently.
  if (re.test('')) {
    throw new ProtectConfigError(
      `scannerUserAgents[${index}]: ${JSON.stringify(pattern)} matches every User-Agent`,
    );
  }
  return re;
}

/**
 * Creates a scanner filter from regex sources, compiled once with the `i` flag (as the config schema validates
 * them). Patterns are unanchored substrings by default; an end-anchored one (`$`) does not match a User-Agent
 * longer than MAX_USER_AGENT_INSPECTED, which is cut before matching.
 */
export function createScannerFilter(patterns: readonly string[]): ScannerFilter {
  const compiled = patterns.map(compile);
  return {
    isScanner(userAgent) {
      if (userAgent === undefined || compiled.length === 0) return false;
      const inspected =
        userAgent.length > MAX_USER_AGENT_INSPECTED
          ? userAgent.slice(0, MAX_USER_AGENT_INSPECTED)
          : userAgent;
      return compiled.some((re) => re.test(inspected));
    },
  };
}
