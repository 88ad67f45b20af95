// The worker loop of controller-runtime's controller: pull a key, reconcile it, and decide from the
// outcome whether and when it comes back. Reconcile compares desired with actual state for one key;
// it never sees the event that queued it (STYLE.md).
import type { Logger } from '../../../pbx/core/logger.js';
import { isTerminalError } from './errors.js';
import type { ControllerMetrics, ReconcileOutcome } from './metrics.js';
import type { WorkQueue } from './queue.js';

/** What a reconcile asks for: nothing (done), a requeue with backoff, or a check again after a delay. */
export interface ReconcileResult {
  /** Reconcile the key again after this many ms (e.g. to poll a draining pod). */
  requeueAfterMs?: number;
  /** Reconcile again with the rate limiter's backoff, without counting an error. */
  requeue?: boolean;
}

/** Reconciles one key; throws to retry with backoff, throws a TerminalError to give up on it. */
export type Reconciler = (key: string) => Promise<ReconcileResult | void>;

/** What the controller waits for before its workers start. */
export interface SyncSource {
  waitForSync(): Promise<boolean>;
}

/** Options of createController. */
export interface ControllerOptions {
  /** The `controller` label of the metrics and the logger's `controller` field. */
  name: string;
  queue: WorkQueue;
  /** Informers whose caches must be synced before the first reconcile. */
  informers?: readonly SyncSource[];
  reconcile: Reconciler;
  /** Concurrent workers, 1..N (default 1); a key is never reconciled by two at once. */
  workers?: number;
  logger: Logger;
  metrics?: ControllerMetrics;
  /** Monotonic ms for durations (default performance.now). */
  now?: () => number;
}

/** A controller: workers draining a queue through a reconciler. */
export interface Controller {
  readonly name: string;
  /** Waits for the informers to sync, then starts the workers; resolves once they run (or on stop). */
  start(): Promise<void>;
  /** Stops taking keys, waits for reconciles in flight; idempotent. Keys still queued are dropped. */
  stop(): Promise<void>;
  /** True between the workers starting and stop(). */
  running(): boolean;
}

/** Creates a controller (not started). */
export function createController(opts: ControllerOptions): Controller {
  const workers = opts.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`workers must be an integer >= 1, got ${workers}`);
  const { queue, metrics } = opts;
  const now = opts.now ?? (() => performance.now());
  const log = opts.logger.child({ controller: opts.name });
  let state: 'new' | 'syncing' | 'running' | 'stopped' = 'new';
  let active = 0;
  let loops: Promise<void>[] = [];
  let onStop: (() => void) | undefined;
  const stopped = new Promise<'stopped'>((resolve) => (onStop = () => resolve('stopped')));

  const settle = (key: string, result: ReconcileResult | void): ReconcileOutcome => {
    if (result?.requeue === true) {
      queue.addRateLimited(key);
      return 'requeue';
    }
    queue.forget(key);
    const after = result?.requeueAfterMs;
    if (after === undefined || after <= 0) return 'success';
    queue.addAfter(key, after);
    return 'requeue_after';
  };
  const fail = (key: string, err: unknown): boolean => {
    const terminal = isTerminalError(err);
    if (terminal) {
      queue.forget(key);
      log.error({ err, key }, 'reconcile failed with a terminal error; not retrying');
    } else {
      log.error({ err, key, retries: queue.numRequeues(key) }, 'reconcile failed; retrying with backoff');
      queue.addRateLimited(key);
    }
    return terminal;
  };
  const processOne = async (key: string): Promise<void> => {
    const started = now();
    metrics?.activeWorkers(++active);
    let outcome: ReconcileOutcome;
    let terminal = false;
    try {
      outcome = settle(key, await opts.reconcile(key));
    } catch (err) {
      terminal = fail(key, err);
      outcome = 'error';
    } finally {
      metrics?.activeWorkers(--active);
      queue.done(key);
    }
    metrics?.reconciled(outcome, (now() - started) / 1000, terminal);
  };
  const worker = async (): Promise<void> => {
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) await processOne(key);
  };

  return {
    name: opts.name,
    async start() {
      if (state !== 'new') throw new Error(`controller ${opts.name} already started`);
      state = 'syncing';
      log.info('waiting for informers to sync');
      const synced = await Promise.race([
        Promise.all((opts.informers ?? []).map((i) => i.waitForSync())),
        stopped,
      ]);
      if (synced === 'stopped' || state !== 'syncing') return;
      if (synced.includes(false)) {
        log.warn('an informer stopped before it synced; not starting workers');
        return;
      }
      state = 'running';
      metrics?.maxConcurrent(workers);
      loops = Array.from({ length: workers }, () => worker());
      log.info({ workers }, 'workers started');
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      onStop?.();
      await queue.shutdown({ discardWaiting: true });
      await Promise.all(loops);
      log.info('stopped');
    },
    running: () => state === 'running',
  };
}
