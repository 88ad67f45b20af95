import { describe, expect, it, vi } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import {
  createInviteGate,
  createOverloadGuard,
  createRateLimiter,
  createScannerFilter,
} from '../../pbx/protect/index.js';
import type {
  Admission,
  InviteVerdict,
  OverloadGuard,
  RateLimitAction,
  RateLimiter,
  RefusalReason,
  ScannerFilter,
} from '../../pbx/protect/index.js';

interface Stubs {
  scanner: boolean;
  allowed: boolean;
  retryAfter: number;
  admission: Admission;
}

/** A gate over stub components, with spies to see which ones were asked. */
function stubGate(stubs: Stubs, action: RateLimitAction) {
  const isScanner = vi.fn((_userAgent: string | undefined) => stubs.scanner);
  const allow = vi.fn((_ip: string) => stubs.allowed);
  const admit = vi.fn((_activeCalls: number) => stubs.admission);
  const scannerFilter: ScannerFilter = { isScanner };
  const rateLimiter: RateLimiter = {
    allow,
    retryAfterSeconds: () => stubs.retryAfter,
    trackedSources: () => 0,
  };
  const overloadGuard: OverloadGuard = {
    admit,
    status: () => ({ reason: null, acceptRatio: 1, eventLoopDelayMs: 0, eventLoopUtilization: 0 }),
  };
  const onRefused = vi.fn<(reason: RefusalReason) => void>();
  const gate = createInviteGate({ rateLimiter, scannerFilter, overloadGuard, action, onRefused });
  return { gate, isScanner, allow, admit, onRefused };
}

const ok: Admission = { ok: true };
const full: Admission = { ok: false, reason: 'max-calls', retryAfterSeconds: 5 };
const memory: Admission = { ok: false, reason: 'memory', retryAfterSeconds: 10 };
const attempt = { sourceIp: '192.0.2.1', userAgent: 'Linphone', activeCalls: 3 };

describe('createInviteGate: order and verdicts', () => {
  it.each<[string, Stubs, RateLimitAction, InviteVerdict]>([
    [
      'all clear',
      { scanner: false, allowed: true, retryAfter: 0, admission: ok },
      'reject',
      { verdict: 'accept' },
    ],
    [
      'scanner wins over everything',
      { scanner: true, allowed: false, retryAfter: 3, admission: full },
      'reject',
      { verdict: 'drop', reason: 'scanner' },
    ],
    [
      'rate limit, reject',
      { scanner: false, allowed: false, retryAfter: 2, admission: full },
      'reject',
      { verdict: 'reject', status: 503, retryAfter: 2, reason: 'rate-limit' },
    ],
    [
      'rate limit, Retry-After at least 1',
      { scanner: false, allowed: false, retryAfter: 0, admission: ok },
      'reject',
      { verdict: 'reject', status: 503, retryAfter: 1, reason: 'rate-limit' },
    ],
    [
      'rate limit, drop',
      { scanner: false, allowed: false, retryAfter: 2, admission: full },
      'drop',
      { verdict: 'drop', reason: 'rate-limit' },
    ],
    [
      'max calls',
      { scanner: false, allowed: true, retryAfter: 0, admission: full },
      'drop',
      { verdict: 'reject', status: 503, retryAfter: 5, reason: 'max-calls' },
    ],
    [
      'memory',
      { scanner: false, allowed: true, retryAfter: 0, admission: memory },
      'reject',
      { verdict: 'reject', status: 503, retryAfter: 10, reason: 'memory' },
    ],
  ])('%s', (_name, stubs, action, expected) => {
    const { gate } = stubGate(stubs, action);
    expect(gate.check(attempt)).toEqual(expected);
  });

  it('a scanner spends no rate-limit token and never reaches the overload guard', () => {
    const { gate, allow, admit } = stubGate(
      { scanner: true, allowed: true, retryAfter: 0, admission: ok },
      'reject',
    );
    gate.check(attempt);
    expect(allow).not.toHaveBeenCalled();
    expect(admit).not.toHaveBeenCalled();
  });

  it('a rate-limited source never reaches the overload guard; an admitted one passes its active calls', () => {
    const limited = stubGate({ scanner: false, allowed: false, retryAfter: 1, admission: ok }, 'reject');
    limited.gate.check(attempt);
    expect(limited.admit).not.toHaveBeenCalled();
    const admitted = stubGate({ scanner: false, allowed: true, retryAfter: 0, admission: ok }, 'reject');
    admitted.gate.check(attempt);
    expect(admitted.allow).toHaveBeenCalledWith('192.0.2.1');
    expect(admitted.isScanner).toHaveBeenCalledWith('Linphone');
    expect(admitted.admit).toHaveBeenCalledWith(3);
  });
});

