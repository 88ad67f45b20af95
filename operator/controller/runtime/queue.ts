// A rate-limited work queue with client-go's semantics (k8s.io/client-go/util/workqueue): a key is
// queued once however often it is added, is never handed to two workers at once, and a key added while
// it is processed is queued again when the worker calls done().
import { operatorClock } from './clock.js';
import type { Clock, TimerHandle } from '../../../pbx/core/clock.js';

/** Hooks a queue reports to (metrics.ts implements them with controller-runtime's workqueue_* names). */
export interface WorkQueueMetrics {
  /** A key entered the queue (not counted when it was already queued). */
  added(): void;
  /** Current number of keys waiting to be processed. */
  depth(n: number): void;
  /** Seconds a key waited between being queued and being handed to a worker. */
  queued(seconds: number): void;
  /** Seconds a worker spent on a key (get() to done()). */
  worked(seconds: number): void;
  /** A key was re-added through addRateLimited(). */
  retried(): void;
}

/** Per-key exponential backoff and overall token-bucket limits (client-go's DefaultControllerRateLimiter). */
export interface RateLimiterOptions {
  /** First per-key delay in ms (default 5). */
  baseDelayMs?: number;
  /** Cap of the per-key delay in ms (default 1,000,000 = 1000 s). */
  maxDelayMs?: number;
  /** Overall rate in keys per second (default 10). */
  qps?: number;
  /** Overall burst (default 100). */
  burst?: number;
}

/** Options of createWorkQueue. */
export interface WorkQueueOptions {
  /** Queue name: the `name` label of the workqueue metrics. */
  name: string;
  /** Time source (default the system clock). */
  clock?: Clock;
  /** Rate limiter settings. */
  rateLimiter?: RateLimiterOptions;
  /** Metrics hooks (default none). */
  metrics?: WorkQueueMetrics;
}

/** A de-duplicating, rate-limited queue of reconcile keys. */
export interface WorkQueue {
  /** The queue's name. */
  readonly name: string;
  /** Queues `key` now (ignored after shutdown). */
  add(key: string): void;
  /** Queues `key` after `ms`; of several pending delays for a key the earliest wins. */
  addAfter(key: string, ms: number): void;
  /** Queues `key` after the rate limiter's delay: max(per-key backoff, overall token bucket). */
  addRateLimited(key: string): void;
  /** Resets the per-key backoff of `key` (call after a successful reconcile). */
  forget(key: string): void;
  /** How often `key` was re-added through addRateLimited() since the last forget(). */
  numRequeues(key: string): number;
  /** The next key to process, marking it in progress; undefined once the queue is shut down and empty. */
  get(): Promise<string | undefined>;
  /** Marks `key` as processed; re-queues it when it was added while in progress. */
  done(key: string): void;
  /** Number of keys waiting (not counting keys in progress or delayed). */
  len(): number;
  /**
   * Stops accepting keys and resolves when every key handed out is done. Keys still waiting are handed
   * out to get() first (client-go's ShutDownWithDrain), unless `discardWaiting` drops them.
   */
  shutdown(opts?: { discardWaiting?: boolean }): Promise<void>;
  /** True after shutdown() was called. */
  isShuttingDown(): boolean;
}

type Delayed = { at: number; handle: TimerHandle };

/** The per-key exponential backoff and the overall token bucket; returns the delay for the next retry. */
function makeRateLimiter(
  clock: Clock,
  opts: RateLimiterOptions,
): {
  when(key: string): number;
  forget(key: string): void;
  retries(key: string): number;
} {
  const base = opts.baseDelayMs ?? 5;
  const max = opts.maxDelayMs ?? 1_000_000;
  const qps = opts.qps ?? 10;
  const burst = opts.burst ?? 100;
  const failures = new Map<string, number>();
  let tokens = burst;
  let last = clock.now();
  const bucketDelay = (): number => {
    const now = clock.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * qps);
    last = now;
    tokens -= 1;
    return tokens >= 0 ? 0 : (-tokens / qps) * 1000;
  };
  return {
    when(key) {
      const n = failures.get(key) ?? 0;
      failures.set(key, n + 1);
      const perKey = Math.min(max, base * 2 ** n);
      return Math.max(perKey, bucketDelay());
    },
    forget: (key) => void failures.delete(key),
    retries: (key) => failures.get(key) ?? 0,
  };
}

