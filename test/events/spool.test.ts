import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createWebhookDispatcher, readJsonLines, readSpool, spoolPath } from '../../pbx/events/index.js';
import type { FetchLike, WebhookDispatcher, WebhookResult } from '../../pbx/events/index.js';
import { captureLogger, deadUrl, endedEvent, hook, startReceiver, tempDir, waitList } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function open(
  url: string,
  spoolDir: string,
  extra: { wallNow?: () => number; maxQueue?: number; concurrency?: number; fetch?: FetchLike } = {},
) {
  const results = waitList<WebhookResult>();
  const { logger, lines } = captureLogger();
  const d: WebhookDispatcher = createWebhookDispatcher({
    webhooks: [hook(url)],
    spoolDir,
    clock: fakeClock(),
    logger,
    random: () => 0.5,
    onResult: (r) => results.push(r),
    ...extra,
  });
  cleanups.push(() => d.close({ flushTimeoutMs: 0 }));
  return { d, results, lines };
}

describe('webhook spool', () => {
  it('survives a kill: 50 events spooled while the receiver is down are all delivered after a restart', async () => {
    const dir = tempDir();
    const down = open(await deadUrl(), dir);
    const events = Array.from({ length: 50 }, (_, i) => endedEvent(i));
    for (const e of events) down.d.enqueue(e);
    await down.results.until(50); // every first attempt failed; the object is dropped without close()
    expect(down.results.items.every((r) => r === 'retry')).toBe(true);
    expect(readSpool(spoolPath(dir, 0)).pending).toHaveLength(50);

    const r = await startReceiver();
    cleanups.push(r.close);
    // Next attempts were due seconds from now; an hour later they are all due at once.
    const up = open(r.url, dir, { wallNow: () => Date.now() + 3_600_000 });
    await up.results.until(50);
    expect(up.results.items.every((x) => x === 'delivered')).toBe(true);
    expect(r.ids()).toEqual(new Set(events.map((e) => e.id)));
    // Attempt counts carried over from the first run.
    expect(r.received.items.every((x) => x.headers['x-sippbx-attempt'] === '2')).toBe(true);
    // Everything acked: the spool is compacted to nothing.
    expect(statSync(spoolPath(dir, 0)).size).toBe(0);
  });

  it('keeps a delivery aborted by close() pending for the next start', async () => {
    const dir = tempDir();
    const hang: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) =>
        init.signal.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    const first = open('http://127.0.0.1:1/hook', dir, { fetch: hang });
    first.d.enqueue(endedEvent(1));
    await first.d.close({ flushTimeoutMs: 0 });
    await first.d.close(); // idempotent
    first.d.enqueue(endedEvent(2)); // after close: logged, not delivered
    expect(first.lines.some((l) => l.msg === 'webhook event after close: not delivered')).toBe(true);
    expect(readSpool(spoolPath(dir, 0)).pending.map((e) => e.id)).toEqual([endedEvent(1).id]);

    const r = await startReceiver();
    cleanups.push(r.close);
    const second = open(r.url, dir);
    await second.results.until(1);
    expect(r.ids()).toEqual(new Set([endedEvent(1).id]));
  });

  it('compacts on start to the pending entries and tolerates a partial trailing line', async () => {
    const dir = tempDir();
    const path = spoolPath(dir, 0);
    const line = (o: object) => JSON.stringify(o) + '\n';
    writeFileSync(
      path,
      line({ op: 'enqueue', id: 'e1', attempts: 0, nextAt: 0, event: endedEvent(1) }) +
        line({ op: 'enqueue', id: 'e2', attempts: 0, nextAt: 0, event: endedEvent(2) }) +
        line({ op: 'attempt', id: 'e2', attempts: 3, nextAt: 0, error: 'HTTP 500' }) +
        line({ op: 'ack', id: 'e1' }) +
        line({ op: 'noise' }) +
        '{"op":"enqueue","id":"e3","attem',
    );
    const s = open(await deadUrl(), dir, { fetch: () => new Promise(() => undefined) });
    expect(s.lines.some((l) => l.msg === 'spool lines skipped (partial or corrupt)' && l.skipped === 1)).toBe(
      true,
    );
    const { records, skipped } = readJsonLines(path);
    expect(skipped).toBe(0);
    expect(records).toMatchObject([{ op: 'enqueue', id: 'e2', attempts: 3 }]);
  });

  it('starts a new line after a partial one left by a crash', () => {
    const dir = tempDir();
    const path = spoolPath(dir, 0);
    writeFileSync(path, '{"op":"enq');
    const s = open('http://127.0.0.1:1/hook', dir, { fetch: () => new Promise(() => undefined) });
    s.d.enqueue(endedEvent(4));
    expect(
      readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
    ).toHaveLength(1);
    expect(readSpool(path).pending.map((e) => e.id)).toEqual([endedEvent(4).id]);
  });

  it('appends ack lines while entries are pending and truncates once all are acked', async () => {
    const dir = tempDir();
    const path = spoolPath(dir, 0);
    let release: (() => void)[] = [];
    const gated: FetchLike = () =>
      new Promise((resolve) =>
        release.push(() =>
          resolve({
            status: 200,
            headers: new Headers(),
            arrayBuffer: () => Promise.resolve(new ArrayBuffer(0)),
          }),
        ),
      );
    const s = open('http://127.0.0.1:1/hook', dir, { fetch: gated, concurrency: 1 });
    s.d.enqueue(endedEvent(1));
    s.d.enqueue(endedEvent(2));
    const pop = () => {
      const [first, ...rest] = release;
      release = rest;
      first?.();
    };
    pop();
    await s.results.until(1);
    expect(readJsonLines(path).records).toMatchObject([
      { op: 'enqueue' },
      { op: 'enqueue' },
      { op: 'ack', id: endedEvent(1).id },
    ]);
    pop();
    await s.results.until(2);
    expect(statSync(path).size).toBe(0);
  });

  it('holds at most maxQueue in memory and refills from the spool', async () => {
    const dir = tempDir();
    const r = await startReceiver();
    cleanups.push(r.close);
    const s = open(r.url, dir, { maxQueue: 2, concurrency: 1 });
    const events = Array.from({ length: 9 }, (_, i) => endedEvent(i));
    for (const e of events) s.d.enqueue(e);
    await s.results.until(9);
    expect(r.ids()).toEqual(new Set(events.map((e) => e.id)));
    expect(statSync(spoolPath(dir, 0)).size).toBe(0);
  });

  it('replays more than maxQueue spooled entries after a restart', async () => {
    const dir = tempDir();
    const path = spoolPath(dir, 0);
    for (let i = 0; i < 5; i++) {
      appendFileSync(
        path,
        JSON.stringify({ op: 'enqueue', id: `x${i}`, attempts: 0, nextAt: 0, event: endedEvent(i) }) + '\n',
      );
    }
    const r = await startReceiver();
    cleanups.push(r.close);
    const s = open(r.url, dir, { maxQueue: 2, concurrency: 1 });
    await s.results.until(5);
    expect(r.ids().size).toBe(5);
  });
});

