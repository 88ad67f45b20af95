// Bridging zod's `x?: T | undefined` to Kubernetes model types under exactOptionalPropertyTypes.
import type { V1ResourceRequirements, V1Toleration } from '@kubernetes/client-node';
import type { SipPbxSpec } from '../api/index.js';

/** Drops own keys whose value is undefined. */
export function compact<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

const quantities = (m: Record<string, string | number>): Record<string, string> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));

/** Spec resources as core/v1 ResourceRequirements (quantities as strings). */
export function resourceRequirements(r: NonNullable<SipPbxSpec['resources']>): V1ResourceRequirements {
  return {
    ...(r.limits === undefined ? {} : { limits: quantities(r.limits) }),
    ...(r.requests === undefined ? {} : { requests: quantities(r.requests) }),
  };
}

/** Spec tolerations as core/v1 Tolerations. */
export function tolerations(t: NonNullable<SipPbxSpec['tolerations']>): V1Toleration[] {
  return t.map((x) => compact(x));
}
