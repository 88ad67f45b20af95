// The SipPbx reconciler: reads the SipPbx and what it owns, computes the desired state with the pure
// functions of operator/desired, and moves the cluster one safe step towards it (apply, drain-safe
// scale-down, drain-safe rollout, cleanup on deletion), then writes the status. It never looks at the
// event that queued the key (STYLE.md: compare states, do not react to events).
export type { SipPbxReconcilerOptions } from './settings.js';
export { currentStatus } from './settings.js';
import { type ConditionInput, type SipPbx, type SipPbxStatus } from '../../api/index.js';
import { desiredState, objectNames, portPlan, type DesiredState } from '../../desired/index.js';
import { TerminalError, splitKey, type Reconciler, type ReconcileResult } from '../runtime/index.js';
import { ConflictError, type RawSipPbx } from '../kube.js';
import { applyObject, pruneOwned, type ApplyOutcome } from './apply.js';
import { targetOf, type ReconcileContext } from './context.js';
import { finalize, hasFinalizer, FINALIZER } from './finalize.js';
import { contextFor, currentStatus, observe, settings, writeStatus } from './settings.js';
import type { Settings, SipPbxReconcilerOptions } from './settings.js';
import { parseForReconcile } from './parse.js';
import type { PodView } from './pods.js';
import { reconcileRollout, type RolloutOutcome } from './rollout.js';
import { reconcileScale } from './scale.js';
import { buildStatus, withConditions } from './status.js';
import { applyOrder } from './apply.js';
import { portRangeConflicts } from './conflicts.js';

/** Sets conditions on the existing status (invalid spec, apply failure) and writes it. */
async function writeConditions(s: Settings, raw: RawSipPbx, conds: ConditionInput[]): Promise<void> {
  const old = currentStatus(raw) ?? {};
  const generation = typeof raw.metadata?.generation === 'number' ? raw.metadata.generation : undefined;
  const status: SipPbxStatus = {
    ...old,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions: withConditions(old.conditions, conds, generation, s.now()),
  };
  await writeStatus(s, raw, status);
}

const degraded = (reason: string, message: string): ConditionInput[] => [
  { type: 'Degraded', status: 'True', reason, message },
  { type: 'Ready', status: 'False', reason, message },
];

/** Adds the cleanup finalizer (before anything is created, so deletion always runs cleanup). */
async function ensureFinalizer(s: Settings, raw: RawSipPbx, namespace: string): Promise<RawSipPbx> {
  const finalizers = raw.metadata?.finalizers ?? [];
  if (hasFinalizer(raw)) return raw;
  return s.kube.patchSipPbx(namespace, raw.metadata?.name ?? '', {
    metadata: { finalizers: [...finalizers, FINALIZER], resourceVersion: raw.metadata?.resourceVersion },
  });
}

async function applyMonitors(s: Settings, d: DesiredState, pbx: SipPbx): Promise<void> {
  const names = objectNames(pbx.metadata.name);
  const ns = pbx.metadata.namespace ?? '';
  for (const m of d.monitors) {
    try {
      await applyObject(s.kube, m);
    } catch (err) {
      if (err instanceof ConflictError) throw err;
      s.log.warn(
        { err, kind: m.kind },
        'cannot apply a monitoring object (is the Prometheus operator installed?)',
      );
    }
  }
  for (const kind of ['ServiceMonitor', 'PodMonitor']) {
    if (d.monitors.some((m) => m.kind === kind)) continue;
    const ref = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind,
      metadata: { name: names.monitor, namespace: ns },
    };
    await pruneOwned(s.kube, ref, pbx.metadata.uid).catch(() => false);
  }
}

async function pruneRedis(s: Settings, d: DesiredState, pbx: SipPbx): Promise<void> {
  if (d.redis !== undefined || !s.managedRedis) return;
  const ns = pbx.metadata.namespace ?? '';
  const name = objectNames(pbx.metadata.name).redis;
  for (const [apiVersion, kind] of [
    ['apps/v1', 'Deployment'],
    ['v1', 'Service'],
  ] as const)
    await pruneOwned(s.kube, { apiVersion, kind, metadata: { name, namespace: ns } }, pbx.metadata.uid);
}

/** Applies every desired object; returns what happened to the StatefulSet. */
async function applyAll(s: Settings, d: DesiredState, pbx: SipPbx): Promise<ApplyOutcome> {
  let sts: ApplyOutcome = 'unchanged';
  for (const obj of applyOrder(d)) {
    const outcome = await applyObject(s.kube, obj);
    if (obj.kind === 'StatefulSet') sts = outcome;
    else if (outcome !== 'unchanged')
      s.log.debug({ kind: obj.kind, name: obj.metadata.name, outcome }, 'applied');
  }
  await applyMonitors(s, d, pbx);
  await pruneRedis(s, d, pbx);
  return sts;
}

