/**
 * The StatefulSet controller: an API client (informers on StatefulSets, pods and
 * ControllerRevisions) that applies `planStatefulSet` one sync at a time and reports status through
 * the `/status` subresource — it would run unchanged against a real cluster.
 */
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, V1ControllerRevision, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { isControlledBy, isTerminating, keyOf, splitKey } from './pods.js';
import { canonicalJson } from './revision.js';
import { createWorkQueue, tolerate, watchResource } from './runtime.js';
import type { ReconcileResult } from './runtime.js';
import {
  newControllerRevision,
  newStatefulSetPod,
  planStatefulSet,
  REVISION_LABEL,
  revisionHashOf,
  revisionName,
  snapshotOf,
  statefulSetStatus,
  templateOfRevision,
} from './statefulset-plan.js';
import type { SetAction } from './statefulset-plan.js';

/** A running controller. */
export interface Controller {
  /** Resolves once every informer has listed. */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

/** Options shared by the controllers. */
export interface ControllerOptions {
  readonly kc: KubeConfig;
  /** Reconcile errors (default: ignored; they are retried). */
  readonly onError?: (where: string, err: unknown) => void;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function ownerKey(obj: V1Pod | V1ControllerRevision, kind: string): string | undefined {
  const ref = (obj.metadata?.ownerReferences ?? []).find((r) => r.controller === true && r.kind === kind);
  return ref === undefined ? undefined : `${obj.metadata?.namespace ?? ''}/${ref.name}`;
}

/** Starts the StatefulSet controller. */
export function startStatefulSetController(opts: ControllerOptions): Controller {
  const core = opts.kc.makeApiClient(CoreV1Api);
  const apps = opts.kc.makeApiClient(AppsV1Api);
  const onError = (err: unknown): void => opts.onError?.('statefulset', err);

  const queue = createWorkQueue(reconcile, (_key, err) => onError(err));
  const sets = watchResource<V1StatefulSet>({
    kc: opts.kc,
    path: '/apis/apps/v1/statefulsets',
    list: () => apps.listStatefulSetForAllNamespaces(),
    onChange: (o) => queue.add(keyOf(o)),
    onError,
  });
  const pods = watchResource<V1Pod>({
    kc: opts.kc,
    path: '/api/v1/pods',
    list: () => core.listPodForAllNamespaces(),
    onChange: (o) => {
      const key = ownerKey(o, 'StatefulSet');
      if (key !== undefined) queue.add(key);
    },
    onError,
  });
  const revisions = watchResource<V1ControllerRevision>({
    kc: opts.kc,
    path: '/apis/apps/v1/controllerrevisions',
    list: () => apps.listControllerRevisionForAllNamespaces(),
    onChange: () => undefined,
    onError,
  });

  /** Finds or records the ControllerRevision of the set's template; returns all owned revisions. */
  async function syncRevisions(
    set: V1StatefulSet,
  ): Promise<{ owned: V1ControllerRevision[]; update: string }> {
    const { namespace, name } = splitKey(keyOf(set));
    const owned = revisions.list(namespace).filter((r) => isControlledBy(r, set.metadata?.uid));
    const hash = revisionHashOf(set);
    const revName = revisionName(name, hash);
    const max = owned.reduce((m, r) => Math.max(m, r.revision), 0);
    const existing = owned.find((r) => r.metadata?.name === revName);
    if (existing === undefined) {
      const created =
        (await tolerate(
          () =>
            apps.createNamespacedControllerRevision({ namespace, body: newControllerRevision(set, max + 1) }),
          [409],
        )) ?? (await apps.readNamespacedControllerRevision({ namespace, name: revName }));
      owned.push(created);
    } else if (existing.revision !== max && owned.length > 1) {
      // Rolling back to an older template makes its revision the newest again (upstream does the same).
      const bumped = await apps.patchNamespacedControllerRevision(
        { namespace, name: revName, body: { revision: max + 1 } },
        mergePatch,
      );
      owned.splice(owned.indexOf(existing), 1, bumped);
    }
    return { owned, update: revName };
  }

  async function apply(set: V1StatefulSet, action: SetAction, owned: V1ControllerRevision[]): Promise<void> {
    const { namespace, name } = splitKey(keyOf(set));
    const pod = `${name}-${action.ordinal}`;
    if (action.kind === 'delete') {
      await tolerate(() => core.deleteNamespacedPod({ namespace, name: pod }));
      return;
    }
    const rev = owned.find((r) => r.metadata?.name === action.revision);
    const template = (rev === undefined ? undefined : templateOfRevision(rev)) ?? set.spec?.template ?? {};
    const body = newStatefulSetPod(set, template, action.ordinal, action.revision);
    await tolerate(() => core.createNamespacedPod({ namespace, body }), [409]);
  }

  async function pruneHistory(
    set: V1StatefulSet,
    owned: V1ControllerRevision[],
    live: Set<string>,
  ): Promise<void> {
    const limit = set.spec?.revisionHistoryLimit ?? 10;
    const stale = owned
      .filter((r) => !live.has(r.metadata?.name ?? ''))
      .sort((a, b) => a.revision - b.revision);
    const excess = stale.slice(0, Math.max(0, stale.length - limit));
    for (const r of excess) {
      const name = r.metadata?.name ?? '';
      await tolerate(() =>
        apps.deleteNamespacedControllerRevision({ namespace: r.metadata?.namespace ?? '', name }),
      );
    }
  }

  async function reconcile(key: string): Promise<ReconcileResult> {
    await informersSynced;
    const { namespace, name } = splitKey(key);
    const set = sets.get(name, namespace);
    if (set === undefined || isTerminating(set)) return {};
    const { owned, update } = await syncRevisions(set);
    const names = new Set(owned.map((r) => r.metadata?.name ?? ''));
    const statusCurrent = set.status?.currentRevision;
    const current = statusCurrent !== undefined && names.has(statusCurrent) ? statusCurrent : update;
    const mine = pods.list(namespace).filter((p) => isControlledBy(p, set.metadata?.uid));
    const snap = snapshotOf(set, mine, current, update);
    for (const action of planStatefulSet(snap)) await apply(set, action, owned);

    const status = statefulSetStatus(set, mine, current, update);
    if (canonicalJson(status) !== canonicalJson(set.status ?? {})) {
      await tolerate(() =>
        apps.patchNamespacedStatefulSetStatus({ namespace, name, body: { status } }, mergePatch),
      );
    }
    const live = new Set([status.currentRevision ?? '', update]);
    for (const p of mine) live.add(p.metadata?.labels?.[REVISION_LABEL] ?? '');
    await pruneHistory(set, owned, live);
    return {};
  }

  const informersSynced = Promise.all([sets.synced, pods.synced, revisions.synced]);
  const synced = informersSynced.then(() => undefined);
  return {
    synced,
    async stop() {
      await queue.stop();
      await Promise.all([sets.stop(), pods.stop(), revisions.stop()]);
    },
  };
}
