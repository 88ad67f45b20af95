/** Deployment and ReplicaSet controllers (API clients), applying `deployment-plan.ts`. */
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import {
  deploymentStatus,
  newReplicaSet,
  newReplicaSetPod,
  planReplicaSet,
  replicaSetStatus,
} from './deployment-plan.js';
import { isControlledBy, isTerminating, keyOf, splitKey } from './pods.js';
import { canonicalJson, safeEncode } from './revision.js';
import { createWorkQueue, tolerate, watchResource } from './runtime.js';
import type { ReconcileResult } from './runtime.js';
import type { Controller, ControllerOptions } from './statefulset.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function ownerKey(obj: V1Pod | V1ReplicaSet, kind: string): string | undefined {
  const ref = (obj.metadata?.ownerReferences ?? []).find((r) => r.controller === true && r.kind === kind);
  return ref === undefined ? undefined : `${obj.metadata?.namespace ?? ''}/${ref.name}`;
}

/** Five safe characters, like the suffix of a generated pod name. */
function suffix(): string {
  return safeEncode(randomBytes(5).toString('hex')).slice(0, 5);
}

/** Starts the Deployment and ReplicaSet controllers. */
export function startDeploymentController(opts: ControllerOptions): Controller {
  const core = opts.kc.makeApiClient(CoreV1Api);
  const apps = opts.kc.makeApiClient(AppsV1Api);
  const onError = (err: unknown): void => opts.onError?.('deployment', err);

  const deployQueue = createWorkQueue(reconcileDeployment, (_k, err) => onError(err));
  const rsQueue = createWorkQueue(reconcileReplicaSet, (_k, err) => onError(err));
  const deployments = watchResource<V1Deployment>({
    kc: opts.kc,
    path: '/apis/apps/v1/deployments',
    list: () => apps.listDeploymentForAllNamespaces(),
    onChange: (o) => deployQueue.add(keyOf(o)),
    onError,
  });
  const replicaSets = watchResource<V1ReplicaSet>({
    kc: opts.kc,
    path: '/apis/apps/v1/replicasets',
    list: () => apps.listReplicaSetForAllNamespaces(),
    onChange: (o) => {
      rsQueue.add(keyOf(o));
      const owner = ownerKey(o, 'Deployment');
      if (owner !== undefined) deployQueue.add(owner);
    },
    onError,
  });
  const pods = watchResource<V1Pod>({
    kc: opts.kc,
    path: '/api/v1/pods',
    list: () => core.listPodForAllNamespaces(),
    onChange: (o) => {
      const owner = ownerKey(o, 'ReplicaSet');
      if (owner !== undefined) rsQueue.add(owner);
    },
    onError,
  });
  const informersSynced = Promise.all([deployments.synced, replicaSets.synced, pods.synced]);

  async function reconcileDeployment(key: string): Promise<ReconcileResult> {
    await informersSynced;
    const { namespace, name } = splitKey(key);
    const deploy = deployments.get(name, namespace);
    if (deploy === undefined || isTerminating(deploy)) return {};
    const owned = replicaSets.list(namespace).filter((rs) => isControlledBy(rs, deploy.metadata?.uid));
    const desired = newReplicaSet(deploy);
    const desiredName = desired.metadata?.name ?? '';
    if (!owned.some((rs) => rs.metadata?.name === desiredName)) {
      await tolerate(() => apps.createNamespacedReplicaSet({ namespace, body: desired }), [409]);
    }
    for (const rs of owned) {
      const want = rs.metadata?.name === desiredName ? (deploy.spec?.replicas ?? 1) : 0;
      if ((rs.spec?.replicas ?? 1) !== want) {
        await tolerate(() =>
          apps.patchNamespacedReplicaSet(
            { namespace, name: rs.metadata?.name ?? '', body: { spec: { replicas: want } } },
            mergePatch,
          ),
        );
      }
    }
    const status = deploymentStatus(deploy, owned);
    if (canonicalJson(status) !== canonicalJson(deploy.status ?? {})) {
      await tolerate(() =>
        apps.patchNamespacedDeploymentStatus({ namespace, name, body: { status } }, mergePatch),
      );
    }
    return {};
  }

  /** Upstream's "expectations": pods this controller wrote but its cache has not shown yet. */
  const expected = new Map<string, { names: Set<string>; since: number }>();
  const EXPECTATION_TIMEOUT_MS = 5000;

  function satisfied(key: string, mine: readonly V1Pod[]): boolean {
    const exp = expected.get(key);
    if (exp === undefined) return true;
    for (const p of mine) {
      const n = p.metadata?.name ?? '';
      // A create is seen once the pod is cached; a delete once the cached pod is terminating or gone.
      if (exp.names.has(`+${n}`)) exp.names.delete(`+${n}`);
      if (exp.names.has(`-${n}`) && isTerminating(p)) exp.names.delete(`-${n}`);
    }
    const present = new Set(mine.map((p) => `-${p.metadata?.name ?? ''}`));
    for (const n of exp.names) if (n.startsWith('-') && !present.has(n)) exp.names.delete(n);
    if (exp.names.size === 0 || Date.now() - exp.since > EXPECTATION_TIMEOUT_MS) {
      expected.delete(key);
      return true;
    }
    return false;
  }

  async function reconcileReplicaSet(key: string): Promise<ReconcileResult> {
    await informersSynced;
    const { namespace, name } = splitKey(key);
    const rs = replicaSets.get(name, namespace);
    if (rs === undefined || isTerminating(rs)) return {};
    const mine = pods.list(namespace).filter((p) => isControlledBy(p, rs.metadata?.uid));
    if (!satisfied(key, mine)) return { requeueAfterMs: 100 };
    const plan = planReplicaSet(rs, mine);
    const names = new Set<string>();
    if (plan.create > 0 || plan.delete.length > 0) expected.set(key, { names, since: Date.now() });
    for (let i = 0; i < plan.create; i++) {
      const body = newReplicaSetPod(rs, suffix());
      names.add(`+${body.metadata?.name ?? ''}`);
      await tolerate(() => core.createNamespacedPod({ namespace, body }), [409]);
    }
    for (const pod of plan.delete) {
      names.add(`-${pod}`);
      await tolerate(() => core.deleteNamespacedPod({ namespace, name: pod }));
    }
    const status = replicaSetStatus(rs, mine);
    if (canonicalJson(status) !== canonicalJson(rs.status ?? {})) {
      await tolerate(() =>
        apps.patchNamespacedReplicaSetStatus({ namespace, name, body: { status } }, mergePatch),
      );
    }
    return {};
  }

  return {
    synced: informersSynced.then(() => undefined),
    async stop() {
      await Promise.all([deployQueue.stop(), rsQueue.stop()]);
      await Promise.all([deployments.stop(), replicaSets.stop(), pods.stop()]);
    },
  };
}
