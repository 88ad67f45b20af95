// Draining one pod: ask the pbx to drain (POST /api/v1/drain), remember when in a pod annotation, poll
// until it reports drained, its process is gone or its deadline (plus a margin) has passed. Every step
// is idempotent, so a reconcile may stop anywhere and the next one (or a new operator) picks it up.
import type { DrainStatus } from '../pbx-client.js';
import { formatTime } from '../../api/index.js';
import { notify, targetOf, type ReconcileContext } from './context.js';
import {
  DRAIN_REASON_ANNOTATION,
  DRAIN_STARTED_ANNOTATION,
  DRAINED_ANNOTATION,
  type DrainReason,
  type PodView,
} from './pods.js';

/** Seconds after the drain deadline before the operator stops waiting for a pod's answer. */
export const DRAIN_MARGIN_SECONDS = 10;

/** How far one pod's drain has come. */
export interface DrainProgress {
  readonly name: string;
  readonly ordinal: number;
  readonly reason: DrainReason;
  readonly startedAt: string;
  /** Drained, gone or past its deadline: the pod may be removed. */
  readonly done: boolean;
  readonly activeCalls?: number;
}

const podRef = (c: ReconcileContext, name: string) =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: c.namespace } }) as const;

/** Merge-patches pod annotations (null removes one). */
export async function annotatePod(
  c: ReconcileContext,
  name: string,
  annotations: Record<string, string | null>,
): Promise<void> {
  await c.kube.mergePatch(podRef(c, name), { metadata: { annotations } });
}

/** Deletes a pod (its StatefulSet recreates it at the update revision). */
export async function deletePod(c: ReconcileContext, name: string): Promise<void> {
  await c.kube.remove(podRef(c, name));
}

function deadlinePassed(c: ReconcileContext, startedAt: string): boolean {
  const started = Date.parse(startedAt);
  if (Number.isNaN(started)) return true;
  const limitMs = (c.pbx.spec.drain.timeoutSeconds + DRAIN_MARGIN_SECONDS) * 1000;
  return c.now().getTime() >= started + limitMs;
}

async function markDrained(c: ReconcileContext, v: PodView, why: string): Promise<void> {
  await annotatePod(c, v.name, { [DRAINED_ANNOTATION]: formatTime(c.now()) });
  c.log.info({ pod: v.name, why }, 'pod drained');
}

/** Asks the pbx for its drain state, starting the drain when it runs (first time, or after a restart). */
async function poll(c: ReconcileContext, ip: string): Promise<DrainStatus | 'gone' | 'unknown'> {
  try {
    const status = await c.pbxApi.drainStatus(targetOf(c, ip));
    if (status !== 'gone' && status.state === 'running')
      return await c.pbxApi.startDrain(targetOf(c, ip), c.pbx.spec.drain.timeoutSeconds);
    return status;
  } catch (err) {
    c.log.warn({ err, ip }, 'pbx drain API did not answer; retrying');
    return 'unknown';
  }
}

/** Starts (once) and follows the drain of `v`; returns its progress. */
export async function driveDrain(
  c: ReconcileContext,
  v: PodView,
  reason: DrainReason,
): Promise<DrainProgress> {
  let startedAt = v.drainStartedAt;
  const why = v.drainReason ?? reason;
  const progress = (done: boolean, activeCalls?: number): DrainProgress => ({
    name: v.name,
    ordinal: v.ordinal,
    reason: why,
    startedAt: startedAt ?? '',
    done,
    ...(activeCalls === undefined ? {} : { activeCalls }),
  });
  if (v.drainedAt !== undefined) return progress(true, 0);
  if (startedAt === undefined) {
    startedAt = formatTime(c.now());
    // The annotation first: if the POST is lost, the next reconcile sees `running` and posts again.
    await annotatePod(c, v.name, { [DRAIN_STARTED_ANNOTATION]: startedAt, [DRAIN_REASON_ANNOTATION]: why });
    await notify(
      c,
      'DrainStarted',
      `draining pod ${v.name} (${why}), deadline ${c.pbx.spec.drain.timeoutSeconds}s`,
    );
  }
  if (deadlinePassed(c, startedAt)) {
    await markDrained(c, v, 'deadline passed');
    return progress(true);
  }
  const status = v.ip === undefined ? 'gone' : await poll(c, v.ip);
  if (status === 'unknown') return progress(false);
  if (status === 'gone' || status.state === 'drained') {
    await markDrained(c, v, status === 'gone' ? 'process gone' : 'zero calls');
    return progress(true, 0);
  }
  return progress(false, status.activeCalls);
}

async function cancelAnswer(c: ReconcileContext, v: PodView): Promise<'canceled' | 'drained' | 'gone'> {
  if (v.drainedAt !== undefined) return 'drained';
  if (v.ip === undefined) return 'gone';
  return c.pbxApi.cancelDrain(targetOf(c, v.ip));
}

/**
 * Stops the drain of a pod that is kept after all (scale-up during a drain, rollout reverted): DELETE
 * /api/v1/drain and the annotations go; a pod that already drained cannot take calls again, so it is
 * deleted and the StatefulSet recreates it.
 */
export async function cancelDrain(c: ReconcileContext, v: PodView): Promise<void> {
  const answer = await cancelAnswer(c, v);
  if (answer === 'drained') {
    await deletePod(c, v.name);
    await notify(c, 'PodReplaced', `pod ${v.name} had drained before the drain was cancelled; recreating it`);
    return;
  }
  await annotatePod(c, v.name, {
    [DRAIN_STARTED_ANNOTATION]: null,
    [DRAIN_REASON_ANNOTATION]: null,
    [DRAINED_ANNOTATION]: null,
  });
  await notify(c, 'DrainCancelled', `pod ${v.name} is kept; its drain was cancelled`);
}
