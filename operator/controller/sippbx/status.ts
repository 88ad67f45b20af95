// The SipPbx status: counts, per-pod entries and conditions, computed from what the reconcile saw.
// lastTransitionTime moves only when a condition's status changes (setCondition), and an unchanged
// status is not written, so a no-op reconcile writes nothing.
import type { V1StatefulSet } from '@kubernetes/client-node';
import {
  setCondition,
  type Condition,
  type ConditionInput,
  type PodState,
  type PodStatus,
  type SipPbx,
  type SipPbxStatus,
} from '../../api/index.js';
import { portSlots, selectorString, type PortPlan } from '../../desired/index.js';
import type { DrainProgress } from './drain.js';
import type { PodView } from './pods.js';
import type { RolloutOutcome } from './rollout.js';

/** Everything the status is computed from. */
export interface StatusInput {
  readonly pbx: SipPbx;
  readonly plan: PortPlan;
  readonly pods: readonly PodView[];
  readonly sts: V1StatefulSet | undefined;
  readonly drains: readonly DrainProgress[];
  readonly rollout: RolloutOutcome | undefined;
  /** activeCalls of running pods (GET /api/v1/stats), by pod name. */
  readonly calls: ReadonlyMap<string, number>;
  /** Other HostNetwork SipPbx whose media ranges overlap (PortRangeConflict). */
  readonly conflicts?: readonly string[];
  readonly now: Date;
}

function podState(v: PodView, drain: DrainProgress | undefined): PodState {
  if (v.drainedAt !== undefined || drain?.done === true) return 'drained';
  if (v.drainStartedAt !== undefined || drain !== undefined) return 'draining';
  return v.ready && !v.terminating ? 'running' : 'pending';
}

/** `status.pods`: every existing pod plus the desired ordinals that have no pod yet. */
export function podEntries(input: StatusInput): PodStatus[] {
  const { pbx, plan, pods, drains, calls } = input;
  const count = Math.max(plan.pods.length, ...pods.map((v) => v.ordinal + 1));
  const slots = portSlots(pbx.spec.media, pbx.metadata.name, count);
  return slots
    .filter((s) => s.ordinal < plan.pods.length || pods.some((v) => v.ordinal === s.ordinal))
    .map((slot) => {
      const v = pods.find((p) => p.ordinal === slot.ordinal);
      const drain = drains.find((d) => d.name === slot.name);
      const startedAt = drain?.startedAt ?? v?.drainStartedAt;
      const active = drain?.activeCalls ?? calls.get(slot.name);
      return {
        name: slot.name,
        ordinal: slot.ordinal,
        portRange: { start: slot.start, end: slot.end },
        state: v === undefined ? 'pending' : podState(v, drain),
        ...(startedAt === undefined || startedAt === '' ? {} : { drainStartedAt: startedAt }),
        ...(active === undefined ? {} : { activeCalls: active }),
      };
    });
}

type Conditions = (list: ConditionInput[]) => void;

function readyCondition(input: StatusInput, ready: number, add: Conditions): void {
  const want = input.plan.pods.length;
  const ok = ready >= want && input.rollout?.observed !== false && (input.rollout?.outdated ?? 0) === 0;
  add([
    ok
      ? { type: 'Ready', status: 'True', reason: 'PodsReady', message: `${ready}/${want} pods ready` }
      : { type: 'Ready', status: 'False', reason: 'PodsNotReady', message: `${ready}/${want} pods ready` },
  ]);
}

function progressingCondition(input: StatusInput, ready: number, add: Conditions): void {
  const surplus = input.drains.filter((d) => d.reason === 'scale-down').length;
  const deleting = input.drains.some((d) => d.reason === 'delete');
  const outdated = input.rollout?.outdated ?? 0;
  const want = input.plan.pods.length;
  let cond: ConditionInput = {
    type: 'Progressing',
    status: 'False',
    reason: 'Complete',
    message: 'up to date',
  };
  if (deleting)
    cond = { ...cond, status: 'True', reason: 'Deleting', message: 'draining every pod before deletion' };
  else if (surplus > 0)
    cond = {
      ...cond,
      status: 'True',
      reason: 'ScalingDown',
      message: `draining ${surplus} pod(s) to scale to ${want}`,
    };
  else if (outdated > 0)
    cond = {
      ...cond,
      status: 'True',
      reason: 'RollingOut',
      message: `${want - outdated}/${want} pods updated to ${input.rollout?.updateRevision ?? ''}`,
    };
  else if (ready < want)
    cond = { ...cond, status: 'True', reason: 'PodsStarting', message: `${ready}/${want} pods ready` };
  add([cond]);
}

