/** Pod predicates and owner references shared by the controllers (the same tests kube-controller-manager uses). */
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';

/** True once the API server has marked the pod for deletion. */
export function isTerminating(obj: { metadata?: { deletionTimestamp?: Date | string | null } }): boolean {
  // Listed objects carry a Date (client-node deserializes), watched ones the raw string.
  const ts = obj.metadata?.deletionTimestamp;
  return ts !== undefined && ts !== null && ts !== '';
}

/** True for pods whose containers will not run again (phase Succeeded or Failed). */
export function isFinished(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** The pod's `Ready` condition is True. */
export function isReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Phase Running with a True `Ready` condition (`isRunningAndReady` upstream; deletion is checked apart). */
export function isRunningAndReady(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && isReady(pod);
}

/** An owner reference marking `owner` as the managing controller of a dependent. */
export function controllerRef(owner: {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}): V1OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** True when `obj` names `uid` as its managing controller. */
export function isControlledBy(
  obj: { metadata?: { ownerReferences?: V1OwnerReference[] } },
  uid: string | undefined,
): boolean {
  if (uid === undefined) return false;
  return (obj.metadata?.ownerReferences ?? []).some((r) => r.controller === true && r.uid === uid);
}

/** `namespace/name` of an object, the key work queues use. */
export function keyOf(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/** Splits a `namespace/name` key. */
export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** True when every `matchLabels` pair is present in `labels` (matchExpressions: In, NotIn, Exists, DoesNotExist). */
export function selectorMatches(
  selector:
    | {
        matchLabels?: Record<string, string>;
        matchExpressions?: { key: string; operator: string; values?: string[] }[];
      }
    | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (selector === undefined) return false;
  const have = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (have[k] !== v) return false;
  for (const expr of selector.matchExpressions ?? []) {
    const value = have[expr.key];
    const values = expr.values ?? [];
    const ok =
      expr.operator === 'In'
        ? value !== undefined && values.includes(value)
        : expr.operator === 'NotIn'
          ? value === undefined || !values.includes(value)
          : expr.operator === 'Exists'
            ? value !== undefined
            : expr.operator === 'DoesNotExist'
              ? value === undefined
              : false;
    if (!ok) return false;
  }
  return true;
}
