/**
 * The StatefulSet controller's decisions as pure functions (modelled on kube-controller-manager's
 * `stateful_set_control.go`): pod identity, the desired pod of an ordinal, ControllerRevisions, what
 * to create or delete next, and the status to report.
 *
 * Known upstream behaviour kept on purpose: with `updateStrategy: OnDelete`, `status.currentRevision`
 * only advances when it was empty — rollout completion is read from `updatedReplicas`, as on a real
 * cluster.
 */
import type {
  V1ControllerRevision,
  V1Pod,
  V1PodTemplateSpec,
  V1StatefulSet,
  V1StatefulSetStatus,
} from '@kubernetes/client-node';
import { controllerRef, isFinished, isRunningAndReady, isTerminating } from './pods.js';
import { templateHash } from './revision.js';

/** Label naming the pod (lets a Service select one pod of a set). */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
/** Label carrying the pod's ordinal. */
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
/** Label carrying the revision a pod was created from: the ControllerRevision's name, `<set>-<hash>`. */
export const REVISION_LABEL = 'controller-revision-hash';

/** `<set>-<ordinal>`. */
export function podName(setName: string, ordinal: number): string {
  return `${setName}-${ordinal}`;
}

/** The ordinal of a pod of `setName`, or undefined when the name is not `<set>-<n>`. */
export function ordinalOf(setName: string, name: string): number | undefined {
  if (!name.startsWith(`${setName}-`)) return undefined;
  const rest = name.slice(setName.length + 1);
  if (!/^(0|[1-9][0-9]*)$/.test(rest)) return undefined;
  const n = Number(rest);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The hash naming the revision of a set's pod template (`controller-revision-hash`). */
export function revisionHashOf(set: V1StatefulSet): string {
  return templateHash(set.spec?.template ?? {}, set.status?.collisionCount ?? 0);
}

/** `<set>-<hash>`, the ControllerRevision's name. */
export function revisionName(setName: string, hash: string): string {
  return `${setName}-${hash}`;
}

/** A ControllerRevision recording `set`'s current template as revision number `revision`. */
export function newControllerRevision(set: V1StatefulSet, revision: number): V1ControllerRevision {
  const name = set.metadata?.name ?? '';
  const hash = revisionHashOf(set);
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: revisionName(name, hash),
      namespace: set.metadata?.namespace ?? 'default',
      labels: { ...(set.spec?.selector.matchLabels ?? {}), 'controller.kubernetes.io/hash': hash },
      ownerReferences: [
        controllerRef({ apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid: set.metadata?.uid ?? '' }),
      ],
    },
    // Upstream stores a strategic-merge patch that replaces the template; this is its content.
    data: { spec: { template: { ...(set.spec?.template ?? {}), $patch: 'replace' } } },
    revision,
  };
}

/** The template recorded in a ControllerRevision (undefined when it holds none). */
export function templateOfRevision(rev: V1ControllerRevision): V1PodTemplateSpec | undefined {
  const data = rev.data as { spec?: { template?: V1PodTemplateSpec & { $patch?: string } } } | undefined;
  const template = data?.spec?.template;
  if (template === undefined) return undefined;
  const { $patch: _patch, ...rest } = template;
  return rest;
}

/** The pod of `ordinal` built from `template` at revision `revision` (identity labels, hostname, owner). */
export function newStatefulSetPod(
  set: V1StatefulSet,
  template: V1PodTemplateSpec,
  ordinal: number,
  revision: string,
): V1Pod {
  const setName = set.metadata?.name ?? '';
  const name = podName(setName, ordinal);
  const spec = structuredClone(template.spec ?? { containers: [] });
  spec.hostname = name;
  // Each volumeClaimTemplate becomes the pod's claim `<template>-<pod>` (the claim objects are not created).
  for (const claim of set.spec?.volumeClaimTemplates ?? []) {
    const volume = claim.metadata?.name ?? '';
    if ((spec.volumes ?? []).some((v) => v.name === volume)) continue;
    spec.volumes = [
      ...(spec.volumes ?? []),
      { name: volume, persistentVolumeClaim: { claimName: `${volume}-${name}` } },
    ];
  }
  if (set.spec?.serviceName !== undefined && set.spec.serviceName !== '')
    spec.subdomain = set.spec.serviceName;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: set.metadata?.namespace ?? 'default',
      labels: {
        ...(template.metadata?.labels ?? {}),
        [POD_NAME_LABEL]: name,
        [POD_INDEX_LABEL]: String(ordinal),
        [REVISION_LABEL]: revision,
      },
      annotations: { ...(template.metadata?.annotations ?? {}) },
      ownerReferences: [
        controllerRef({
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          name: setName,
          uid: set.metadata?.uid ?? '',
        }),
      ],
    },
    spec,
  };
}

/** The inputs of one sync: the set's policy, its revisions (ControllerRevision names) and pods by ordinal. */
export interface SetSnapshot {
  readonly name: string;
  readonly replicas: number;
  readonly policy: 'OrderedReady' | 'Parallel';
  readonly strategy:
    { readonly type: 'RollingUpdate'; readonly partition: number } | { readonly type: 'OnDelete' };
  readonly currentRevision: string;
  readonly updateRevision: string;
  /** Owned pods, keyed by ordinal. */
  readonly pods: ReadonlyMap<number, V1Pod>;
}

/** One step of a sync (`revision` is a ControllerRevision name). */
export type SetAction =
  | { readonly kind: 'create'; readonly ordinal: number; readonly revision: string }
  | { readonly kind: 'delete'; readonly ordinal: number; readonly reason: 'failed' | 'condemned' | 'update' };