describe('spool file', () => {
  it('rewrites itself to the pending entries once it grows past compactAfterLines', async () => {
    const { openSpool } = await import('../../pbx/events/spool.js');
    const path = spoolPath(tempDir(), 0);
    const spool = openSpool({
      path,
      clock: fakeClock(),
      logger: captureLogger().logger,
      compactAfterLines: 6,
    });
    for (let i = 0; i < 8; i++) spool.add({ id: `e${i}`, event: endedEvent(i), attempts: 0, nextAt: 0 });
    spool.add({ id: 'e0', event: endedEvent(0), attempts: 0, nextAt: 0 }); // duplicate: ignored
    spool.attempt('e1', 1, 5, 'HTTP 500');
    spool.attempt('nope', 1, 5, 'HTTP 500'); // unknown: ignored
    for (const id of ['e0', 'e2', 'e4', 'e5', 'e6']) spool.ack(id); // 14 lines, 3 pending: compacted
    spool.ack('e7');
    spool.ack('nope');
    expect(readJsonLines(path).records).toMatchObject([
      { op: 'enqueue', id: 'e1', attempts: 1, nextAt: 5 },
      { op: 'enqueue', id: 'e3', attempts: 0 },
      { op: 'enqueue', id: 'e7' },
      { op: 'ack', id: 'e7' },
    ]);
    expect(spool.pending()).toBe(2);
    expect(spool.load(new Set(['e1']), 10).map((e) => e.id)).toEqual(['e3']);
    await spool.close();
  });
});

describe('dispatcher close', () => {
  it('waits up to flushTimeoutMs for requests in flight, then aborts them', async () => {
    const clock = fakeClock();
    const dir = tempDir();
    const hang: FetchLike = () => new Promise(() => undefined); // ignores its signal on purpose
    const d = createWebhookDispatcher({
      webhooks: [hook('http://127.0.0.1:1/hook', { timeoutMs: 60_000 })],
      spoolDir: dir,
      clock,
      logger: captureLogger().logger,
      fetch: hang,
    });
    d.enqueue(endedEvent(1));
    const closed = d.close({ flushTimeoutMs: 500 });
    clock.advance(500);
    await closed;
    expect(readSpool(spoolPath(dir, 0)).pending.map((e) => e.id)).toEqual([endedEvent(1).id]);
  });
});
