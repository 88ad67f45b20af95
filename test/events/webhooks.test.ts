import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createWebhookDispatcher, deadLetterPath, readJsonLines, spoolPath } from '../../pbx/events/index.js';
import type { FetchLike, WebhookDispatcherOptions, WebhookResult } from '../../pbx/events/index.js';
import {
  callEvents,
  captureLogger,
  deadUrl,
  endedEvent,
  hook,
  progressEvent,
  startReceiver,
  tempDir,
  waitList,
} from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(...args: Parameters<typeof startReceiver>) {
  const r = await startReceiver(...args);
  cleanups.push(r.close);
  return r;
}

function dispatcher(opts: Partial<WebhookDispatcherOptions> & Pick<WebhookDispatcherOptions, 'webhooks'>) {
  const results = waitList<WebhookResult>();
  const clock = fakeClock();
  const { logger, lines } = captureLogger();
  const d = createWebhookDispatcher({
    spoolDir: null,
    clock,
    logger,
    random: () => 0.5,
    onResult: (r) => results.push(r),
    ...opts,
  });
  cleanups.push(() => d.close({ flushTimeoutMs: 0 }));
  return { d, clock: (opts.clock as ReturnType<typeof fakeClock> | undefined) ?? clock, results, lines };
}

describe('webhook delivery', () => {
  it('POSTs the event as JSON with event, delivery and a signature a receiver can verify', async () => {
    const r = await receiver();
    const { d, results } = dispatcher({ webhooks: [hook(r.url, { secret: 's3cret' })] });
    const event = endedEvent(1);
    d.enqueue(event);
    await results.until(1);
    expect(results.items).toEqual(['delivered']);
    const [got] = r.received.items;
    expect(got?.headers['content-type']).toBe('application/json');
    expect(got?.headers['x-sippbx-event']).toBe('call.ended');
    expect(got?.headers['x-sippbx-delivery']).toBe(event.id);
    expect(got?.headers['x-sippbx-attempt']).toBe('1');
    const expected =
      'sha256=' +
      createHmac('sha256', 's3cret')
        .update(Buffer.from(got?.body ?? ''))
        .digest('hex');
    expect(got?.headers['x-sippbx-signature']).toBe(expected);
    expect(JSON.parse(got?.body ?? '')).toEqual(event);
  });

  it('sends no signature header without a secret', async () => {
    const r = await receiver();
    const { d, results } = dispatcher({ webhooks: [hook(r.url)] });
    d.enqueue(progressEvent('call.started', 1));
    await results.until(1);
    expect(r.received.items[0]?.headers['x-sippbx-signature']).toBeUndefined();
  });

  it('delivers only the event types each webhook subscribed to', async () => {
    const all = await receiver();
    const endedOnly = await receiver();
    const { d, results } = dispatcher({
      webhooks: [hook(all.url), hook(endedOnly.url, { events: ['call.ended'] })],
    });
    for (const e of [...callEvents(1), ...callEvents(2)]) d.enqueue(e);
    await results.until(8);
    expect(all.received.items.map((x) => x.headers['x-sippbx-event'])).toHaveLength(6);
    expect(endedOnly.received.items.map((x) => x.headers['x-sippbx-event'])).toEqual([
      'call.ended',
      'call.ended',
    ]);
  });

  it('retries a 500 twice with backoff, then delivers exactly once more', async () => {
    const r = await receiver((_req, n) => ({ status: n < 2 ? 500 : 200 }));
    const { d, clock, results } = dispatcher({ webhooks: [hook(r.url)] });
    d.enqueue(endedEvent(1));
    await results.until(1);
    expect(results.items).toEqual(['retry']);
    clock.advance(499); // full jitter: random 0.5 of a 1000 ms ceiling
    expect(r.received.items).toHaveLength(1);
    clock.advance(1);
    await results.until(2);
    clock.advance(1000); // second retry: 0.5 of 2000 ms
    await results.until(3);
    expect(results.items).toEqual(['retry', 'retry', 'delivered']);
    expect(r.received.items.map((x) => x.headers['x-sippbx-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(r.received.items.map((x) => x.headers['x-sippbx-delivery']))).toEqual(
      new Set([endedEvent(1).id]),
    );
    expect(clock.pending()).toBe(0);
  });

  it('retries after a timeout', async () => {
    const r = await receiver((_req, n) => (n === 0 ? 'hang' : { status: 204 }));
    const { d, clock, results } = dispatcher({
      webhooks: [hook(r.url, { timeoutMs: 2000 })],
      random: () => 0,
    });
    d.enqueue(endedEvent(1));
    await r.received.until(1);
    clock.advance(2000);
    await results.until(2);
    expect(results.items).toEqual(['retry', 'delivered']);
  });

  it('does not retry a 400 and dead-letters it as rejected', async () => {
    const dir = tempDir();
    const r = await receiver(() => ({ status: 400 }));
    const { d, results } = dispatcher({ webhooks: [hook(r.url)], spoolDir: dir });
    d.enqueue(endedEvent(1));
    await results.until(1);
    await d.close();
    expect(results.items).toEqual(['failed']);
    expect(r.received.items).toHaveLength(1);
    const letters = readJsonLines(deadLetterPath(dir)).records as Record<string, unknown>[];
    expect(letters).toMatchObject([
      { reason: 'rejected', lastError: 'HTTP 400', attempts: 1, id: endedEvent(1).id },
    ]);
    expect(readFileSync(spoolPath(dir, 0), 'utf8')).toBe('');
  });

  it('dead-letters after maxAttempts with the last error', async () => {
    const dir = tempDir();
    const r = await receiver(() => ({ status: 502 }));
    const { d, results, lines } = dispatcher({
      webhooks: [hook(r.url, { maxAttempts: 3 })],
      spoolDir: dir,
      random: () => 0,
    });
    d.enqueue(endedEvent(7));
    await results.until(3);
    await d.close();
    expect(results.items).toEqual(['retry', 'retry', 'dead-letter']);
    const letters = readJsonLines(deadLetterPath(dir)).records;
    expect(letters).toMatchObject([
      { reason: 'exhausted', lastError: 'HTTP 502', attempts: 3, url: r.url, webhook: 0 },
    ]);
    expect(lines.some((l) => l.msg === 'webhook delivery dead-lettered' && l.callId === 'call-7')).toBe(true);
  });

  it('counts network errors as retries', async () => {
    const { d, results } = dispatcher({
      webhooks: [hook(await deadUrl(), { maxAttempts: 2 })],
      random: () => 0,
    });
    d.enqueue(endedEvent(1));
    await results.until(2);
    expect(results.items).toEqual(['retry', 'dead-letter']);
  });
});

/** A fetch whose answers the test scripts; calls are visible synchronously. */
function scriptedFetch(
  answers: (n: number) => { status: number; headers?: Record<string, string> } | 'hang',
) {
  const calls: { url: string; headers: Record<string, string>; body: string }[] = [];
  const fetch: FetchLike = (url, init) => {
    const n = calls.length;
    calls.push({ url, headers: init.headers, body: init.body });
    const a = answers(n);
    if (a === 'hang') {
      return new Promise((_resolve, reject) =>
        init.signal.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    }
    const headers = new Headers(a.headers ?? {});
    return Promise.resolve({
      status: a.status,
      headers,
      arrayBuffer: () => Promise.resolve(new ArrayBuffer(0)),
    });
  };
  return { fetch, calls };
}

describe('webhook retry policy', () => {
  it('honours Retry-After seconds on 429 for the whole endpoint', async () => {
    const s = scriptedFetch((n) =>
      n === 0 ? { status: 429, headers: { 'retry-after': '3' } } : { status: 200 },
    );
    const { d, clock, results } = dispatcher({
      webhooks: [hook('http://127.0.0.1:1/hook')],
      fetch: s.fetch,
      random: () => 0,
    });
    d.enqueue(endedEvent(1));
    await results.until(1);
    d.enqueue(endedEvent(2)); // held back by the pause too
    clock.advance(2999);
    expect(s.calls).toHaveLength(1);
    clock.advance(1);
    await results.until(3);
    expect(s.calls.map((c) => c.headers['X-Sippbx-Delivery']).sort()).toEqual([
      endedEvent(1).id,
      endedEvent(1).id,
      endedEvent(2).id,
    ]);
  });

  it('honours a Retry-After HTTP date on 503', async () => {
    const wall = Date.parse('2025-01-01T00:00:00Z');
    const s = scriptedFetch((n) =>
      n === 0
        ? { status: 503, headers: { 'retry-after': 'Wed, 01 Jan 2025 00:00:10 GMT' } }
        : { status: 200 },
    );
    const { d, clock, results } = dispatcher({
      webhooks: [hook('http://127.0.0.1:1/hook')],
      fetch: s.fetch,
      wallNow: () => wall,
    });
    d.enqueue(endedEvent(1));
    await results.until(1);
    clock.advance(9999);
    expect(s.calls).toHaveLength(1);
    clock.advance(1);
    await results.until(2);
    expect(results.items).toEqual(['retry', 'delivered']);
  });

  it('keeps at most `concurrency` requests in flight per webhook', async () => {
    const s = scriptedFetch(() => 'hang');
    const { d } = dispatcher({ webhooks: [hook('http://127.0.0.1:1/hook')], fetch: s.fetch, concurrency: 2 });
    for (let i = 0; i < 5; i++) d.enqueue(endedEvent(i));
    await Promise.resolve();
    expect(s.calls).toHaveLength(2);
  });

  it('without a spool, drops events beyond the in-memory queue and counts them failed', () => {
    const s = scriptedFetch(() => 'hang');
    const { d, results } = dispatcher({
      webhooks: [hook('http://127.0.0.1:1/hook')],
      fetch: s.fetch,
      maxQueue: 2,
    });
    for (let i = 0; i < 4; i++) d.enqueue(endedEvent(i));
    expect(results.items).toEqual(['failed', 'failed']);
  });

  it('does not let a throwing onResult affect delivery', async () => {
    const r = await receiver();
    const seen = waitList<string>();
    const { d } = dispatcher({
      webhooks: [hook(r.url)],
      onResult: (x) => {
        seen.push(x);
        throw new Error('metrics broke');
      },
    });
    d.enqueue(endedEvent(1));
    d.enqueue(endedEvent(2));
    await seen.until(2);
    expect(seen.items).toEqual(['delivered', 'delivered']);
  });
});
