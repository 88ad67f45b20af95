// The SipPbx reconciler: reads the SipPbx and what it owns, computes the desired state with the pure
// functions of operator/desired, and moves the cluster one safe step towards it (apply, drain-safe
// scale-down, drain-safe rollout, cleanup on deletion), then writes the status. It never looks at the
// event that queued the key (STYLE.md: compare states, do not react to events).
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { sipPbxStatusSchema, type ConditionInput, type SipPbx, type SipPbxStatus } from '../../api/index.js';
import {
  desiredState,
  existingToken,
  objectNames,
  portPlan,
  randomToken,
  selectorString,
  type DesiredState,
} from '../../desired/index.js';
import { TerminalError, splitKey, type Reconciler, type ReconcileResult } from '../runtime/index.js';
import { createEventRecorder, type EventRecorder } from '../events.js';
import { ConflictError, type KubeClient, type NamedObject, type RawSipPbx } from '../kube.js';
import { createPbxClient, type PbxClient } from '../pbx-client.js';
import { deleteKeysWithPrefix } from '../redis-cleanup.js';
import { applyObject, pruneOwned, type ApplyOutcome } from './apply.js';
import { targetOf, type ReconcileContext } from './context.js';
import { finalize, hasFinalizer, FINALIZER } from './finalize.js';
import { parseForReconcile } from './parse.js';
import { viewPods, type PodView } from './pods.js';
import { reconcileRollout, type RolloutOutcome } from './rollout.js';
import { reconcileScale } from './scale.js';
import { buildStatus, withConditions } from './status.js';
import { applyOrder } from './apply.js';
import { portRangeConflicts } from './conflicts.js';

/** Options of createSipPbxReconciler. */
export interface SipPbxReconcilerOptions {
  readonly kube: KubeClient;
  readonly logger: Logger;
  /** Tag of the default pbx image and `app.kubernetes.io/version` of owned objects. */
  readonly operatorVersion: string;
  /** Image for a SipPbx without spec.image (SIPPBX_OPERATOR_PBX_IMAGE). */
  readonly defaultImage?: string;
  /** Whether `spec.redis.managed` is served (SIPPBX_OPERATOR_MANAGED_REDIS; default true). */
  readonly managedRedis?: boolean;
  readonly pbxApi?: PbxClient;
  readonly events?: EventRecorder;
  readonly now?: () => Date;
  /** Requeue delay while pods drain or a rollout waits (default 2000 ms). */
  readonly drainPollMs?: number;
  /** Requeue delay of a settled SipPbx, to refresh call counts (default 30,000 ms). */
  readonly resyncMs?: number;
  /** Requeue delay after a 409 (default 250 ms). */
  readonly conflictRequeueMs?: number;
  readonly generateToken?: () => string;
  /** Deletes a SipPbx's Redis keys (default SCAN + UNLINK with ioredis). */
  readonly cleanRedis?: (url: string, prefix: string) => Promise<number>;
  /** After this long in deletion, an unreachable Redis no longer holds the finalizer (default 5 min). */
  readonly redisGiveUpMs?: number;
}

/** Resolved options. */
export interface Settings {
  readonly kube: KubeClient;
  readonly log: Logger;
  readonly operatorVersion: string;
  readonly defaultImage: string | undefined;
  readonly managedRedis: boolean;
  readonly pbxApi: PbxClient;
  readonly events: EventRecorder;
  readonly now: () => Date;
  readonly drainPollMs: number;
  readonly resyncMs: number;
  readonly generateToken: () => string;
  readonly cleanRedis: (url: string, prefix: string) => Promise<number>;
  readonly redisGiveUpMs: number;
}

function settings(o: SipPbxReconcilerOptions): Settings {
  return {
    kube: o.kube,
    log: o.logger,
    operatorVersion: o.operatorVersion,
    defaultImage: o.defaultImage,
    managedRedis: o.managedRedis ?? true,
    pbxApi: o.pbxApi ?? createPbxClient(),
    events: o.events ?? createEventRecorder(o.kube, { logger: o.logger }),
    now: o.now ?? (() => new Date()),
    drainPollMs: o.drainPollMs ?? 2000,
    resyncMs: o.resyncMs ?? 30_000,
    generateToken: o.generateToken ?? randomToken,
    cleanRedis: o.cleanRedis ?? ((url, prefix) => deleteKeysWithPrefix(url, prefix)),
    redisGiveUpMs: o.redisGiveUpMs ?? 5 * 60_000,
  };
}

/** The current status of a raw SipPbx, if it parses. */
export function currentStatus(raw: RawSipPbx): SipPbxStatus | undefined {
  const parsed = sipPbxStatusSchema.safeParse(raw.status);
  return parsed.success ? parsed.data : undefined;
}

/** Writes `status` through the status subresource unless it is what the object already has. */
export async function writeStatus(s: Settings, raw: RawSipPbx, status: SipPbxStatus): Promise<void> {
  const next = JSON.parse(JSON.stringify(status)) as SipPbxStatus;
  if (JSON.stringify(sortKeys(raw.status)) === JSON.stringify(sortKeys(next))) return;
  await s.kube.replaceSipPbxStatus({ ...raw, status: next });
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
  );
}

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

/** The world one reconcile starts from. */
interface Observed {
  readonly sts: V1StatefulSet | undefined;
  readonly pods: PodView[];
  readonly token: string;
}

/** Reads the StatefulSet, the pods and the admin token of `pbx`. */
export async function observe(s: Settings, pbx: SipPbx, namespace: string): Promise<Observed> {
  const names = objectNames(pbx.metadata.name);
  const stsRef: NamedObject = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: names.statefulSet, namespace },
  };
  const [sts, podList, secret] = await Promise.all([
    s.kube.read<V1StatefulSet>(stsRef),
    s.kube.listPods(namespace, selectorString(pbx.metadata.name)),
    s.kube.readSecret(namespace, names.adminTokenSecret),
  ]);
  return {
    sts,
    pods: viewPods(podList, names.statefulSet),
    token: existingToken(secret) ?? s.generateToken(),
  };
}

/** Builds the per-reconcile context. */
export function contextFor(s: Settings, pbx: SipPbx, namespace: string, token: string): ReconcileContext {
  return {
    kube: s.kube,
    pbxApi: s.pbxApi,
    events: s.events,
    log: s.log.child({ sippbx: `${namespace}/${pbx.metadata.name}` }),
    now: s.now,
    pbx,
    namespace,
    token,
  };
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
