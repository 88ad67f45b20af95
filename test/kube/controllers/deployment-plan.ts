/**
 * Deployment and ReplicaSet decisions as pure functions. Deliberately simple (issue 7: "a simple
 * controller keeping N pods of the template"): a Deployment owns one ReplicaSet per template
 * (`<deployment>-<pod-template-hash>`); the newest is scaled to `replicas` and the others to 0 at
 * once (no surge accounting). A ReplicaSet keeps `replicas` active pods; Failed pods count as active
 * so an unrunnable image does not make it create pods in a loop (upstream would replace them).
 */
import type {
  V1Deployment,
  V1DeploymentStatus,
  V1Pod,
  V1ReplicaSet,
  V1ReplicaSetStatus,
} from '@kubernetes/client-node';
import { controllerRef, isRunningAndReady, isTerminating } from './pods.js';
import { templateHash } from './revision.js';

/** Label a Deployment adds to its ReplicaSets' selector and pods. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

/** The ReplicaSet a Deployment wants for its current template. */
export function newReplicaSet(deploy: V1Deployment): V1ReplicaSet {
  const name = deploy.metadata?.name ?? '';
  const hash = templateHash(deploy.spec?.template ?? {}, deploy.status?.collisionCount ?? 0);
  const template = structuredClone(deploy.spec?.template ?? {});
  template.metadata = {
    ...(template.metadata ?? {}),
    labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash },
  };
  const selector = deploy.spec?.selector ?? {};
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${name}-${hash}`,
      namespace: deploy.metadata?.namespace ?? 'default',
      labels: { ...(template.metadata.labels ?? {}) },
      ownerReferences: [
        controllerRef({ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: deploy.metadata?.uid ?? '' }),
      ],
    },
    spec: {
      replicas: deploy.spec?.replicas ?? 1,
      selector: {
        ...selector,
        matchLabels: { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash },
      },
      template,
    },
  };
}

/** What a ReplicaSet sync does: how many pods to create and which to delete. */
export interface ReplicaSetPlan {
  readonly create: number;
  readonly delete: readonly string[];
}

/** Keeps `replicas` non-terminating pods; deletes not-ready and newest pods first when over. */
export function planReplicaSet(rs: V1ReplicaSet, pods: readonly V1Pod[]): ReplicaSetPlan {
  const want = rs.spec?.replicas ?? 1;
  const active = pods.filter((p) => !isTerminating(p));
  if (active.length < want) return { create: want - active.length, delete: [] };
  if (active.length === want) return { create: 0, delete: [] };
  const ranked = [...active].sort((a, b) => {
    const ra = isRunningAndReady(a) ? 1 : 0;
    const rb = isRunningAndReady(b) ? 1 : 0;
    if (ra !== rb) return ra - rb;
    return String(b.metadata?.name ?? '').localeCompare(String(a.metadata?.name ?? ''));
  });
  return { create: 0, delete: ranked.slice(0, active.length - want).map((p) => p.metadata?.name ?? '') };
}

/** A pod of the ReplicaSet, named `<rs>-<suffix>`. */
export function newReplicaSetPod(rs: V1ReplicaSet, suffix: string): V1Pod {
  const name = rs.metadata?.name ?? '';
  const template = structuredClone(rs.spec?.template ?? {});
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${name}-${suffix}`,
      namespace: rs.metadata?.namespace ?? 'default',
      labels: { ...(template.metadata?.labels ?? {}) },
      annotations: { ...(template.metadata?.annotations ?? {}) },
      ownerReferences: [
        controllerRef({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid: rs.metadata?.uid ?? '' }),
      ],
    },
    spec: template.spec ?? { containers: [] },
  };
}

/** ReplicaSet status from its pods. */
export function replicaSetStatus(rs: V1ReplicaSet, pods: readonly V1Pod[]): V1ReplicaSetStatus {
  const active = pods.filter((p) => !isTerminating(p));
  const ready = active.filter(isRunningAndReady).length;
  return {
    observedGeneration: rs.metadata?.generation ?? 0,
    replicas: active.length,
    fullyLabeledReplicas: active.length,
    readyReplicas: ready,
    availableReplicas: ready,
  };
}

/** Deployment status from its ReplicaSets (the one named for the current template is "updated"). */
export function deploymentStatus(deploy: V1Deployment, sets: readonly V1ReplicaSet[]): V1DeploymentStatus {
  const current = newReplicaSet(deploy).metadata?.name;
  let replicas = 0;
  let ready = 0;
  let updated = 0;
  for (const rs of sets) {
    replicas += rs.status?.replicas ?? 0;
    ready += rs.status?.readyReplicas ?? 0;
    if (rs.metadata?.name === current) updated += rs.status?.replicas ?? 0;
  }
  const want = deploy.spec?.replicas ?? 1;
  const available = ready >= want;
  return {
    observedGeneration: deploy.metadata?.generation ?? 0,
    replicas,
    updatedReplicas: updated,
    readyReplicas: ready,
    availableReplicas: ready,
    unavailableReplicas: Math.max(0, want - ready),
    conditions: [
      {
        type: 'Available',
        status: available ? 'True' : 'False',
        reason: available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        message: available
          ? 'Deployment has minimum availability.'
          : 'Deployment does not have minimum availability.',
      },
    ],
  };
}
