// Typed in-process access to the server's objects for test setup and assertions, with the same
// semantics (admission, conflicts, finalizers, GC, events) as the REST API.
import type { Api, Target } from './api.js';
import type { DeleteOptions } from './deletion.js';
import type { KubeObject, ResourceRef } from './types.js';

/** A resource: `{group, version, resource}` or a string `"apps/v1/statefulsets"` / `"v1/pods"`. */
export type ResourceSpec = ResourceRef | string;

/** An event seen by an in-process watcher. */
export interface ApiStoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

/** Selectors for list and watch. */
export interface SelectorOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

/** In-process access to stored objects. */
export interface ApiStore {
  /** One object; throws an ApiError (404) when missing. */
  get(r: ResourceSpec, namespace: string | undefined, name: string): KubeObject;
  /** One object or undefined. */
  find(r: ResourceSpec, namespace: string | undefined, name: string): KubeObject | undefined;
  /** Objects of a type (all namespaces when namespace is undefined). */
  list(r: ResourceSpec, namespace?: string, opts?: SelectorOptions): KubeObject[];
  /** Creates an object (namespace from metadata.namespace, default "default"). */
  create(r: ResourceSpec, obj: KubeObject): KubeObject;
  /** Replaces an object (409 on a stale metadata.resourceVersion); `status` writes only the status. */
  update(r: ResourceSpec, obj: KubeObject, opts?: { subresource?: 'status' }): KubeObject;
  /** Patches an object (merge, json, strategic). */
  patch(
    r: ResourceSpec,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type?: 'merge' | 'json' | 'strategic',
    opts?: { subresource?: 'status' | 'scale' },
  ): KubeObject;
  /** Deletes an object (finalizers and GC apply); returns its last state. */
  delete(r: ResourceSpec, namespace: string | undefined, name: string, opts?: DeleteOptions): KubeObject;
  /** Watches from now (or a resourceVersion); returns a function that stops the watch. */
  watch(
    r: ResourceSpec,
    namespace: string | undefined,
    onEvent: (ev: ApiStoreEvent) => void,
    opts?: { resourceVersion?: string },
  ): () => void;
  /** The current global resourceVersion. */
  resourceVersion(): string;
  /** Ends every open watch with ERROR 410 Expired, as after an etcd compaction. */
  expireWatches(): void;
}

/** Parses a ResourceSpec. */
export function toRef(r: ResourceSpec): ResourceRef {
  if (typeof r !== 'string') return r;
  const parts = r.split('/');
  if (parts.length === 2) return { group: '', version: parts[0] ?? '', resource: parts[1] ?? '' };
  return { group: parts[0] ?? '', version: parts[1] ?? '', resource: parts[2] ?? '' };
}

/** The ApiStore over an Api. */
export function makeApiStore(api: Api): ApiStore {
  const target = (r: ResourceSpec, namespace?: string, name?: string, subresource?: string): Target => {
    const ref = toRef(r);
    return {
      type: api.type(ref.group, ref.version, ref.resource),
      version: ref.version,
      ...(namespace === undefined ? {} : { namespace }),
      ...(name === undefined ? {} : { name }),
      ...(subresource === undefined ? {} : { subresource }),
    };
  };
  return {
    get: (r, ns, name) => api.get(target(r, ns, name)) as KubeObject,
    find: (r, ns, name) => {
      const t = target(r, ns, name);
      const obj = api.store.find(t.type, t.type.namespaced ? ns : undefined, name);
      return obj && api.present(obj, t);
    },
    list: (r, ns, opts = {}) => api.list(target(r, ns), opts.labelSelector, opts.fieldSelector).items,
    create: (r, obj) => api.create(target(r, obj.metadata.namespace ?? 'default'), obj),
    update: (r, obj, opts = {}) =>
      api.update(
        target(r, obj.metadata.namespace ?? 'default', obj.metadata.name, opts.subresource),
        obj,
      ) as KubeObject,
    patch: (r, ns, name, patch, type = 'merge', opts = {}) =>
      api.patch(target(r, ns, name, opts.subresource), type, patch) as KubeObject,
    delete: (r, ns, name, opts) => api.delete(target(r, ns, name), opts),
    watch: (r, ns, onEvent, opts = {}) => {
      const t = target(r, ns);
      const w = api.store.watch(
        t.type,
        t.type.namespaced ? ns : undefined,
        opts.resourceVersion ?? String(api.store.currentRv()),
        (ev) => onEvent({ type: ev.type, object: api.present(ev.object, t) }),
      );
      return () => w.stop();
    },
    resourceVersion: () => String(api.store.currentRv()),
    expireWatches: () => api.store.expireWatches(),
  };
}
