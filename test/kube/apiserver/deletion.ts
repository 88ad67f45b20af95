// Deletion: finalizers and deletionTimestamp, graceful pod deletion, and the garbage collector
// (ownerReference UIDs; background, foreground and orphan propagation).
import { conflict } from './errors.js';
import type { Store, StoreEvent } from './store.js';
import type { KubeObject, ResourceType } from './types.js';
import { clone, timestamp } from './util.js';

/** How dependents are treated when their owner is deleted. */
export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

/** Options of a DELETE (`metav1.DeleteOptions`). */
export interface DeleteOptions {
  propagationPolicy?: PropagationPolicy;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

const FOREGROUND = 'foregroundDeletion';

/** Deletes objects and collects garbage. */
export class Deleter {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
    store.addObserver((_t, ev) => this.observe(ev));
  }

  /** Deletes one object; returns its final state or its state while finalizers hold it. */
  delete(t: ResourceType, ns: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject {
    const obj = this.store.get(t, ns, name);
    this.checkPreconditions(t, obj, opts);
    if (opts.dryRun) return obj;
    const policy = opts.propagationPolicy ?? 'Background';
    if (policy === 'Orphan') this.orphanDependents(obj);
    if (obj.metadata.deletionTimestamp) return this.redelete(t, obj, policy, opts);
    const finalizers = [...(obj.metadata.finalizers ?? [])];
    if (policy === 'Foreground' && this.dependents(obj).length > 0) finalizers.push(FOREGROUND);
    const grace = this.graceSeconds(t, obj, opts);
    if (finalizers.length === 0 && grace === 0) return this.store.remove(t, obj);
    const next = clone(obj);
    next.metadata.finalizers = finalizers;
    next.metadata.deletionTimestamp = timestamp(new Date(this.store.now().getTime() + grace * 1000));
    next.metadata.deletionGracePeriodSeconds = grace;
    if (finalizers.length === 0) delete next.metadata.finalizers;
    const stored = this.store.commit(t, 'MODIFIED', next, obj);
    if (finalizers.includes(FOREGROUND)) this.deleteDependents(stored, 'Foreground');
    return stored;
  }

  private checkPreconditions(t: ResourceType, obj: KubeObject, opts: DeleteOptions): void {
    const p = opts.preconditions ?? {};
    const uidStale = p.uid !== undefined && p.uid !== obj.metadata.uid;
    const rvStale = p.resourceVersion !== undefined && p.resourceVersion !== obj.metadata.resourceVersion;
    if (uidStale || rvStale)
      throw conflict({ group: t.group, resource: t.resource, name: obj.metadata.name ?? '' });
  }

  /** Pods bound to a node terminate gracefully (the kubelet finishes with gracePeriodSeconds=0). */
  private graceSeconds(t: ResourceType, obj: KubeObject, opts: DeleteOptions): number {
    if (t.group !== '' || t.resource !== 'pods') return 0;
    const spec = (obj.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
    if (!spec.nodeName) return 0;
    return opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
  }

  /** A second DELETE of a terminating object: shortens grace to 0 when asked, else returns it. */
  private redelete(
    t: ResourceType,
    obj: KubeObject,
    _policy: PropagationPolicy,
    opts: DeleteOptions,
  ): KubeObject {
    const noFinalizers = (obj.metadata.finalizers ?? []).length === 0;
    if (opts.gracePeriodSeconds === 0 && noFinalizers) return this.store.remove(t, obj);
    return obj;
  }

  /** Objects whose ownerReferences name this object's uid. */
  dependents(owner: KubeObject): { type: ResourceType; obj: KubeObject }[] {
    const uid = owner.metadata.uid;
    const out: { type: ResourceType; obj: KubeObject }[] = [];
    for (const e of this.store.everything()) {
      if ((e.obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid)) out.push(e);
    }
    return out;
  }

  private deleteDependents(owner: KubeObject, policy: PropagationPolicy): void {
    for (const d of this.dependents(owner)) {
      if (d.obj.metadata.deletionTimestamp) continue;
      this.delete(d.type, d.obj.metadata.namespace, d.obj.metadata.name ?? '', { propagationPolicy: policy });
    }
  }

  private orphanDependents(owner: KubeObject): void {
    for (const d of this.dependents(owner)) {
      const next = clone(d.obj);
      next.metadata.ownerReferences = (next.metadata.ownerReferences ?? []).filter(
        (r) => r.uid !== owner.metadata.uid,
      );
      if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
      this.store.commit(d.type, 'MODIFIED', next, d.obj);
    }
  }

  /** After a removal: background-delete dependents whose owners are all gone; finish foreground owners. */
  private observe(ev: StoreEvent): void {
    if (ev.type !== 'DELETED') return;
    this.collectDependents(ev.object);
    this.finishForegroundOwners(ev.object);
    if (ev.typeKey === '/namespaces') this.emptyNamespace(ev.object.metadata.name ?? '');
  }

  private collectDependents(owner: KubeObject): void {
    for (const d of this.dependents(owner)) {
      const live = (d.obj.metadata.ownerReferences ?? []).some(
        (r) => r.uid !== owner.metadata.uid && this.uidExists(r.uid),
      );
      if (live) continue;
      if (d.obj.metadata.deletionTimestamp) continue;
      this.delete(d.type, d.obj.metadata.namespace, d.obj.metadata.name ?? '', {
        propagationPolicy: 'Background',
      });
    }
  }

  private finishForegroundOwners(dependent: KubeObject): void {
    for (const ref of dependent.metadata.ownerReferences ?? []) {
      const owner = this.findByUid(ref.uid);
      if (!owner || !(owner.obj.metadata.finalizers ?? []).includes(FOREGROUND)) continue;
      if (this.dependents(owner.obj).length > 0) continue;
      const next = clone(owner.obj);
      next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== FOREGROUND);
      this.store.update(owner.type, next.metadata.namespace, next.metadata.name ?? '', next);
    }
  }

  private emptyNamespace(ns: string): void {
    for (const e of [...this.store.everything()]) {
      if (e.type.namespaced && e.obj.metadata.namespace === ns) this.store.remove(e.type, e.obj);
    }
  }

  private uidExists(uid: string): boolean {
    return this.findByUid(uid) !== undefined;
  }

  private findByUid(uid: string): { type: ResourceType; obj: KubeObject } | undefined {
    for (const e of this.store.everything()) if (e.obj.metadata.uid === uid) return e;
    return undefined;
  }
}