/** A snapshot of `set` and its pods, ready for `planStatefulSet`. */
export function snapshotOf(
  set: V1StatefulSet,
  pods: readonly V1Pod[],
  currentRevision: string,
  updateRevision: string,
): SetSnapshot {
  const name = set.metadata?.name ?? '';
  const byOrdinal = new Map<number, V1Pod>();
  for (const pod of pods) {
    const ordinal = ordinalOf(name, pod.metadata?.name ?? '');
    if (ordinal !== undefined) byOrdinal.set(ordinal, pod);
  }
  const strategy = set.spec?.updateStrategy;
  return {
    name,
    replicas: set.spec?.replicas ?? 1,
    policy: set.spec?.podManagementPolicy === 'Parallel' ? 'Parallel' : 'OrderedReady',
    strategy:
      strategy?.type === 'OnDelete'
        ? { type: 'OnDelete' }
        : { type: 'RollingUpdate', partition: strategy?.rollingUpdate?.partition ?? 0 },
    currentRevision,
    updateRevision,
    pods: byOrdinal,
  };
}

/** The revision a (re)created pod of `ordinal` gets: below a RollingUpdate partition, the current one. */
export function revisionForOrdinal(snap: SetSnapshot, ordinal: number): string {
  if (snap.strategy.type === 'RollingUpdate' && ordinal < snap.strategy.partition)
    return snap.currentRevision;
  return snap.updateRevision;
}

function revisionOf(pod: V1Pod): string | undefined {
  return pod.metadata?.labels?.[REVISION_LABEL];
}

/** Pass 1: replicas in ascending ordinal order; returns true when OrderedReady must stop here. */
function planReplicas(snap: SetSnapshot, out: SetAction[]): boolean {
  const monotonic = snap.policy === 'OrderedReady';
  for (let ordinal = 0; ordinal < snap.replicas; ordinal++) {
    const pod = snap.pods.get(ordinal);
    if (pod === undefined) {
      out.push({ kind: 'create', ordinal, revision: revisionForOrdinal(snap, ordinal) });
      if (monotonic) return true;
      continue;
    }
    if (isFinished(pod) && !isTerminating(pod)) {
      // A failed or completed pod is deleted and recreated on a later sync.
      out.push({ kind: 'delete', ordinal, reason: 'failed' });
      if (monotonic) return true;
      continue;
    }
    if (monotonic && (isTerminating(pod) || !isRunningAndReady(pod))) return true;
  }
  return false;
}

/** Pass 2: condemned pods (ordinal >= replicas), highest first; one at a time under OrderedReady. */
function planCondemned(snap: SetSnapshot, out: SetAction[]): boolean {
  const monotonic = snap.policy === 'OrderedReady';
  const condemned = [...snap.pods.keys()].filter((o) => o >= snap.replicas).sort((a, b) => b - a);
  for (const ordinal of condemned) {
    const pod = snap.pods.get(ordinal);
    if (pod === undefined) continue;
    if (isTerminating(pod)) {
      if (monotonic) return true;
      continue;
    }
    out.push({ kind: 'delete', ordinal, reason: 'condemned' });
    if (monotonic) return true;
  }
  return false;
}

/** Pass 3 (RollingUpdate): from the highest ordinal down to the partition, one pod at a time. */
function planRollingUpdate(snap: SetSnapshot, out: SetAction[]): void {
  if (snap.strategy.type !== 'RollingUpdate') return;
  for (let ordinal = snap.replicas - 1; ordinal >= snap.strategy.partition; ordinal--) {
    const pod = snap.pods.get(ordinal);
    if (pod === undefined) return;
    if (revisionOf(pod) !== snap.updateRevision && !isTerminating(pod)) {
      out.push({ kind: 'delete', ordinal, reason: 'update' });
      return;
    }
    if (isTerminating(pod) || !isRunningAndReady(pod)) return;
  }
}

/**
 * What to do next for a set, in order. OrderedReady: create ordinal i only when 0..i-1 are Running
 * and Ready, delete the highest condemned ordinal only when all replicas are, one at a time, waiting
 * for each deletion to finish. Parallel: create and delete without waiting. Updates (RollingUpdate)
 * always go one pod at a time, highest ordinal first, each after its predecessor is Ready.
 */
export function planStatefulSet(snap: SetSnapshot): SetAction[] {
  const out: SetAction[] = [];
  if (planReplicas(snap, out)) return out;
  if (planCondemned(snap, out)) return out;
  // Updates start once scaling has nothing left to do in this sync.
  if (out.length > 0) return out;
  planRollingUpdate(snap, out);
  return out;
}

/** The status a set reports for its pods (upstream `computeReplicaStatus` plus `completeRollingUpdate`). */
export function statefulSetStatus(
  set: V1StatefulSet,
  pods: readonly V1Pod[],
  currentRevision: string,
  updateRevision: string,
): V1StatefulSetStatus {
  let replicas = 0;
  let ready = 0;
  let current = 0;
  let updated = 0;
  for (const pod of pods) {
    replicas++;
    if (isRunningAndReady(pod)) ready++;
    const rev = revisionOf(pod);
    if (rev === currentRevision) current++;
    if (rev === updateRevision) updated++;
  }
  let currentRev = currentRevision;
  const rolling = (set.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
  if (rolling && updated === replicas && ready === replicas) {
    currentRev = updateRevision;
    current = updated;
  }
  return {
    observedGeneration: set.metadata?.generation ?? 0,
    replicas,
    readyReplicas: ready,
    availableReplicas: ready,
    currentReplicas: current,
    updatedReplicas: updated,
    currentRevision: currentRev,
    updateRevision,
    collisionCount: set.status?.collisionCount ?? 0,
  };
}