describe('createInviteGate: counters', () => {
  it('counts refusals by reason, rate-limited separately, and calls onRefused once each', () => {
    const stubs: Stubs = { scanner: true, allowed: true, retryAfter: 0, admission: ok };
    const { gate, onRefused } = stubGate(stubs, 'drop');
    gate.check(attempt);
    stubs.scanner = false;
    stubs.allowed = false;
    gate.check(attempt);
    gate.check(attempt);
    stubs.allowed = true;
    stubs.admission = full;
    gate.check(attempt);
    stubs.admission = memory;
    gate.check(attempt);
    stubs.admission = ok;
    gate.check(attempt);
    expect(gate.counters()).toEqual({
      rateLimited: 2,
      refused: {
        scanner: 1,
        'rate-limit': 2,
        'max-calls': 1,
        memory: 1,
        'calls-in-setup': 0,
        'event-loop-delay': 0,
        'event-loop-utilization': 0,
      },
    });
    expect(onRefused.mock.calls.map(([reason]) => reason)).toEqual([
      'scanner',
      'rate-limit',
      'rate-limit',
      'max-calls',
      'memory',
    ]);
  });

  it('returns snapshots that later refusals do not change', () => {
    const { gate } = stubGate({ scanner: true, allowed: true, retryAfter: 0, admission: ok }, 'drop');
    const before = gate.counters();
    gate.check(attempt);
    expect(before.refused.scanner).toBe(0);
    expect(gate.counters().refused.scanner).toBe(1);
  });

  it('works without onRefused', () => {
    const scannerFilter = createScannerFilter(['sipvicious']);
    const clock = fakeClock();
    const gate = createInviteGate({
      scannerFilter,
      rateLimiter: createRateLimiter({ ratePerSecond: 10, clock }),
      overloadGuard: createOverloadGuard({ maxCalls: 10, maxMemoryMb: null, clock }),
      action: 'reject',
    });
    expect(gate.check({ ...attempt, userAgent: 'sipvicious' })).toEqual({
      verdict: 'drop',
      reason: 'scanner',
    });
  });
});

describe('createInviteGate with real components', () => {
  it('limits a 50 INVITE/s flood from one address to ~10/s while another address is always accepted', () => {
    const clock = fakeClock();
    const gate = createInviteGate({
      rateLimiter: createRateLimiter({ ratePerSecond: 10, clock }),
      scannerFilter: createScannerFilter(['friendly-scanner']),
      overloadGuard: createOverloadGuard({ maxCalls: 1000, maxMemoryMb: null, clock }),
      action: 'reject',
    });
    const verdicts = { flood: { accept: 0, reject: 0 }, other: { accept: 0, reject: 0 } };
    for (let i = 0; i < 500; i++) {
      const flood = gate.check({ sourceIp: '203.0.113.5', userAgent: 'sipp', activeCalls: 0 });
      if (flood.verdict !== 'drop') verdicts.flood[flood.verdict]++;
      if (flood.verdict === 'reject') expect(flood.retryAfter).toBe(1);
      if (i % 25 === 0) {
        const other = gate.check({ sourceIp: '198.51.100.7', userAgent: 'sipp', activeCalls: 0 });
        if (other.verdict !== 'drop') verdicts.other[other.verdict]++;
      }
      clock.advance(20);
    }
    expect(verdicts.flood.accept).toBeGreaterThanOrEqual(90);
    expect(verdicts.flood.accept).toBeLessThanOrEqual(110);
    expect(verdicts.other).toEqual({ accept: 20, reject: 0 });
    expect(gate.counters().rateLimited).toBe(verdicts.flood.reject);
  });
});
