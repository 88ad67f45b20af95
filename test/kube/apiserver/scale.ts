// The `/scale` subresource: an `autoscaling/v1 Scale` view of spec.replicas, status.replicas and the
// selector, for apps/v1 kinds and CRDs with `subresources.scale`.
import { badRequest } from './errors.js';
import { labelSelectorToString } from './selectors.js';
import type { KubeObject, ResourceType, ScalePaths } from './types.js';
import { clone, getPath, isObject, setPath } from './util.js';

/** An autoscaling/v1 Scale. */
export interface Scale {
  apiVersion: 'autoscaling/v1';
  kind: 'Scale';
  metadata: KubeObject['metadata'];
  spec: { replicas?: number };
  status: { replicas: number; selector?: string };
}

function selectorOf(obj: KubeObject, t: ResourceType, paths: ScalePaths): string | undefined {
  if (!paths.labelSelectorPath) return undefined;
  const v = getPath(obj, paths.labelSelectorPath);
  if (!t.custom) return labelSelectorToString(v);
  return typeof v === 'string' ? v : undefined;
}

/** The Scale view of an object. */
export function toScale(obj: KubeObject, t: ResourceType, paths: ScalePaths): Scale {
  const m = obj.metadata;
  const selector = selectorOf(obj, t, paths);
  const specReplicas = getPath(obj, paths.specReplicasPath);
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: {
      name: m.name,
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    } as KubeObject['metadata'],
    spec: typeof specReplicas === 'number' ? { replicas: specReplicas } : {},
    status: {
      replicas: Number(getPath(obj, paths.statusReplicasPath) ?? 0),
      ...(selector ? { selector } : {}),
    },
  };
}

/** The object with spec replicas set from a Scale (its resourceVersion carried as a precondition). */
export function fromScale(obj: KubeObject, scale: unknown, paths: ScalePaths): KubeObject {
  if (!isObject(scale) || !isObject(scale.spec)) throw badRequest('Scale must have a spec');
  const replicas = scale.spec.replicas;
  if (replicas !== undefined && (typeof replicas !== 'number' || !Number.isInteger(replicas)))
    throw badRequest('spec.replicas must be an integer');
  const next = clone(obj);
  setPath(next, paths.specReplicasPath, replicas ?? 0);
  const rv = isObject(scale.metadata) ? scale.metadata.resourceVersion : undefined;
  if (typeof rv === 'string' && rv !== '') next.metadata.resourceVersion = rv;
  return next;
}
