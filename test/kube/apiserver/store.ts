// Storage core: one global resourceVersion, objects by group/resource/namespace/name, a bounded event
// history for watch resumption, and admission hooks (defaults, validation) run on every write.
import { randomUUID } from 'node:crypto';
import { alreadyExists, badRequest, conflict, gone, invalid, notFound } from './errors.js';
import { apiVersionOf } from './registry.js';
import type { KubeObject, ResourceType } from './types.js';
import { clone, jsonEqual, specPart, timestamp } from './util.js';

/** A change to one object, as recorded in the history and sent to watchers. */
export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The object after the change (for DELETED, the last state with the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the change (MODIFIED only). */
  old?: KubeObject;
  rv: number;
  typeKey: string;
}

/** The write being admitted. */
export interface Admission {
  type: ResourceType;
  op: 'create' | 'update';
  obj: KubeObject;
  old?: KubeObject;
  opts: WriteOptions;
}

/** Defaults or validates an object before it is stored; may throw an ApiError. */
export type Admitter = (a: Admission) => KubeObject;

/** Called after an object changed (for CRD serving, garbage collection). */
export type Observer = (type: ResourceType, ev: StoreEvent) => void;

/** Options of a create or update. */
export interface WriteOptions {
  /** Update through the `/status` subresource. */
  subresource?: 'status';
  dryRun?: boolean;
  /** The API version of the request (CRDs with several versions). */
  version?: string;
  /** `fieldValidation` of the request: Strict, Warn or Ignore. */
  fieldValidation?: string;
}

/** A live watch registration. */
export interface StoreWatch {
  stop(): void;
}

/** Options for the store. */
export interface StoreOptions {
  historyLimit?: number;
  now?: () => Date;
}

interface Bucket {
  type: ResourceType;
  objects: Map<string, KubeObject>;
}

interface Watcher {
  typeKey: string;
  namespace: string | undefined;
  send: (ev: StoreEvent) => void;
  expire: (rv: number) => void;
}

/** Key of a resource type's bucket. */
export function typeKey(t: { group: string; resource: string }): string {
  return `${t.group}/${t.resource}`;
}

function objKey(ns: string | undefined, name: string): string {
  return `${ns ?? ''}/${name}`;
}

/** The in-memory object store. */
export class Store {
  private rv = 0;
  private compactedRv = 0;
  private readonly buckets = new Map<string, Bucket>();
  private readonly history: StoreEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly admitters: Admitter[] = [];
  private readonly observers: Observer[] = [];
  private readonly historyLimit: number;
  /** The clock used for timestamps. */
  readonly now: () => Date;

  constructor(opts: StoreOptions = {}) {
    this.historyLimit = opts.historyLimit ?? 1000;
    this.now = opts.now ?? (() => new Date());
  }

  /** Adds an admission step (run in order on every create and update). */
  addAdmitter(a: Admitter): void {
    this.admitters.push(a);
  }

  /** Adds an observer of committed changes. */
  addObserver(o: Observer): void {
    this.observers.push(o);
  }

  /** The current global resourceVersion. */
  currentRv(): number {
    return this.rv;
  }

  private bucket(t: ResourceType): Bucket {
    const key = typeKey(t);
    let b = this.buckets.get(key);
    if (!b) {
      b = { type: t, objects: new Map() };
      this.buckets.set(key, b);
    } else b.type = t;
    return b;
  }

  /** Every stored object of every type, with its type. */
  *everything(): Generator<{ type: ResourceType; obj: KubeObject }> {
    for (const b of this.buckets.values()) for (const obj of b.objects.values()) yield { type: b.type, obj };
  }

  /** Drops all objects of a type (when its CRD is removed). */
  dropType(t: ResourceType): void {
    for (const obj of [...this.bucket(t).objects.values()]) this.remove(t, obj);
    this.buckets.delete(typeKey(t));
  }

  /** One object, or a 404. */
  get(t: ResourceType, ns: string | undefined, name: string): KubeObject {
    const obj = this.bucket(t).objects.get(objKey(ns, name));
    if (!obj) throw notFound({ group: t.group, resource: t.resource, name });
    return clone(obj);
  }

