// metav1.Condition bookkeeping: lastTransitionTime moves only when a condition's status changes.
import type { Condition, ConditionType } from './status.js';

/** A condition to set: everything but lastTransitionTime, which setCondition decides. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/** RFC 3339 with second precision, as metav1.Time serialises (`2025-01-02T03:04:05Z`). */
export function formatTime(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The condition of `type`, if present. */
export function getCondition(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * A copy of `conditions` with `cond` set (order kept, new types appended); lastTransitionTime is `now`
 * when the type is new or its status changed, otherwise the previous one is kept.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  cond: ConditionInput,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const previous = getCondition(list, cond.type);
  const lastTransitionTime =
    previous !== undefined && previous.status === cond.status ? previous.lastTransitionTime : formatTime(now);
  const next: Condition = { ...cond, lastTransitionTime };
  return previous === undefined ? [...list, next] : list.map((c) => (c.type === cond.type ? next : c));
}

/** A copy of `conditions` without the condition of `type`. */
export function removeCondition(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
