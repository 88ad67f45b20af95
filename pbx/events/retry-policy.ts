/** When a failed webhook delivery is tried again: exponential backoff with full jitter, or the receiver's Retry-After. */

/** Backoff bounds. */
export interface BackoffPolicy {
  /** Upper bound of the first retry's delay (default 1 s); doubles per attempt. */
  readonly baseMs: number;
  /** Cap of any delay, Retry-After included (default 5 min). */
  readonly maxMs: number;
}

/** The default backoff: 1 s doubling, capped at 5 minutes. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 300_000 };

/** Full-jitter delay after `attempt` failed attempts: uniform in [0, min(max, base * 2^(attempt-1))). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Milliseconds a `Retry-After` value (delta seconds or an HTTP date) asks to wait; null when absent or invalid. */
export function parseRetryAfter(value: string | null, wallNow: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - wallNow);
}
