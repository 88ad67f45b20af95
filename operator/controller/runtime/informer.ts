// A typed informer: client-node's list+watch cache (the ListWatch behind makeInformer) plus what a
// controller needs around it: queue keys from events (owner references included), restart with backoff
// when the list or watch fails, and hasSynced()/waitForSync(). client-node relists by itself on
// 410 Gone and resumes a dropped watch from the last resourceVersion; it gives up on any other error,
// which is where the restart comes in.
import { ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { operatorClock } from './clock.js';
import type { Clock, TimerHandle } from '../../../pbx/core/clock.js';
import type { Logger } from '../../../pbx/core/logger.js';
import type { WorkQueue } from './queue.js';

/** Which change an event handler sees. */
export type InformerEventType = 'add' | 'update' | 'delete';

/** Maps an object to the queue keys it concerns (its own key, its owner's, ...). */
export type KeyMapper<T extends KubernetesObject> = (obj: T) => readonly string[];

/** A resource to watch: `group` '' is the core API. */
export interface ResourceRef {
  group: string;
  version: string;
  /** Plural resource name, e.g. `configmaps`, `sippbxes`. */
  plural: string;
}

/** Options of createInformer. */
export interface InformerOptions<T extends KubernetesObject> {
  /** Name for logs and health output (default the plural). */
  name?: string;
  kubeConfig: KubeConfig;
  resource: ResourceRef;
  /** Namespace to watch; undefined watches all namespaces (or a cluster-scoped resource). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Lists the same objects the watch sees (same namespace and selectors). */
  list: () => Promise<KubernetesListObject<T>>;
  logger?: Logger;
  clock?: Clock;
  /** First restart delay after a failed list/watch in ms (default 500), doubled up to maxRestartDelayMs. */
  restartDelayMs?: number;
  /** Cap of the restart delay in ms (default 30,000). */
  maxRestartDelayMs?: number;
  /** Cap of client-node's own reconnect delay after a closed watch (it grows 1 s -> 30 s); default no cap. */
  maxReconnectDelayMs?: number;
  /** An informer failing for longer than this (ms) reports unhealthy (default 120,000). */
  stuckAfterMs?: number;
}

/** A running informer over objects of type T. */
export interface Informer<T extends KubernetesObject> {
  readonly name: string;
  /** Lists, then watches; resolves after the first attempt (see waitForSync for the cache). */
  start(): Promise<void>;
  /** Stops watching and restarting (idempotent). */
  stop(): Promise<void>;
  /** One cached object. */
  get(namespace: string | undefined, name: string): T | undefined;
  /** One cached object by queue key (`namespace/name` or `name`). */
  getByKey(key: string): T | undefined;
  /** Cached objects, of one namespace or all. */
  list(namespace?: string): readonly T[];
  /** Calls `fn` on every change seen after the call (the initial list arrives as adds). */
  onEvent(fn: (type: InformerEventType, obj: T) => void): void;
  /**
   * Adds the keys `map` returns (default the object's own key) to `queue` on every change. An update
   * also enqueues the keys the object mapped to before, so an owner that lost a child hears about it.
   */
  enqueueTo(queue: Pick<WorkQueue, 'add'>, map?: KeyMapper<T>): void;
  /** True once a full list is in the cache. */
  hasSynced(): boolean;
  /** Resolves true once synced, false if stopped first. */
  waitForSync(): Promise<boolean>;
  /** False while list/watch has been failing for longer than stuckAfterMs. */
  healthy(): boolean;
}

/** The API path of a resource collection, namespaced when `namespace` is given. */
export function resourcePath(resource: ResourceRef, namespace?: string): string {
  const prefix =
    resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `${prefix}${ns}/${resource.plural}`;
}

/** client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects. */
export function keyOf(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns === undefined || ns === '' ? name : `${ns}/${name}`;
}

/** Splits a key made by keyOf. */
export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/**
 * A KeyMapper to the owners of kind `kind` (and apiVersion, when given) named in an object's
 * ownerReferences; only the controller reference when `controllerOnly` (controller-runtime's
 * EnqueueRequestForOwner with OnlyControllerOwner). Owners live in the object's namespace.
 */
export function ownerKeys<T extends KubernetesObject>(
  kind: string,
  opts: { apiVersion?: string; controllerOnly?: boolean } = {},
): KeyMapper<T> {
  return (obj) => {
    const ns = obj.metadata?.namespace;
    const refs = obj.metadata?.ownerReferences ?? [];
    return refs
      .filter((r) => r.kind === kind && (opts.apiVersion === undefined || r.apiVersion === opts.apiVersion))
      .filter((r) => opts.controllerOnly !== true || r.controller === true)
      .map((r) => (ns === undefined || ns === '' ? r.name : `${ns}/${r.name}`));
  };
}

/** Creates an informer (not started). */
export function createInformer<T extends KubernetesObject>(opts: InformerOptions<T>): Informer<T> {
  const name = opts.name ?? opts.resource.plural;
  const clock = opts.clock ?? operatorClock();
  const log = opts.logger?.child({ informer: name });
  const baseDelay = opts.restartDelayMs ?? 500;
  const maxDelay = opts.maxRestartDelayMs ?? 30_000;
  const stuckAfter = opts.stuckAfterMs ?? 120_000;
  const cap = opts.maxReconnectDelayMs;
  let stopped = false;
  let listed = false;
  let synced = false;
  let errors = 0; // bumped by every failure, read around start() to see whether it succeeded
  let failingSince: number | undefined;
  let restartDelay = baseDelay;
  let restartTimer: TimerHandle | undefined;
  const syncWaiters: Array<(ok: boolean) => void> = [];

  const list = async (): Promise<KubernetesListObject<T>> => {
    if (stopped) throw new Error(`informer ${name} stopped`);
    const result = await opts.list();
    listed = true;
    return result;
  };
  const lw = new ListWatch<T>(
    resourcePath(opts.resource, opts.namespace),
    new Watch(opts.kubeConfig),
    list,
    false,
    opts.labelSelector,
    opts.fieldSelector,
    cap === undefined ? {} : { delayFn: (ms) => new Promise((r) => clock.setTimer(Math.min(ms, cap), r)) },
  );

  const settleSync = (ok: boolean): void => {
    if (ok) synced = true;
    for (const w of syncWaiters.splice(0)) w(ok);
  };
  const attempt = async (): Promise<void> => {
    const before = errors;
    try {
      await lw.start();
    } catch (err) {
      onError(err); // e.g. credentials that cannot be applied
      return;
    }
    if (stopped || errors !== before) return;
    restartDelay = baseDelay;
    failingSince = undefined;
    if (listed && !synced) settleSync(true);
  };
  function onError(err: unknown): void {
    if (stopped) return; // aborting the watch on stop reports an AbortError
    errors++;
    failingSince ??= clock.now();
    log?.warn({ err, retryInMs: restartDelay }, 'list/watch failed; restarting');
    if (restartTimer !== undefined) clock.clearTimer(restartTimer);
    restartTimer = clock.setTimer(restartDelay, () => {
      restartTimer = undefined;
      void attempt();
    });
    restartDelay = Math.min(maxDelay, restartDelay * 2);
  }
  lw.on('error', onError);

  const onEvent = (fn: (type: InformerEventType, obj: T) => void): void => {
    lw.on('add', (o) => fn('add', o));
    lw.on('update', (o) => fn('update', o));
    lw.on('delete', (o) => fn('delete', o));
  };

  return {
    name,
    start: () => {
      stopped = false;
      return attempt();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (restartTimer !== undefined) clock.clearTimer(restartTimer);
      restartTimer = undefined;
      await lw.stop();
      settleSync(false);
    },
    get: (namespace, objName) => lw.get(objName, namespace),
    getByKey(key) {
      const k = splitKey(key);
      return lw.get(k.name, k.namespace);
    },
    list: (namespace) => lw.list(namespace),
    onEvent,
    enqueueTo(queue, map = (o) => [keyOf(o)]) {
      const previous = new Map<string, readonly string[]>();
      onEvent((type, obj) => {
        const id = keyOf(obj);
        const keys = new Set([...(previous.get(id) ?? []), ...map(obj)]);
        if (type === 'delete') previous.delete(id);
        else previous.set(id, map(obj));
        for (const k of keys) queue.add(k);
      });
    },
    hasSynced: () => synced,
    waitForSync() {
      if (synced) return Promise.resolve(true);
      if (stopped) return Promise.resolve(false);
      return new Promise((resolve) => syncWaiters.push(resolve));
    },
    healthy: () => failingSince === undefined || clock.now() - failingSince <= stuckAfter,
  };
}