function drainingCondition(input: StatusInput, add: Conditions): void {
  const draining = input.drains.filter((d) => !d.done);
  const names = draining.map((d) => `${d.name} (${d.activeCalls ?? '?'} calls)`).join(', ');
  add([
    draining.length > 0
      ? { type: 'Draining', status: 'True', reason: 'PodsDraining', message: `draining: ${names}` }
      : { type: 'Draining', status: 'False', reason: 'NoDrain', message: 'no pod is draining' },
  ]);
}

function rangeCondition(input: StatusInput, add: Conditions): void {
  const { plan, pbx } = input;
  const { start, end } = pbx.spec.media.portRange;
  add([
    plan.exhausted
      ? {
          type: 'PortRangeExhausted',
          status: 'True',
          reason: 'ReplicasCapped',
          message: `spec.replicas is ${pbx.spec.replicas} but media.portRange ${start}-${end} holds ${plan.fits} pod(s) of ${plan.portsPerPod} ports; running ${plan.pods.length}`,
        }
      : {
          type: 'PortRangeExhausted',
          status: 'False',
          reason: 'RangeFits',
          message: 'every replica has ports',
        },
  ]);
}

function conflictCondition(input: StatusInput, add: Conditions): void {
  const conflicts = input.conflicts ?? [];
  add([
    conflicts.length > 0
      ? {
          type: 'PortRangeConflict',
          status: 'True',
          reason: 'OverlappingRange',
          message: `media.portRange overlaps HostNetwork SipPbx ${conflicts.join(', ')} (their pods may share a node)`,
        }
      : {
          type: 'PortRangeConflict',
          status: 'False',
          reason: 'NoOverlap',
          message: 'no overlapping HostNetwork range',
        },
  ]);
}

/** Applies `inputs` to `conditions` with setCondition, stamping observedGeneration. */
export function withConditions(
  conditions: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  generation: number | undefined,
  now: Date,
): Condition[] {
  let list = [...(conditions ?? [])];
  for (const c of inputs)
    list = setCondition(
      list,
      { ...c, ...(generation === undefined ? {} : { observedGeneration: generation }) },
      now,
    );
  return list;
}

function revisionOf(input: StatusInput): string | undefined {
  const stsRevision = input.sts?.status?.updateRevision;
  return input.rollout?.updateRevision ?? (stsRevision === '' ? undefined : stsRevision);
}

/** The status of a valid SipPbx. */
export function buildStatus(input: StatusInput): SipPbxStatus {
  const { pbx, pods, sts } = input;
  const entries = podEntries(input);
  const live = pods.filter((v) => !v.terminating);
  const revision = revisionOf(input);
  const ready = live.filter(
    (v) =>
      v.ordinal < input.plan.pods.length &&
      v.ready &&
      v.drainStartedAt === undefined &&
      (revision === undefined || v.revision === revision),
  ).length;
  const inputs: ConditionInput[] = [];
  const add: Conditions = (l) => inputs.push(...l);
  readyCondition(input, ready, add);
  progressingCondition(input, ready, add);
  drainingCondition(input, add);
  add([{ type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'reconciled' }]);
  rangeCondition(input, add);
  conflictCondition(input, add);
  const generation = pbx.metadata.generation;
  const current = sts?.status?.currentRevision;
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    replicas: pods.length,
    readyReplicas: live.filter((v) => v.ready && v.drainStartedAt === undefined).length,
    updatedReplicas: revision === undefined ? 0 : live.filter((v) => v.revision === revision).length,
    drainingReplicas: entries.filter((e) => e.state === 'draining').length,
    activeCalls: entries.reduce((sum, e) => sum + (e.activeCalls ?? 0), 0),
    selector: selectorString(pbx.metadata.name),
    ...(current === undefined ? {} : { currentRevision: current }),
    ...(revision === undefined ? {} : { updateRevision: revision }),
    pods: entries,
    conditions: withConditions(pbx.status?.conditions, inputs, generation, input.now),
  };
}