  /** One object, or undefined. */
  find(t: ResourceType, ns: string | undefined, name: string): KubeObject | undefined {
    const obj = this.bucket(t).objects.get(objKey(ns, name));
    return obj ? clone(obj) : undefined;
  }

  /** Objects of a type in a namespace (or all namespaces), sorted by namespace/name, and the list rv. */
  list(t: ResourceType, ns: string | undefined): { items: KubeObject[]; resourceVersion: string } {
    const items = [...this.bucket(t).objects.values()]
      .filter((o) => ns === undefined || o.metadata.namespace === ns)
      .sort((a, b) =>
        objKey(a.metadata.namespace, a.metadata.name ?? '').localeCompare(
          objKey(b.metadata.namespace, b.metadata.name ?? ''),
        ),
      )
      .map(clone);
    return { items, resourceVersion: String(this.rv) };
  }

  private admit(a: Admission): KubeObject {
    let obj = a.obj;
    for (const admitter of this.admitters) obj = admitter({ ...a, obj });
    return obj;
  }

  private nameFor(t: ResourceType, meta: KubeObject['metadata']): string {
    if (meta.name) return meta.name;
    if (meta.generateName) return meta.generateName + randomUUID().replace(/-/g, '').slice(0, 5);
    throw invalid({ group: t.group, resource: t.resource, kind: t.kind }, [
      { reason: 'FieldValueRequired', message: 'name or generateName is required', field: 'metadata.name' },
    ]);
  }

  /** Creates an object in namespace `ns` (409 if it exists). */
  create(t: ResourceType, ns: string | undefined, body: KubeObject, opts: WriteOptions = {}): KubeObject {
    const obj = clone(body);
    const meta = obj.metadata ?? {};
    if (t.namespaced && meta.namespace !== undefined && meta.namespace !== ns)
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    const name = this.nameFor(t, meta);
    if (this.bucket(t).objects.has(objKey(ns, name)))
      throw alreadyExists({ group: t.group, resource: t.resource, name });
    const { resourceVersion: _rv, deletionTimestamp: _d, ...rest } = meta;
    obj.metadata = {
      ...rest,
      name,
      ...(t.namespaced ? { namespace: ns ?? 'default' } : {}),
      uid: randomUUID(),
      creationTimestamp: timestamp(this.now()),
      ...(t.hasSpec ? { generation: 1 } : {}),
    };
    if (!t.namespaced) delete obj.metadata.namespace;
    obj.apiVersion = apiVersionOf(t.group, opts.version ?? t.versions[0] ?? 'v1');
    obj.kind = t.kind;
    if (t.status) delete obj.status;
    const admitted = this.admit({ type: t, op: 'create', obj, opts });
    if (opts.dryRun) return admitted;
    return this.commit(t, 'ADDED', admitted);
  }

  /** Replaces an object (PUT), honouring a resourceVersion precondition and the status subresource. */
  update(
    t: ResourceType,
    ns: string | undefined,
    name: string,
    body: KubeObject,
    opts: WriteOptions = {},
  ): KubeObject {
    const old = this.get(t, ns, name);
    const target = { group: t.group, resource: t.resource, name };
    if (body.metadata?.name !== undefined && body.metadata.name !== name)
      throw badRequest(
        `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`,
      );
    const rv = body.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw conflict(target);
    const next = this.merge(t, old, clone(body), opts.subresource);
    const admitted = this.admit({ type: t, op: 'update', obj: next, old, opts });
    if (jsonEqual(admitted, old) || opts.dryRun) return admitted;
    // Like the real registry's shouldDeleteDuringUpdate: an update removes an object being deleted only
    // once no finalizer is left AND no graceful deletion period is still running (a pod the kubelet is
    // stopping keeps deletionGracePeriodSeconds > 0 until it confirms with a DELETE of grace 0).
    const graceful = (admitted.metadata.deletionGracePeriodSeconds ?? 0) > 0;
    if (
      admitted.metadata.deletionTimestamp &&
      (admitted.metadata.finalizers ?? []).length === 0 &&
      !graceful
    ) {
      return this.remove(t, admitted);
    }
    return this.commit(t, 'MODIFIED', admitted, old);
  }

