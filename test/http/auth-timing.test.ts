import type * as NodeCrypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Spy on the comparison itself: authenticate must use timingSafeEqual over fixed-size digests.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeCrypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const crypto = await import('node:crypto');
const { loadTokens } = await import('../../pbx/http/auth.js');
const spy = vi.mocked(crypto.timingSafeEqual);

describe('authenticate compares in constant time', () => {
  beforeEach(() => {
    spy.mockClear();
  });

  it.each([
    ['an equal-length wrong token', 'Bearer admin-secreX'],
    ['a shorter wrong token', 'Bearer a'],
    ['a longer wrong token', `Bearer ${'x'.repeat(500)}`],
  ])('%s: every entry compared as 32-byte SHA-256 digests', async (_name, header) => {
    const store = await loadTokens([
      { token: 'reader-secret', role: 'read' },
      { token: 'admin-secret', role: 'admin' },
    ]);
    expect(store.authenticate(header)).toBeUndefined();
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [a, b] of spy.mock.calls) {
      expect((a as Buffer).length).toBe(32);
      expect((b as Buffer).length).toBe(32);
    }
  });

  it('does not stop at the first match', async () => {
    const store = await loadTokens([
      { token: 'reader-secret', role: 'read' },
      { token: 'admin-secret', role: 'admin' },
      { token: 'third', role: 'read' },
    ]);
    expect(store.authenticate('Bearer reader-secret')).toBe('read');
    expect(spy).toHaveBeenCalledTimes(3);
  });

  it('does not compare at all without a bearer token', async () => {
    const store = await loadTokens([{ token: 'admin-secret', role: 'admin' }]);
    expect(store.authenticate('Basic abc')).toBeUndefined();
    expect(spy).not.toHaveBeenCalled();
  });
});