/** Creates a work queue (see WorkQueue). */
export function createWorkQueue(opts: WorkQueueOptions): WorkQueue {
  const clock = opts.clock ?? operatorClock();
  const metrics = opts.metrics;
  const limiter = makeRateLimiter(clock, opts.rateLimiter ?? {});
  const waiting: string[] = [];
  const dirty = new Map<string, number>(); // key -> time it was queued
  const processing = new Map<string, number>(); // key -> time it was handed out
  const delayed = new Map<string, Delayed>();
  const getters: Array<(key: string | undefined) => void> = [];
  const drained: Array<() => void> = [];
  let shuttingDown = false;

  const settleDrain = (): void => {
    if (!shuttingDown || waiting.length > 0 || processing.size > 0) return;
    for (const g of getters.splice(0)) g(undefined);
    for (const d of drained.splice(0)) d();
  };
  const handOut = (): string | undefined => {
    const key = waiting.shift();
    if (key === undefined) return undefined;
    const now = clock.now();
    metrics?.queued((now - (dirty.get(key) ?? now)) / 1000);
    metrics?.depth(waiting.length);
    dirty.delete(key);
    processing.set(key, now);
    return key;
  };
  const enqueue = (key: string): void => {
    if (shuttingDown || dirty.has(key)) return;
    metrics?.added();
    dirty.set(key, clock.now());
    if (processing.has(key)) return; // done() queues it again
    waiting.push(key);
    metrics?.depth(waiting.length);
    const getter = getters.shift();
    if (getter !== undefined) getter(handOut());
  };
  const addAfter = (key: string, ms: number): void => {
    if (shuttingDown) return;
    if (ms <= 0) return enqueue(key);
    const at = clock.now() + ms;
    const prev = delayed.get(key);
    if (prev !== undefined) {
      if (prev.at <= at) return;
      clock.clearTimer(prev.handle);
    }
    const handle = clock.setTimer(ms, () => {
      delayed.delete(key);
      enqueue(key);
    });
    delayed.set(key, { at, handle });
  };

  return {
    name: opts.name,
    add: enqueue,
    addAfter,
    addRateLimited(key) {
      if (shuttingDown) return;
      metrics?.retried();
      addAfter(key, limiter.when(key));
    },
    forget: (key) => limiter.forget(key),
    numRequeues: (key) => limiter.retries(key),
    get() {
      const key = handOut();
      if (key !== undefined || shuttingDown) return Promise.resolve(key);
      return new Promise((resolve) => getters.push(resolve));
    },
    done(key) {
      const started = processing.get(key);
      if (started === undefined) return;
      processing.delete(key);
      metrics?.worked((clock.now() - started) / 1000);
      if (dirty.has(key)) {
        waiting.push(key);
        metrics?.depth(waiting.length);
        const getter = getters.shift();
        if (getter !== undefined) getter(handOut());
      }
      settleDrain();
    },
    len: () => waiting.length,
    shutdown(shutdownOpts = {}) {
      shuttingDown = true;
      for (const d of delayed.values()) clock.clearTimer(d.handle);
      delayed.clear();
      if (shutdownOpts.discardWaiting === true) {
        waiting.splice(0);
        dirty.clear(); // keys re-added while in progress are dropped too
        metrics?.depth(0);
      }
      const done = new Promise<void>((resolve) => drained.push(resolve));
      settleDrain();
      return done;
    },
    isShuttingDown: () => shuttingDown,
  };
}
