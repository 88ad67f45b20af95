// Drain-safe rollout (ARCHITECTURE.md "Drain"): the StatefulSet uses OnDelete, and the operator replaces
// outdated pods itself, highest ordinal first, at most maxUnavailable at a time: drain -> delete ->
// wait until the new pod is Ready at the update revision -> next.
import type { V1StatefulSet } from '@kubernetes/client-node';
import { cancelDrain, deletePod, driveDrain, type DrainProgress } from './drain.js';
import { notify, type ReconcileContext } from './context.js';
import type { PodView } from './pods.js';

/** What the rollout step saw and did. */
export interface RolloutOutcome {
  /** The StatefulSet has observed its latest spec, so updateRevision is current. */
  readonly observed: boolean;
  readonly updateRevision: string | undefined;
  /** Pods below the target still on an older revision. */
  readonly outdated: number;
  /** Drains of pods being replaced. */
  readonly draining: DrainProgress[];
  /** Pods replaced in this reconcile. */
  readonly replaced: string[];
}

/** The StatefulSet's update revision once it has observed its latest generation. */
export function observedRevision(sts: V1StatefulSet | undefined): string | undefined {
  const gen = sts?.metadata?.generation;
  const seen = sts?.status?.observedGeneration;
  if (gen !== undefined && (seen === undefined || seen < gen)) return undefined;
  const rev = sts?.status?.updateRevision;
  return rev === undefined || rev === '' ? undefined : rev;
}

/** Ordinals below `target` that are unavailable for reasons other than an untouched outdated pod. */
function inFlight(pods: readonly PodView[], target: number, revision: string): number {
  let n = 0;
  for (let ordinal = 0; ordinal < target; ordinal++) {
    const v = pods.find((p) => p.ordinal === ordinal && !p.terminating);
    if (v === undefined) n++;
    else if (v.drainReason === 'rollout' || (v.revision === revision && !v.ready)) n++;
  }
  return n;
}

/** Drains one pod for the rollout and deletes it once drained. */
async function replace(c: ReconcileContext, v: PodView, replaced: string[]): Promise<DrainProgress> {
  const progress = await driveDrain(c, v, 'rollout');
  if (!progress.done) return progress;
  await deletePod(c, v.name);
  replaced.push(v.name);
  await notify(c, 'PodReplaced', `pod ${v.name} drained and deleted; it comes back at the new revision`);
  return progress;
}

/** One rollout step over the pods below `target`. */
export async function reconcileRollout(
  c: ReconcileContext,
  pods: readonly PodView[],
  target: number,
  sts: V1StatefulSet | undefined,
): Promise<RolloutOutcome> {
  const revision = observedRevision(sts);
  if (revision === undefined)
    return { observed: false, updateRevision: undefined, outdated: 0, draining: [], replaced: [] };
  const kept = pods.filter((v) => v.ordinal < target && !v.terminating);
  for (const v of kept.filter((p) => p.drainReason === 'rollout' && p.revision === revision))
    await cancelDrain(c, v);
  const replaced: string[] = [];
  const draining: DrainProgress[] = [];
  const rolling = kept.filter((v) => v.drainReason === 'rollout' && v.revision !== revision);
  for (const v of rolling) draining.push(await replace(c, v, replaced));
  const outdated = kept
    .filter((v) => v.revision !== revision && v.drainStartedAt === undefined)
    .sort((x, y) => y.ordinal - x.ordinal);
  const budget = c.pbx.spec.updateStrategy.maxUnavailable - inFlight(pods, target, revision);
  for (const v of outdated.slice(0, Math.max(0, budget))) draining.push(await replace(c, v, replaced));
  return {
    observed: true,
    updateRevision: revision,
    outdated: kept.filter((v) => v.revision !== revision).length,
    draining,
    replaced,
  };
}
