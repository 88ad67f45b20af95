// Drain-safe scale-down (ARCHITECTURE.md "Drain"): pods with ordinal >= target drain first, and the
// StatefulSet keeps its replicas until every one of them has drained; a scale-up during a drain
// cancels it for the ordinals that are kept.
import { cancelDrain, driveDrain, type DrainProgress } from './drain.js';
import { notify, type ReconcileContext } from './context.js';
import type { PodView } from './pods.js';

/** What the scale step decided. */
export interface ScaleOutcome {
  /** Replicas to give the StatefulSet now. */
  readonly statefulSetReplicas: number;
  /** Drains of pods above the target. */
  readonly draining: DrainProgress[];
}

/** Cancels scale-down drains of pods below `target` (a scale-up came during the drain). */
async function cancelKept(c: ReconcileContext, pods: readonly PodView[], target: number): Promise<void> {
  const kept = pods.filter(
    (v) =>
      !v.terminating &&
      v.ordinal < target &&
      v.drainReason === 'scale-down' &&
      v.drainStartedAt !== undefined,
  );
  for (const v of kept) await cancelDrain(c, v);
}

/**
 * Drives the scale-down to `target` pods. `current` is the StatefulSet's replicas now (undefined when
 * it does not exist yet).
 */
export async function reconcileScale(
  c: ReconcileContext,
  pods: readonly PodView[],
  target: number,
  current: number | undefined,
): Promise<ScaleOutcome> {
  await cancelKept(c, pods, target);
  const surplus = pods.filter((v) => !v.terminating && v.ordinal >= target);
  const draining = await Promise.all(surplus.map((v) => driveDrain(c, v, 'scale-down')));
  const allDone = draining.every((d) => d.done);
  const now = current ?? target;
  if (!allDone && now > target) return { statefulSetReplicas: now, draining };
  if (now > target) {
    const names = surplus.map((v) => v.name).join(', ');
    await notify(c, 'Scaled', `scaled from ${now} to ${target} pods after ${names || 'no pod'} drained`);
  }
  return { statefulSetReplicas: target, draining };
}