/** Active calls of the running pods (GET /api/v1/stats, in parallel, each with a short timeout). */
async function runningCalls(c: ReconcileContext, pods: readonly PodView[]): Promise<Map<string, number>> {
  const running = pods.filter(
    (v) => v.ready && !v.terminating && v.ip !== undefined && v.drainStartedAt === undefined,
  );
  const counts = await Promise.all(running.map((v) => c.pbxApi.activeCalls(targetOf(c, v.ip ?? ''))));
  const calls = new Map<string, number>();
  running.forEach((v, i) => {
    const n = counts[i];
    if (n !== undefined) calls.set(v.name, n);
  });
  return calls;
}

function busy(rollout: RolloutOutcome | undefined, drains: number): boolean {
  if (drains > 0) return true;
  if (rollout === undefined) return false;
  return !rollout.observed || rollout.outdated > 0 || rollout.draining.length > 0;
}

/** One reconcile of a valid SipPbx. */
async function reconcileValid(
  s: Settings,
  raw: RawSipPbx,
  pbx: SipPbx,
  namespace: string,
): Promise<ReconcileResult> {
  const world = await observe(s, pbx, namespace);
  const c = contextFor(s, pbx, namespace, world.token);
  const plan = portPlan(pbx.spec, pbx.metadata.name);
  const target = plan.pods.length;
  const scale = await reconcileScale(c, world.pods, target, world.sts?.spec?.replicas);
  const desired = desiredState(
    pbx,
    { operatorVersion: s.operatorVersion },
    {
      adminToken: world.token,
      statefulSetReplicas: scale.statefulSetReplicas,
    },
  );
  const stsOutcome = await applyAll(s, desired, pbx);
  const scaling = scale.draining.length > 0;
  // A StatefulSet just written has not computed its new revision yet: roll out on a later reconcile.
  const sts = stsOutcome === 'unchanged' ? world.sts : undefined;
  const rollout = scaling ? undefined : await reconcileRollout(c, world.pods, target, sts);
  const drains = [...scale.draining, ...(rollout?.draining ?? [])];
  const calls = await runningCalls(c, world.pods);
  const conflicts =
    pbx.spec.media.networkMode === 'HostNetwork' ? portRangeConflicts(pbx, await s.kube.listSipPbxes()) : [];
  const status = buildStatus({
    pbx,
    plan,
    pods: world.pods,
    sts: world.sts,
    drains,
    rollout,
    calls,
    conflicts,
    now: s.now(),
  });
  await writeStatus(s, raw, status);
  return { requeueAfterMs: busy(rollout, scale.draining.length) ? s.drainPollMs : s.resyncMs };
}

function withDefaults(s: Settings, pbx: SipPbx, raw: RawSipPbx): SipPbx {
  const image = pbx.spec.image ?? s.defaultImage;
  return {
    ...pbx,
    metadata: { ...pbx.metadata, resourceVersion: raw.metadata?.resourceVersion },
    spec: { ...pbx.spec, ...(image === undefined ? {} : { image }) },
  };
}

async function reconcileLive(s: Settings, first: RawSipPbx, namespace: string): Promise<ReconcileResult> {
  const raw = await ensureFinalizer(s, first, namespace);
  const input = parseForReconcile(raw);
  if (!input.ok) {
    await writeConditions(s, raw, degraded('InvalidSpec', input.message));
    throw new TerminalError(
      `SipPbx ${namespace}/${raw.metadata?.name ?? ''}: invalid spec: ${input.message}`,
    );
  }
  if (input.pbx.spec.redis?.managed === true && !s.managedRedis) {
    const message = 'spec.redis.managed is disabled in this operator (SIPPBX_OPERATOR_MANAGED_REDIS=false)';
    await writeConditions(s, raw, degraded('ManagedRedisDisabled', message));
    throw new TerminalError(message);
  }
  try {
    return await reconcileValid(s, raw, withDefaults(s, input.pbx, raw), namespace);
  } catch (err) {
    if (!(err instanceof ConflictError))
      await writeConditions(s, raw, [
        { type: 'Degraded', status: 'True', reason: 'ReconcileError', message: String(err).slice(0, 1024) },
      ]).catch(() => undefined);
    throw err;
  }
}

/** Creates the reconcile function of the SipPbx controller (keys are `namespace/name`). */
export function createSipPbxReconciler(opts: SipPbxReconcilerOptions): Reconciler {
  const s = settings(opts);
  const conflictMs = opts.conflictRequeueMs ?? 250;
  return async (key) => {
    const { namespace, name } = splitKey(key);
    if (namespace === undefined) return;
    const raw = await s.kube.readSipPbx(namespace, name);
    if (raw === undefined) return; // deleted: its children go by ownerReference GC
    try {
      if (raw.metadata?.deletionTimestamp !== undefined) return await finalize(s, raw, namespace);
      return await reconcileLive(s, raw, namespace);
    } catch (err) {
      if (err instanceof ConflictError) return { requeueAfterMs: conflictMs };
      throw err;
    }
  };
}