  private merge(t: ResourceType, old: KubeObject, body: KubeObject, sub: 'status' | undefined): KubeObject {
    if (sub === 'status') {
      const next = clone(old);
      if (body.status === undefined) delete next.status;
      else next.status = body.status;
      return next;
    }
    const meta = body.metadata ?? {};
    const next = { ...body, apiVersion: old.apiVersion, kind: old.kind } as KubeObject;
    next.metadata = {
      ...meta,
      name: old.metadata.name,
      uid: old.metadata.uid,
      creationTimestamp: old.metadata.creationTimestamp,
      resourceVersion: old.metadata.resourceVersion,
    } as KubeObject['metadata'];
    if (old.metadata.namespace !== undefined) next.metadata.namespace = old.metadata.namespace;
    for (const k of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'] as const) {
      if (old.metadata[k] === undefined) delete next.metadata[k];
      else next.metadata[k] = old.metadata[k] as never;
    }
    if (t.status) {
      if (old.status === undefined) delete next.status;
      else next.status = old.status;
    }
    if (t.hasSpec && !jsonEqual(specPart(next), specPart(old)))
      next.metadata.generation = (old.metadata.generation ?? 0) + 1;
    return next;
  }

  /** Stores a new state of an object under a fresh resourceVersion and notifies. */
  commit(t: ResourceType, type: 'ADDED' | 'MODIFIED', obj: KubeObject, old?: KubeObject): KubeObject {
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    this.bucket(t).objects.set(objKey(stored.metadata.namespace, stored.metadata.name ?? ''), stored);
    this.emit(t, { type, object: stored, ...(old ? { old } : {}), rv: this.rv, typeKey: typeKey(t) });
    return clone(stored);
  }

  /** Removes an object for good (DELETED event) and notifies observers (garbage collection). */
  remove(t: ResourceType, obj: KubeObject): KubeObject {
    const key = objKey(obj.metadata.namespace, obj.metadata.name ?? '');
    if (!this.bucket(t).objects.delete(key)) return clone(obj);
    const last = clone(obj);
    last.metadata.resourceVersion = String(++this.rv);
    this.emit(t, { type: 'DELETED', object: last, rv: this.rv, typeKey: typeKey(t) });
    return clone(last);
  }

  private emit(t: ResourceType, ev: StoreEvent): void {
    this.history.push(ev);
    while (this.history.length > this.historyLimit)
      this.compactedRv = this.history.shift()?.rv ?? this.compactedRv;
    for (const w of [...this.watchers]) {
      if (
        w.typeKey === ev.typeKey &&
        (w.namespace === undefined || w.namespace === ev.object.metadata.namespace)
      )
        w.send(ev);
    }
    for (const o of this.observers) o(t, ev);
  }

  /**
   * Watches a type from a resourceVersion: "" or "0" (or undefined) replays current objects as ADDED; a
   * number replays later history, or throws 410 Gone when it is older than the kept history.
   */
  watch(
    t: ResourceType,
    ns: string | undefined,
    fromRv: string | undefined,
    send: (ev: StoreEvent) => void,
    expire: (rv: number) => void = () => undefined,
  ): StoreWatch {
    const key = typeKey(t);
    const replay = this.replay(t, ns, fromRv);
    const w: Watcher = { typeKey: key, namespace: ns, send, expire };
    for (const ev of replay) send(ev);
    this.watchers.add(w);
    return { stop: () => this.watchers.delete(w) };
  }

  private replay(t: ResourceType, ns: string | undefined, fromRv: string | undefined): StoreEvent[] {
    if (fromRv === undefined || fromRv === '' || fromRv === '0') {
      return this.list(t, ns).items.map((object) => ({
        type: 'ADDED',
        object,
        rv: Number(object.metadata.resourceVersion),
        typeKey: typeKey(t),
      }));
    }
    const from = Number(fromRv);
    if (!Number.isInteger(from) || from < 0) throw badRequest(`invalid resource version: ${fromRv}`);
    if (from < this.compactedRv) throw gone(fromRv);
    const key = typeKey(t);
    return this.history.filter(
      (ev) => ev.rv > from && ev.typeKey === key && (ns === undefined || ev.object.metadata.namespace === ns),
    );
  }

  /** Ends every open watch with a 410 Expired error, as after an etcd compaction (tests). */
  expireWatches(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
    for (const w of [...this.watchers]) w.expire(this.rv);
  }
}
