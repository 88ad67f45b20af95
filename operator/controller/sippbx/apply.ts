// Applying desired objects: create when missing, update when a field we own differs. "Fields we own"
// are what desired sets (metadata labels/annotations/ownerReferences and everything outside metadata
// and status); the hash of those fields is kept in an annotation so a field removed from desired is
// noticed too, and a subset check catches hand edits. Updates carry the resourceVersion (409 ->
// ConflictError -> requeue), and server-allocated Service fields are kept.
import type { KubernetesObject, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import { contentHash, type DesiredState } from '../../desired/index.js';
import type { KubeClient, NamedObject } from '../kube.js';

/** Annotation holding the hash of the fields the operator applied. */
export const APPLIED_HASH_ANNOTATION = 'sippbx.dev/applied-hash';

/** What apply did to one object. */
export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

type Obj = KubernetesObject & Record<string, unknown>;

/** The fields of `obj` the operator owns. */
export function ownedFields(obj: NamedObject): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = obj as Obj & NamedObject;
  return {
    metadata: {
      labels: metadata.labels ?? {},
      annotations: metadata.annotations ?? {},
      ownerReferences: metadata.ownerReferences ?? [],
    },
    ...rest,
  };
}

/** True when every field of `want` has the same value in `have` (arrays: same length, element-wise). */
export function isSubset(want: unknown, have: unknown): boolean {
  if (Array.isArray(want))
    return Array.isArray(have) && want.length === have.length && want.every((w, i) => isSubset(w, have[i]));
  if (typeof want === 'object' && want !== null) {
    if (typeof have !== 'object' || have === null || Array.isArray(have)) return false;
    const h = have as Record<string, unknown>;
    return Object.entries(want).every(([k, w]) => w === undefined || isSubset(w, h[k]));
  }
  return isDeepStrictEqual(want, have) || (typeof want === 'number' && String(want) === have);
}

const ALLOCATED = ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy', 'healthCheckNodePort'] as const;

/** Service fields the API server allocates: kept from the existing object on update. */
function keepAllocated(existing: Obj, next: Obj): void {
  if (existing.kind !== 'Service') return;
  const had = (existing as V1Service).spec ?? {};
  const spec = ((next as V1Service).spec ??= {}) as Record<string, unknown>;
  for (const k of ALLOCATED) if (had[k] !== undefined && spec[k] === undefined) spec[k] = had[k];
  keepNodePorts(had.ports ?? [], (next as V1Service).spec?.ports ?? []);
}

function keepNodePorts(had: readonly V1ServicePort[], ports: V1ServicePort[]): void {
  for (const port of ports) {
    const old = had.find((p) => p.name === port.name);
    if (old?.nodePort !== undefined && port.nodePort === undefined) port.nodePort = old.nodePort;
  }
}

/** The existing object with our fields replaced by desired ones (other labels/annotations kept). */
function merged(existing: Obj, desired: NamedObject): Obj {
  const { metadata: _m, status: _s, ...fields } = desired as Obj & NamedObject;
  const meta = existing.metadata ?? {};
  const next: Obj = {
    ...existing,
    ...structuredClone(fields),
    metadata: {
      ...meta,
      labels: { ...meta.labels, ...desired.metadata.labels },
      annotations: { ...meta.annotations, ...desired.metadata.annotations },
      ...(desired.metadata.ownerReferences === undefined
        ? {}
        : { ownerReferences: desired.metadata.ownerReferences }),
    },
  };
  keepAllocated(existing, next);
  return next;
}

/** `desired` with the applied-hash annotation. */
function stamped<T extends NamedObject>(desired: T): T {
  const hash = contentHash(JSON.stringify(ownedFields(desired)));
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      annotations: { ...desired.metadata.annotations, [APPLIED_HASH_ANNOTATION]: hash },
    },
  };
}

/** Creates or updates one object. */
export async function applyObject(kube: KubeClient, desired: NamedObject): Promise<ApplyOutcome> {
  const want = stamped(desired);
  const existing = await kube.read<Obj>(want);
  if (existing === undefined) {
    await kube.create(want);
    return 'created';
  }
  const sameHash =
    existing.metadata?.annotations?.[APPLIED_HASH_ANNOTATION] ===
    want.metadata.annotations?.[APPLIED_HASH_ANNOTATION];
  if (sameHash && isSubset(ownedFields(want), existing)) return 'unchanged';
  await kube.replace(merged(existing, want) as Obj & NamedObject);
  return 'updated';
}

/** The desired objects in apply order: ConfigMaps and Secret (pods mount them), Services, workloads. */
export function applyOrder(d: DesiredState): NamedObject[] {
  const list: unknown[] = [
    ...d.configMaps,
    d.secret,
    ...d.services,
    ...(d.redis === undefined ? [] : [d.redis.service, d.redis.deployment]),
    d.statefulSet,
    d.pdb,
  ];
  return list as NamedObject[];
}

/** Deletes `ref` when it exists and is controlled by the owner `uid`. */
export async function pruneOwned(
  kube: KubeClient,
  ref: NamedObject,
  uid: string | undefined,
): Promise<boolean> {
  const existing = await kube.read(ref);
  const owned = (existing?.metadata?.ownerReferences ?? []).some(
    (r) => r.uid === uid && r.controller === true,
  );
  if (existing === undefined || !owned) return false;
  await kube.remove(ref);
  return true;
}
