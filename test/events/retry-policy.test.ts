import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { classifyStatus, postEvent } from '../../pbx/events/http-post.js';
import {
  backoffDelay,
  DEFAULT_BACKOFF,
  parseRetryAfter,
  signBody,
  verifySignature,
} from '../../pbx/events/index.js';

describe('retry policy', () => {
  it.each([
    [200, null, { kind: 'delivered', status: 200 }],
    [204, null, { kind: 'delivered', status: 204 }],
    [500, null, { kind: 'retry', error: 'HTTP 500', retryAfterMs: null }],
    [500, '5', { kind: 'retry', error: 'HTTP 500', retryAfterMs: null }],
    [503, '5', { kind: 'retry', error: 'HTTP 503', retryAfterMs: 5000 }],
    [429, 'soon', { kind: 'retry', error: 'HTTP 429', retryAfterMs: null }],
    [400, null, { kind: 'failed', error: 'HTTP 400' }],
    [404, null, { kind: 'failed', error: 'HTTP 404' }],
    [301, null, { kind: 'failed', error: 'HTTP 301' }],
  ])('classifies %i (Retry-After %s)', (status, retryAfter, expected) => {
    expect(classifyStatus(status, retryAfter, 0)).toEqual(expected);
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('nonsense', now)).toBeNull();
  });

  it('draws full-jitter delays below a doubling, capped ceiling', () => {
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0.999)).toBe(999);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5)).toBe(2000);
    expect(backoffDelay(30, DEFAULT_BACKOFF, () => 0.5)).toBe(150_000);
    expect(backoffDelay(4, DEFAULT_BACKOFF, () => 0)).toBe(0);
  });

  it('signs and verifies bodies', () => {
    const sig = signBody('k', '{"a":1}');
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature('k', '{"a":1}', sig)).toBe(true);
    expect(verifySignature('k', '{"a":2}', sig)).toBe(false);
    expect(verifySignature('k', '{"a":1}', 'sha256=00')).toBe(false);
    expect(verifySignature('k', '{"a":1}', undefined)).toBe(false);
  });

  it('reports a thrown non-Error and a network error cause', async () => {
    const base = {
      url: 'http://127.0.0.1:1/',
      body: '{}',
      headers: {},
      timeoutMs: 1000,
      clock: fakeClock(),
      wallNow: () => 0,
      signal: new AbortController().signal,
    };
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    expect(await postEvent({ ...base, fetch: () => Promise.reject('weird') })).toEqual({
      kind: 'retry',
      error: 'weird',
      retryAfterMs: null,
    });
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    });
    expect(await postEvent({ ...base, fetch: () => Promise.reject(refused) })).toMatchObject({
      error: 'fetch failed: ECONNREFUSED',
    });
  });
});
