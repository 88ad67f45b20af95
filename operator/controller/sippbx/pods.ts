// What the reconciler reads off a pbx pod: ordinal, revision, readiness and the drain bookkeeping it
// keeps in annotations (so a restarted operator resumes a drain: the state lives in the cluster).
import type { V1Pod } from '@kubernetes/client-node';

/** When the operator asked the pod to drain (RFC 3339). */
export const DRAIN_STARTED_ANNOTATION = 'sippbx.dev/drain-started';
/** Why: `scale-down`, `rollout` or `delete`. */
export const DRAIN_REASON_ANNOTATION = 'sippbx.dev/drain-reason';
/** When the operator saw the pod drained (or its process gone, or its deadline passed). */
export const DRAINED_ANNOTATION = 'sippbx.dev/drained-at';
/** The StatefulSet controller's revision label on pods. */
export const REVISION_LABEL = 'controller-revision-hash';

/** Why a pod drains. */
export type DrainReason = 'scale-down' | 'rollout' | 'delete';

/** A pbx pod as the reconciler sees it. */
export interface PodView {
  readonly pod: V1Pod;
  readonly name: string;
  readonly ordinal: number;
  readonly revision: string | undefined;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly ip: string | undefined;
  readonly drainStartedAt: string | undefined;
  readonly drainReason: DrainReason | undefined;
  readonly drainedAt: string | undefined;
}

const REASONS: readonly string[] = ['scale-down', 'rollout', 'delete'];

/** The ordinal of `<statefulSet>-<n>`, or undefined for a pod that is not one of its ordinals. */
export function ordinalOf(podName: string, statefulSet: string): number | undefined {
  const prefix = `${statefulSet}-`;
  if (!podName.startsWith(prefix)) return undefined;
  const rest = podName.slice(prefix.length);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

function isReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function reasonOf(value: string | undefined): DrainReason | undefined {
  return value !== undefined && REASONS.includes(value) ? (value as DrainReason) : undefined;
}

/** The view of one pod, or undefined when it is not an ordinal of `statefulSet`. */
export function viewPod(pod: V1Pod, statefulSet: string): PodView | undefined {
  const name = pod.metadata?.name ?? '';
  const ordinal = ordinalOf(name, statefulSet);
  if (ordinal === undefined) return undefined;
  const a = pod.metadata?.annotations ?? {};
  const ip = pod.status?.podIP;
  return {
    pod,
    name,
    ordinal,
    revision: pod.metadata?.labels?.[REVISION_LABEL],
    ready: isReady(pod),
    terminating: pod.metadata?.deletionTimestamp !== undefined,
    ip: ip === undefined || ip === '' ? undefined : ip,
    drainStartedAt: a[DRAIN_STARTED_ANNOTATION],
    drainReason: reasonOf(a[DRAIN_REASON_ANNOTATION]),
    drainedAt: a[DRAINED_ANNOTATION],
  };
}

/** Views of the pods of `statefulSet`, ordered by ordinal. */
export function viewPods(pods: readonly V1Pod[], statefulSet: string): PodView[] {
  return pods
    .map((p) => viewPod(p, statefulSet))
    .filter((v): v is PodView => v !== undefined)
    .sort((x, y) => x.ordinal - y.ordinal);
}
