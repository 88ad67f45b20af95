// operator/controller: the SipPbx controller — informers on SipPbx and what it owns, a work queue, and
// the reconciler — built on operator/controller/runtime.
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../api/index.js';
import {
  createController,
  createInformer,
  createWorkQueue,
  keyOf,
  ownerKeys,
  type Controller,
  type Informer,
  type KeyMapper,
  type OperatorMetrics,
  type ResourceRef,
} from './runtime/index.js';
import { createKubeClient } from './kube.js';
import { createSipPbxReconciler, type SipPbxReconcilerOptions } from './sippbx/reconciler.js';

export { createSipPbxReconciler, FINALIZER_NAME } from './sippbx/index.js';
export type { SipPbxReconcilerOptions } from './sippbx/reconciler.js';
export { createKubeClient, ConflictError } from './kube.js';
export type { KubeClient } from './kube.js';
export { createPbxClient } from './pbx-client.js';
export type { PbxClient, DrainStatus, PbxTarget } from './pbx-client.js';
export { createEventRecorder } from './events.js';
export { deleteKeysWithPrefix } from './redis-cleanup.js';

/** Name of the controller (the `controller` label of the metrics). */
export const CONTROLLER_NAME = 'sippbx';

/** Options of createSipPbxController. */
export interface SipPbxControllerOptions
  extends Omit<SipPbxReconcilerOptions, 'kube' | 'logger'>, Partial<Pick<SipPbxReconcilerOptions, 'kube'>> {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Namespaces to watch; empty or undefined watches all. */
  readonly namespaces?: readonly string[];
  readonly metrics?: OperatorMetrics;
  readonly workers?: number;
}

/** The controller with its informers (which run on every replica, leader or not). */
export interface SipPbxController {
  readonly controller: Controller;
  readonly informers: readonly Informer<KubernetesObject>[];
  /** Starts the informers (not the workers: that is controller.start(), on the leader). */
  startInformers(): Promise<void>;
  stopInformers(): Promise<void>;
}

type Lister = (ns: string | undefined) => Promise<KubernetesListObject<KubernetesObject>>;

/** Pods map to their SipPbx by the instance label (they are owned by the StatefulSet). */
const podToSipPbx: KeyMapper<KubernetesObject> = (pod) => {
  const labels = pod.metadata?.labels ?? {};
  const instance = labels['app.kubernetes.io/instance'];
  const ns = pod.metadata?.namespace;
  return labels['app.kubernetes.io/name'] === 'sippbx' && instance !== undefined && ns !== undefined
    ? [`${ns}/${instance}`]
    : [];
};

const MANAGED = 'app.kubernetes.io/managed-by=sippbx-operator';

/** Creates the SipPbx controller: informers feeding one queue, and workers running the reconciler. */
export function createSipPbxController(opts: SipPbxControllerOptions): SipPbxController {
  const kc = opts.kubeConfig;
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const queue = createWorkQueue({
    name: CONTROLLER_NAME,
    ...(opts.metrics === undefined ? {} : { metrics: opts.metrics.workqueue(CONTROLLER_NAME) }),
  });
  const owned = ownerKeys<KubernetesObject>(KIND, { apiVersion: API_VERSION, controllerOnly: true });
  const namespaces =
    opts.namespaces !== undefined && opts.namespaces.length > 0 ? opts.namespaces : [undefined];
  const asList = (p: Promise<unknown>) => p as Promise<KubernetesListObject<KubernetesObject>>;
  const kinds: {
    resource: ResourceRef;
    list: Lister;
    labelSelector?: string;
    map: KeyMapper<KubernetesObject>;
  }[] = [
    {
      resource: { group: GROUP, version: VERSION, plural: PLURAL },
      list: (ns) =>
        asList(
          ns === undefined
            ? custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
            : custom.listNamespacedCustomObject({
                group: GROUP,
                version: VERSION,
                plural: PLURAL,
                namespace: ns,
              }),
        ),
      map: (o) => [keyOf(o)],
    },
    {
      resource: { group: 'apps', version: 'v1', plural: 'statefulsets' },
      list: (ns) =>
        asList(
          ns === undefined
            ? apps.listStatefulSetForAllNamespaces({ labelSelector: MANAGED })
            : apps.listNamespacedStatefulSet({ namespace: ns, labelSelector: MANAGED }),
        ),
      labelSelector: MANAGED,
      map: owned,
    },
    {
      resource: { group: '', version: 'v1', plural: 'pods' },
      list: (ns) =>
        asList(
          ns === undefined
            ? core.listPodForAllNamespaces({ labelSelector: 'app.kubernetes.io/name=sippbx' })
            : core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/name=sippbx' }),
        ),
      labelSelector: 'app.kubernetes.io/name=sippbx',
      map: podToSipPbx,
    },
    ...(['configmaps', 'services', 'secrets'] as const).map((plural) => ({
      resource: { group: '', version: 'v1', plural },
      list: (ns: string | undefined) => asList(listCore(core, plural, ns)),
      labelSelector: MANAGED,
      map: owned,
    })),
  ];
  const informers = namespaces.flatMap((ns) =>
    kinds.map((k) => {
      const inf = createInformer<KubernetesObject>({
        name: ns === undefined ? k.resource.plural : `${k.resource.plural}/${ns}`,
        kubeConfig: kc,
        resource: k.resource,
        ...(ns === undefined ? {} : { namespace: ns }),
        ...(k.labelSelector === undefined ? {} : { labelSelector: k.labelSelector }),
        list: () => k.list(ns),
        logger: opts.logger,
      });
      inf.enqueueTo(queue, k.map);
      return inf;
    }),
  );
  const reconcile = createSipPbxReconciler({
    ...opts,
    kube: opts.kube ?? createKubeClient(kc),
    logger: opts.logger.child({ controller: CONTROLLER_NAME }),
  });
  const controller = createController({
    name: CONTROLLER_NAME,
    queue,
    informers,
    reconcile,
    workers: opts.workers ?? 2,
    logger: opts.logger,
    ...(opts.metrics === undefined ? {} : { metrics: opts.metrics.controller(CONTROLLER_NAME) }),
  });
  return {
    controller,
    informers,
    startInformers: async () => {
      await Promise.all(informers.map((i) => i.start()));
    },
    stopInformers: async () => {
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}

function listCore(
  core: CoreV1Api,
  plural: 'configmaps' | 'services' | 'secrets',
  ns: string | undefined,
): Promise<unknown> {
  const labelSelector = MANAGED;
  if (plural === 'configmaps')
    return ns === undefined
      ? core.listConfigMapForAllNamespaces({ labelSelector })
      : core.listNamespacedConfigMap({ namespace: ns, labelSelector });
  if (plural === 'services')
    return ns === undefined
      ? core.listServiceForAllNamespaces({ labelSelector })
      : core.listNamespacedService({ namespace: ns, labelSelector });
  return ns === undefined
    ? core.listSecretForAllNamespaces({ labelSelector })
    : core.listNamespacedSecret({ namespace: ns, labelSelector });
}
