import type { Clock } from '../core/clock.js';
import { ProtectConfigError } from './errors.js';
import { createRecencyTable } from './recency-table.js';
import { sourceKey } from './source-key.js';

/** Options of createRateLimiter. */
export interface RateLimiterOptions {
  /** Sustained requests per second allowed per source (`limits.invitesPerSecondPerIp`). */
  readonly ratePerSecond: number;
  /** Requests a fresh or rested source may send at once; default max(1, ratePerSecond). */
  readonly burst?: number;
  /** Time source; refill is computed from it lazily, no timer per source. */
  readonly clock: Clock;
  /** Hard bound on tracked sources; the least recently seen is forgotten first. Default 100,000. */
  readonly maxTrackedSources?: number;
  /** How long a source's bucket stays tracked after it has refilled completely. Default 0 (see below). */
  readonly idleEvictMs?: number;
}

/** Per-source token bucket for new INVITEs (ARCHITECTURE "A call, as data", step 3). */
export interface RateLimiter {
  /** Takes one token from the source's bucket; false when it is empty. O(1) amortized. */
  allow(ip: string): boolean;
  /** Whole seconds until `allow(ip)` would succeed again (0 when it would now), for `503` Retry-After. */
  retryAfterSeconds(ip: string): number;
  /** Number of sources currently tracked (never above maxTrackedSources). */
  trackedSources(): number;
}

const DEFAULT_MAX_TRACKED_SOURCES = 100_000;

/** Throws ProtectConfigError unless `value` is finite and at least `min` (or above it, when `strict`). */
function requireAtLeast(name: string, value: number, min: number, strict = false): void {
  if (!Number.isFinite(value) || value < min || (strict && value === min)) {
    const bound = strict ? `> ${min}` : `>= ${min}`;
    throw new ProtectConfigError(`rate limiter: ${name} must be a finite number ${bound} (got ${value})`);
  }
}

/**
 * Creates a per-source rate limiter. Each bucket is kept in GCRA form (ITU-T I.371 virtual scheduling), which is
 * exactly a token bucket of `burst` tokens refilled at `ratePerSecond`, stored as one number: the theoretical
 * arrival time (TAT). A bucket whose TAT is in the past is full, i.e. indistinguishable from an untracked source,
 * so evicting it (the default, idleEvictMs = 0) never lets anyone through early. Memory is bounded twice: full
 * buckets are swept from the least-recently-seen end on every call (amortized O(1), driven by the clock), and at
 * most `maxTrackedSources` entries are kept, the least recently seen dropped first. That hard bound fails open: a
 * flood of more distinct (spoofed) sources than the bound can make the limiter forget a real source, which then
 * starts again with a full bucket — legitimate sources keep working, and memory stays bounded.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { ratePerSecond, clock } = options;
  const burst = options.burst ?? Math.max(1, ratePerSecond);
  const maxTracked = options.maxTrackedSources ?? DEFAULT_MAX_TRACKED_SOURCES;
  const idleEvictMs = options.idleEvictMs ?? 0;
  requireAtLeast('ratePerSecond', ratePerSecond, 0, true);
  requireAtLeast('burst', burst, 1);
  requireAtLeast('maxTrackedSources', maxTracked, 1);
  requireAtLeast('idleEvictMs', idleEvictMs, 0);

  const intervalMs = 1000 / ratePerSecond;
  const toleranceMs = (burst - 1) * intervalMs;
  // source key -> TAT in clock milliseconds, least recently seen first.
  const tat = createRecencyTable();

  const sweep = (now: number): void => {
    let oldest = tat.oldestValue();
    while (oldest !== undefined && now - oldest >= idleEvictMs) {
      tat.dropOldest();
      oldest = tat.oldestValue();
    }
  };

  return {
    allow(ip) {
      const key = sourceKey(ip);
      const now = clock.now();
      sweep(now);
      const previous = tat.get(key);
      const start = previous === undefined || previous < now ? now : previous;
      const allowed = start - now <= toleranceMs;
      tat.set(key, allowed ? start + intervalMs : start);
      if (tat.size > maxTracked) tat.dropOldest();
      return allowed;
    },
    retryAfterSeconds(ip) {
      const at = tat.get(sourceKey(ip));
      const waitMs = at === undefined ? 0 : at - clock.now() - toleranceMs;
      return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0;
    },
    trackedSources: () => tat.size,
  };
}
