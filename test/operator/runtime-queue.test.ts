// The work queue in virtual time: de-duplication, one worker per key, backoff, forget, addAfter, shutdown.
import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createWorkQueue } from '../../operator/controller/runtime/queue.js';
import type { WorkQueueMetrics } from '../../operator/controller/runtime/queue.js';

const setup = (rateLimiter = {}) => {
  const clock = fakeClock();
  const queue = createWorkQueue({ name: 'test', clock, rateLimiter });
  return { clock, queue };
};

/** The delay (ms, in 1 ms steps) after which `key` shows up in the queue. */
const delayUntilQueued = (q: ReturnType<typeof setup>, max = 2_000_000): number => {
  let waited = 0;
  while (q.queue.len() === 0 && waited < max) {
    const step = waited < 10_000 ? 1 : 1000;
    q.clock.advance(step);
    waited += step;
  }
  return waited;
};

describe('work queue', () => {
  it('queues a key once however often it is added, in FIFO order', async () => {
    const { queue } = setup();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    queue.add('a');
    expect(queue.len()).toBe(2);
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    expect(queue.len()).toBe(0);
  });

  it('never hands a key in progress to a second worker; re-queues it when done', async () => {
    const { queue } = setup();
    queue.add('a');
    const first = await queue.get();
    expect(first).toBe('a');
    queue.add('a');
    queue.add('a');
    expect(queue.len()).toBe(0); // dirty, not waiting
    let second: string | undefined;
    const pending = queue.get().then((k) => (second = k));
    queue.add('b');
    await Promise.resolve();
    expect(second).toBe('b'); // the other worker gets b, not a
    await pending;
    let third: string | undefined;
    const p3 = queue.get().then((k) => (third = k));
    await Promise.resolve();
    expect(third).toBeUndefined();
    queue.done('a');
    await p3;
    expect(third).toBe('a'); // re-queued once after done
    queue.done('a');
    queue.done('b');
    expect(queue.len()).toBe(0);
    queue.done('nope'); // unknown keys are ignored
  });

  it('hands a key to a waiting worker as soon as it is added', async () => {
    const { queue } = setup();
    const waiting = queue.get();
    queue.add('x');
    expect(await waiting).toBe('x');
  });

  it('backs off per key exponentially from 5 ms and forget() resets it', async () => {
    const q = setup();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      q.queue.addRateLimited('a');
      delays.push(delayUntilQueued(q));
      expect(await q.queue.get()).toBe('a');
      q.queue.done('a');
    }
    expect(delays).toEqual([5, 10, 20, 40, 80]);
    expect(q.queue.numRequeues('a')).toBe(5);
    q.queue.forget('a');
    expect(q.queue.numRequeues('a')).toBe(0);
    q.queue.addRateLimited('a');
    expect(delayUntilQueued(q)).toBe(5);
  });

  it('caps the per-key backoff at 1000 s', () => {
    const q = setup({ qps: 1e9, burst: 1e9 });
    for (let i = 0; i < 30; i++) {
      q.queue.addRateLimited('c');
      q.clock.advance(1_000_000); // every retry falls due
      void q.queue.get(); // takes 'c' synchronously
      q.queue.done('c');
    }
    expect(q.queue.numRequeues('c')).toBe(30);
    q.queue.addRateLimited('c');
    expect(delayUntilQueued(q, 3_000_000)).toBe(1_000_000);
  });

  it('limits all keys together to 10 per second after a burst of 100', () => {
    const q = setup();
    for (let i = 0; i < 100; i++) q.queue.addRateLimited(`k${i}`);
    q.clock.advance(5);
    expect(q.queue.len()).toBe(100);
    q.queue.addRateLimited('late');
    q.clock.advance(90);
    expect(q.queue.len()).toBe(100);
    q.clock.advance(10);
    expect(q.queue.len()).toBe(101); // ~100 ms later: one token at 10 qps
  });

  it('addAfter queues after the delay, keeps the earliest, and adds at once for ms <= 0', () => {
    const q = setup();
    q.queue.addAfter('a', 100);
    q.queue.addAfter('a', 200);
    q.queue.addAfter('a', 50);
    q.clock.advance(49);
    expect(q.queue.len()).toBe(0);
    q.clock.advance(1);
    expect(q.queue.len()).toBe(1);
    q.clock.advance(500);
    expect(q.queue.len()).toBe(1);
    expect(q.clock.pending()).toBe(0);
    q.queue.addAfter('b', 0);
    expect(q.queue.len()).toBe(2);
  });

  it('shutdown() hands out the waiting keys, waits for keys in progress, then returns undefined', async () => {
    const q = setup();
    q.queue.add('a');
    q.queue.add('b');
    q.queue.addAfter('later', 10);
    const inProgress = await q.queue.get();
    let drained = false;
    const shut = q.queue.shutdown().then(() => (drained = true));
    expect(q.queue.isShuttingDown()).toBe(true);
    q.queue.add('c'); // ignored
    q.queue.addRateLimited('d'); // ignored
    q.queue.addAfter('e', 5); // ignored
    expect(q.clock.pending()).toBe(0); // the delayed key is dropped too
    expect(await q.queue.get()).toBe('b');
    q.queue.done('b');
    await Promise.resolve();
    expect(drained).toBe(false); // a is still in progress
    const last = q.queue.get();
    q.queue.done(inProgress ?? '');
    await shut;
    expect(drained).toBe(true);
    expect(await last).toBeUndefined();
    expect(await q.queue.get()).toBeUndefined();
  });

  it('shutdown({ discardWaiting }) drops waiting and re-added keys', async () => {
    const q = setup();
    q.queue.add('a');
    q.queue.add('b');
    expect(await q.queue.get()).toBe('a');
    q.queue.add('a'); // re-added while in progress
    const shut = q.queue.shutdown({ discardWaiting: true });
    expect(q.queue.len()).toBe(0);
    q.queue.done('a');
    await shut;
    expect(await q.queue.get()).toBeUndefined();
  });

  it('reports depth, adds, latencies and retries to its metrics hooks', async () => {
    const clock = fakeClock();
    const seen = {
      added: 0,
      depth: [] as number[],
      queued: [] as number[],
      worked: [] as number[],
      retried: 0,
    };
    const metrics: WorkQueueMetrics = {
      added: () => seen.added++,
      depth: (n) => seen.depth.push(n),
      queued: (s) => seen.queued.push(s),
      worked: (s) => seen.worked.push(s),
      retried: () => seen.retried++,
    };
    const queue = createWorkQueue({ name: 'm', clock, metrics });
    queue.add('a');
    queue.add('a');
    clock.advance(250);
    const key = await queue.get();
    clock.advance(1000);
    queue.done(key ?? '');
    queue.addRateLimited('a');
    expect(seen.added).toBe(1);
    expect(seen.depth).toEqual([1, 0]);
    expect(seen.queued).toEqual([0.25]);
    expect(seen.worked).toEqual([1]);
    expect(seen.retried).toBe(1);
  });
});
