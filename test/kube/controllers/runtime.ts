/**
 * The small controller runtime our controllers share: informers that restart after errors (the
 * client-node informer stops on a non-410 error) and a per-key work queue that never runs one key
 * twice at once, coalesces bursts and retries failures with backoff (controller-runtime's shape).
 */
import { makeInformer } from '@kubernetes/client-node';
import type {
  Informer,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  ObjectCache,
} from '@kubernetes/client-node';

/** A started informer: its cache, and `stop()`. */
export interface Watched<T extends KubernetesObject> extends ObjectCache<T> {
  /** Resolves after the first list has been delivered. */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

/** Options of `watchResource`. */
export interface WatchOptions<T extends KubernetesObject> {
  readonly kc: KubeConfig;
  /** Collection path, e.g. `/api/v1/pods`. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  /** Called for every add, update and delete (with the object as last seen). */
  readonly onChange: (obj: T, verb: 'add' | 'update' | 'delete') => void;
  /** Called when the watch fails, before the restart. */
  readonly onError?: (err: unknown) => void;
  /** Delay before restarting after an error; default 200 ms. */
  readonly restartDelayMs?: number;
}

/** Starts an informer on `path`; on errors it restarts (a re-list) after a short delay. */
export function watchResource<T extends KubernetesObject>(opts: WatchOptions<T>): Watched<T> {
  const informer: Informer<T> & ObjectCache<T> = makeInformer(opts.kc, opts.path, opts.list);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  informer.on('add', (o) => opts.onChange(o, 'add'));
  informer.on('update', (o) => opts.onChange(o, 'update'));
  informer.on('delete', (o) => opts.onChange(o, 'delete'));
  const start = (): Promise<void> => informer.start();
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    opts.onError?.(err);
    timer = setTimeout(() => {
      timer = undefined;
      if (!stopped) start().catch((e: unknown) => opts.onError?.(e));
    }, opts.restartDelayMs ?? 200);
  });
  const synced = start();
  return {
    synced,
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await informer.stop();
    },
  };
}

/** What a reconcile asks for: nothing, or another look after a delay. */
export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

/** A per-key queue: `add(key)` schedules `reconcile(key)`; one run per key at a time. */
export interface WorkQueue {
  add(key: string, afterMs?: number): void;
  /** Resolves when nothing is running or due within 0 ms (for tests). */
  stop(): Promise<void>;
}

/** Creates a work queue over `reconcile`; failures are retried with backoff (50 ms doubling to 2 s). */
export function createWorkQueue(
  reconcile: (key: string) => Promise<ReconcileResult>,
  onError: (key: string, err: unknown) => void = () => undefined,
): WorkQueue {
  const running = new Map<string, Promise<void>>();
  const dirty = new Set<string>();
  const timers = new Map<string, NodeJS.Timeout>();
  const failures = new Map<string, number>();
  let stopped = false;

  const run = (key: string): void => {
    if (stopped) return;
    if (running.has(key)) {
      dirty.add(key);
      return;
    }
    const p = (async () => {
      let result: ReconcileResult;
      try {
        result = await reconcile(key);
        failures.delete(key);
      } catch (err) {
        if (stopped) return;
        onError(key, err);
        const n = (failures.get(key) ?? 0) + 1;
        failures.set(key, n);
        result = { requeueAfterMs: Math.min(2000, 50 * 2 ** (n - 1)) };
      }
      if (result.requeueAfterMs !== undefined) add(key, result.requeueAfterMs);
    })().finally(() => {
      running.delete(key);
      if (dirty.delete(key)) run(key);
    });
    running.set(key, p);
  };

  const add = (key: string, afterMs = 0): void => {
    if (stopped) return;
    if (afterMs <= 0) {
      run(key);
      return;
    }
    const existing = timers.get(key);
    if (existing !== undefined) clearTimeout(existing);
    timers.set(
      key,
      setTimeout(() => {
        timers.delete(key);
        run(key);
      }, afterMs),
    );
  };

  return {
    add,
    async stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...running.values()]);
    },
  };
}

/** The HTTP status of a client-node error (`ApiException.code`), if any. */
export function statusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** Runs `fn`, treating 404 (already gone) and, when asked, 409 (already there) as success. */
export async function tolerate<T>(
  fn: () => Promise<T>,
  codes: readonly number[] = [404],
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const code = statusOf(err);
    if (code !== undefined && codes.includes(code)) return undefined;
    throw err;
  }
}
