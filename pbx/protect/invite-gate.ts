import { OVERLOAD_REASONS } from './overload-guard.js';
import type { OverloadGuard, OverloadReason } from './overload-guard.js';
import type { RateLimiter } from './rate-limiter.js';
import type { ScannerFilter } from './scanner-filter.js';

/** Why the gate refused an INVITE. */
export type RefusalReason = 'scanner' | 'rate-limit' | OverloadReason;

/** What to do with a rate-limited INVITE (`limits.rateLimitAction`). */
export type RateLimitAction = 'reject' | 'drop';

/** The gate's verdict: pass the INVITE on, drop it without an answer, or answer `503` with Retry-After. */
export type InviteVerdict =
  | { readonly verdict: 'accept' }
  | { readonly verdict: 'drop'; readonly reason: 'scanner' | 'rate-limit' }
  | {
      readonly verdict: 'reject';
      readonly status: 503;
      /** Seconds, for the Retry-After header (RFC 3261 §20.33). */
      readonly retryAfter: number;
      readonly reason: 'rate-limit' | OverloadReason;
    };

/** One new (out-of-dialog) INVITE as the gate sees it. */
export interface InviteAttempt {
  /** Source address of the packet or connection (not a Via value, which the sender chooses). */
  readonly sourceIp: string;
  /** The User-Agent header value, if any. */
  readonly userAgent: string | undefined;
  /** Calls active on this pbx now. */
  readonly activeCalls: number;
}

/** Counts of refused INVITEs since the gate was created. */
export interface GateCounters {
  /** INVITEs refused by the per-source rate limit, dropped or rejected (`sippbx_rate_limited_total`). */
  readonly rateLimited: number;
  /** Every refusal, by reason. */
  readonly refused: Readonly<Record<RefusalReason, number>>;
}

/** Options of createInviteGate. */
export interface InviteGateOptions {
  readonly rateLimiter: RateLimiter;
  readonly scannerFilter: ScannerFilter;
  readonly overloadGuard: OverloadGuard;
  /** Rate-limited INVITEs are answered `503` (reject) or ignored (drop). */
  readonly action: RateLimitAction;
  /** Called once per refusal, after the counters moved (e.g. to increment a prom-client counter). */
  readonly onRefused?: (reason: RefusalReason) => void;
}

/** Admission control for new INVITEs; the B2BUA calls it only for out-of-dialog INVITEs, never for existing calls. */
export interface InviteGate {
  /** Decides on one INVITE, in ARCHITECTURE order: scanner, then per-source rate, then overload. */
  check(attempt: InviteAttempt): InviteVerdict;
  /** A snapshot of the counters. */
  counters(): GateCounters;
}

const ACCEPT: InviteVerdict = Object.freeze({ verdict: 'accept' });
const DROP_SCANNER: InviteVerdict = Object.freeze({ verdict: 'drop', reason: 'scanner' });
const DROP_RATE_LIMITED: InviteVerdict = Object.freeze({ verdict: 'drop', reason: 'rate-limit' });

/**
 * Creates the INVITE gate. Scanners are dropped silently (answering tells the scanner someone is there); a
 * rate-limited source gets the configured action, with Retry-After from its bucket; an overloaded pbx answers 503.
 * A scanner's INVITE does not spend a rate-limit token; an INVITE refused for overload has spent one.
 */
export function createInviteGate(options: InviteGateOptions): InviteGate {
  const { rateLimiter, scannerFilter, overloadGuard, action, onRefused } = options;
  const refused = Object.fromEntries(
    ['scanner', 'rate-limit', ...OVERLOAD_REASONS].map((reason) => [reason, 0]),
  ) as Record<RefusalReason, number>;
  const refuse = (reason: RefusalReason, verdict: InviteVerdict): InviteVerdict => {
    refused[reason] += 1;
    onRefused?.(reason);
    return verdict;
  };
  const rateLimited = (sourceIp: string): InviteVerdict =>
    action === 'drop'
      ? DROP_RATE_LIMITED
      : {
          verdict: 'reject',
          status: 503,
          retryAfter: Math.max(1, rateLimiter.retryAfterSeconds(sourceIp)),
          reason: 'rate-limit',
        };

  return {
    check({ sourceIp, userAgent, activeCalls }) {
      if (scannerFilter.isScanner(userAgent)) return refuse('scanner', DROP_SCANNER);
      if (!rateLimiter.allow(sourceIp)) return refuse('rate-limit', rateLimited(sourceIp));
      const admission = overloadGuard.admit(activeCalls);
      if (admission.ok) return ACCEPT;
      const { reason, retryAfterSeconds } = admission;
      return refuse(reason, { verdict: 'reject', status: 503, retryAfter: retryAfterSeconds, reason });
    },
    counters: () => ({ rateLimited: refused['rate-limit'], refused: { ...refused } }),
  };
}
