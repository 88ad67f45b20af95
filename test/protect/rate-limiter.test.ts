import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import type { FakeClock } from '../../pbx/core/clock.js';
import { createRateLimiter, ProtectConfigError } from '../../pbx/protect/index.js';
import type { RateLimiter } from '../../pbx/protect/index.js';

/** Offers `perSecond` requests/s from `ip` for `seconds`, evenly spaced; returns how many were allowed each second. */
function offer(
  limiter: RateLimiter,
  clock: FakeClock,
  ip: string,
  perSecond: number,
  seconds: number,
): number[] {
  const perBucket: number[] = [];
  const stepMs = 1000 / perSecond;
  for (let s = 0; s < seconds; s++) {
    let allowed = 0;
    for (let i = 0; i < perSecond; i++) {
      if (limiter.allow(ip)) allowed++;
      clock.advance(stepMs);
    }
    perBucket.push(allowed);
  }
  return perBucket;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** IPv4 address number `i` inside 10.0.0.0/8 upward (wraps into 11/8 ... past 16M). */
const ipv4 = (i: number): string => `${10 + (i >>> 24)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;

describe('createRateLimiter: token bucket over simulated seconds', () => {
  it.each([
    // rate, burst, offered/s, seconds, min, max allowed in total
    { rate: 10, burst: 10, offered: 50, seconds: 10, min: 100 - 10, max: 100 + 10 },
    { rate: 10, burst: undefined, offered: 50, seconds: 10, min: 90, max: 110 },
    { rate: 10, burst: 1, offered: 50, seconds: 10, min: 99, max: 101 },
    { rate: 10, burst: 10, offered: 5, seconds: 10, min: 50, max: 50 },
    { rate: 1, burst: 3, offered: 20, seconds: 10, min: 12, max: 13 },
    { rate: 100, burst: 100, offered: 1000, seconds: 5, min: 590, max: 601 },
    { rate: 0.5, burst: undefined, offered: 4, seconds: 10, min: 5, max: 5 },
  ])('rate $rate burst $burst, $offered/s for $seconds s -> $min..$max', (c) => {
    const clock = fakeClock(1000);
    const limiter = createRateLimiter({
      ratePerSecond: c.rate,
      clock,
      ...(c.burst === undefined ? {} : { burst: c.burst }),
    });
    const total = sum(offer(limiter, clock, '192.0.2.1', c.offered, c.seconds));
    expect(total).toBeGreaterThanOrEqual(c.min);
    expect(total).toBeLessThanOrEqual(c.max);
  });

  it('lets a 50/s sender through at exactly 10/s once its burst is spent', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 10, clock });
    const perSecond = offer(limiter, clock, '192.0.2.1', 50, 10);
    expect(perSecond[0]).toBeGreaterThanOrEqual(19);
    expect(perSecond[0]).toBeLessThanOrEqual(21);
    for (const n of perSecond.slice(1)) expect(n).toBe(10);
  });

  it('allows a full burst at one instant, then nothing until a token refills', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 10, clock });
    const burst = Array.from({ length: 15 }, () => limiter.allow('192.0.2.1'));
    expect(burst.filter(Boolean)).toHaveLength(10);
    clock.advance(99);
    expect(limiter.allow('192.0.2.1')).toBe(false);
    clock.advance(1);
    expect(limiter.allow('192.0.2.1')).toBe(true);
  });

  it('a flooding source does not affect another source', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, clock });
    let other = 0;
    for (let i = 0; i < 500; i++) {
      limiter.allow('192.0.2.1');
      if (i % 10 === 0 && limiter.allow('198.51.100.7')) other++;
      clock.advance(20);
    }
    expect(other).toBe(50);
  });

  it('buckets IPv6 sources per /64, so rotating addresses inside one subnet does not help', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 10, clock });
    let allowed = 0;
    for (let i = 0; i < 1000; i++) if (limiter.allow(`2001:db8:0:1::${i.toString(16)}`)) allowed++;
    expect(allowed).toBe(10);
    expect(limiter.trackedSources()).toBe(1);
    expect(limiter.allow('2001:db8:0:2::1')).toBe(true);
    expect(limiter.allow('::ffff:192.0.2.9')).toBe(true);
    expect(limiter.allow('192.0.2.9')).toBe(true);
    expect(limiter.trackedSources()).toBe(3);
  });
});

describe('createRateLimiter: retryAfterSeconds', () => {
  it.each([
    // rate, burst, requests sent at t=0, expected Retry-After
    { rate: 10, burst: 10, sent: 0, expected: 0 },
    { rate: 10, burst: 10, sent: 9, expected: 0 },
    { rate: 10, burst: 10, sent: 10, expected: 1 },
    { rate: 10, burst: 10, sent: 30, expected: 1 },
    { rate: 0.1, burst: 1, sent: 1, expected: 10 },
    { rate: 0.25, burst: 2, sent: 2, expected: 4 },
  ])('rate $rate burst $burst after $sent requests -> $expected s', (c) => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: c.rate, burst: c.burst, clock });
    for (let i = 0; i < c.sent; i++) limiter.allow('192.0.2.1');
    expect(limiter.retryAfterSeconds('192.0.2.1')).toBe(c.expected);
  });

  it('counts down as time passes, and the source is allowed when it reaches 0', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 0.1, burst: 1, clock });
    expect(limiter.allow('192.0.2.1')).toBe(true);
    clock.advance(4_500);
    expect(limiter.retryAfterSeconds('192.0.2.1')).toBe(6);
    expect(limiter.allow('192.0.2.1')).toBe(false);
    clock.advance(5_500);
    expect(limiter.retryAfterSeconds('192.0.2.1')).toBe(0);
    expect(limiter.allow('192.0.2.1')).toBe(true);
  });
});

describe('createRateLimiter: bounded memory', () => {
  it('forgets sources whose bucket has refilled (idle eviction driven by the clock)', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 10, clock });
    for (let i = 0; i < 1000; i++) limiter.allow(ipv4(i));
    expect(limiter.trackedSources()).toBe(1000);
    clock.advance(100);
    limiter.allow('192.0.2.1');
    expect(limiter.trackedSources()).toBe(1);
  });

  it('keeps refilled sources for idleEvictMs when asked to', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, clock, idleEvictMs: 5_000 });
    for (let i = 0; i < 100; i++) limiter.allow(ipv4(i));
    clock.advance(5_000);
    limiter.allow('192.0.2.1');
    expect(limiter.trackedSources()).toBe(101);
    clock.advance(100);
    limiter.allow('192.0.2.1');
    expect(limiter.trackedSources()).toBe(1);
  });

  it('tracks at most maxTrackedSources under a flood from 1,000,000 spoofed sources; a legit source keeps working', () => {
    const clock = fakeClock();
    const bound = 100_000;
    // idleEvictMs well above the flood's duration: only the hard bound limits the table.
    const limiter = createRateLimiter({ ratePerSecond: 10, burst: 10, clock, idleEvictMs: 60_000 });
    let maxSeen = 0;
    let legitAllowed = 0;
    let legitSent = 0;
    for (let i = 0; i < 1_000_000; i++) {
      limiter.allow(ipv4(i));
      if (i % 1000 === 999) maxSeen = Math.max(maxSeen, limiter.trackedSources());
      if (i % 10_000 === 0) {
        legitSent++;
        if (limiter.allow('198.51.100.7')) legitAllowed++;
      }
      clock.advance(0.01); // 100,000 spoofed INVITEs per simulated second, a legit one every 100 ms
    }
    expect(maxSeen).toBe(bound);
    expect(limiter.trackedSources()).toBeLessThanOrEqual(bound);
    expect(legitAllowed).toBe(legitSent);
  }, 60_000);

  it('with default options, refilled buckets are swept during the flood, far below the bound', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 10, clock });
    let maxSeen = 0;
    for (let i = 0; i < 200_000; i++) {
      limiter.allow(ipv4(i));
      maxSeen = Math.max(maxSeen, limiter.trackedSources());
      clock.advance(0.01);
    }
    // A bucket that took one token is full again 100 ms later: 100 ms of a 100,000/s flood.
    expect(maxSeen).toBeLessThanOrEqual(10_001);
    expect(limiter.allow('198.51.100.7')).toBe(true);
  });

  it('fails open when the bound forces out a source that still owes tokens (documented trade-off)', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, clock, maxTrackedSources: 3 });
    expect(limiter.allow('192.0.2.1')).toBe(true);
    expect(limiter.allow('192.0.2.1')).toBe(false);
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) limiter.allow(ip);
    expect(limiter.trackedSources()).toBe(3);
    expect(limiter.allow('192.0.2.1')).toBe(true);
  });

  it('refreshes a source on every request, so the least recently seen is the one forgotten', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, clock, maxTrackedSources: 2 });
    limiter.allow('192.0.2.1');
    limiter.allow('10.0.0.1');
    expect(limiter.allow('192.0.2.1')).toBe(false); // refreshed: 10.0.0.1 is now the oldest
    limiter.allow('10.0.0.2');
    expect(limiter.allow('192.0.2.1')).toBe(false);
  });
});

describe('createRateLimiter: options', () => {
  const clock = fakeClock();
  it.each([
    { ratePerSecond: 0 },
    { ratePerSecond: -1 },
    { ratePerSecond: Number.NaN },
    { ratePerSecond: Number.POSITIVE_INFINITY },
    { ratePerSecond: 10, burst: 0.5 },
    { ratePerSecond: 10, maxTrackedSources: 0 },
    { ratePerSecond: 10, idleEvictMs: -1 },
  ])('rejects %o', (options) => {
    expect(() => createRateLimiter({ ...options, clock })).toThrow(ProtectConfigError);
    try {
      createRateLimiter({ ...options, clock });
    } catch (err) {
      expect((err as ProtectConfigError).code).toBe('PBX_ERR_PROTECT_CONFIG');
    }
  });
});
