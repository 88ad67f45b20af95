/** Property (fast-check): whatever the requests, a source never gets more than rate*W + burst through in W seconds. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createRateLimiter, sourceKey } from '../../pbx/protect/index.js';

const SOURCES = [
  '192.0.2.1',
  '192.0.2.2',
  '2001:db8::1',
  '2001:db8::2',
  '2001:db8:0:1::1',
  '::ffff:192.0.2.1',
];

/** Largest number of allowed requests inside any window, checked against the token-bucket bound. */
function violatesBound(times: number[], rate: number, burst: number): boolean {
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      const windowSeconds = ((times[j] ?? 0) - (times[i] ?? 0)) / 1000;
      if (j - i + 1 > rate * windowSeconds + burst + 1e-9) return true;
    }
  }
  return false;
}

describe('createRateLimiter property', () => {
  it('allowed per source in any window of W seconds <= rate*W + burst', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(
          fc.record({
            source: fc.integer({ min: 0, max: SOURCES.length - 1 }),
            gapMs: fc.integer({ min: 0, max: 400 }),
          }),
          { maxLength: 300 },
        ),
        (rate, burst, requests) => {
          const clock = fakeClock();
          const limiter = createRateLimiter({ ratePerSecond: rate, burst, clock });
          const allowedAt = new Map<string, number[]>();
          for (const { source, gapMs } of requests) {
            clock.advance(gapMs);
            const ip = SOURCES[source] ?? '192.0.2.1';
            if (!limiter.allow(ip)) continue;
            const key = sourceKey(ip);
            allowedAt.set(key, [...(allowedAt.get(key) ?? []), clock.now()]);
          }
          for (const times of allowedAt.values()) expect(violatesBound(times, rate, burst)).toBe(false);
        },
      ),
      { numRuns: 300, interruptAfterTimeLimit: 20_000 },
    );
  });
});
