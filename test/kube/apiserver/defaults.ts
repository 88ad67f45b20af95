// Admission for built-in kinds: the namespace must exist, and a few defaults the real API server
// applies (the ones controllers read back: replicas, strategies, pod and service basics).
import { notFound } from './errors.js';
import type { TypeRegistry } from './registry.js';
import type { Admission, Admitter, Store } from './store.js';
import type { KubeObject } from './types.js';
import { isObject } from './util.js';

type Spec = Record<string, unknown>;

function fill(target: Spec, defaults: Spec): void {
  for (const [k, v] of Object.entries(defaults)) if (target[k] === undefined) target[k] = v;
}

function podSpecDefaults(spec: unknown): void {
  if (!isObject(spec)) return;
  fill(spec, {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    schedulerName: 'default-scheduler',
  });
}

const perKind: Record<string, (obj: KubeObject, a: Admission) => void> = {
  Namespace: (obj) => {
    obj.status ??= { phase: 'Active' };
  },
  Pod: (obj, a) => {
    const spec = (obj.spec ??= {}) as Spec;
    podSpecDefaults(spec);
    if (a.op === 'create') obj.status ??= { phase: 'Pending', qosClass: 'BestEffort' };
  },
  Service: (obj) => {
    const spec = (obj.spec ??= {}) as Spec;
    fill(spec, { type: 'ClusterIP', sessionAffinity: 'None' });
  },
  StatefulSet: (obj) => {
    const spec = (obj.spec ??= {}) as Spec;
    fill(spec, {
      replicas: 1,
      podManagementPolicy: 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
    });
    podSpecDefaults((spec.template as Spec | undefined)?.spec);
  },
  Deployment: (obj) => {
    const spec = (obj.spec ??= {}) as Spec;
    fill(spec, {
      replicas: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    });
    podSpecDefaults((spec.template as Spec | undefined)?.spec);
  },
  ReplicaSet: (obj) => {
    const spec = (obj.spec ??= {}) as Spec;
    fill(spec, { replicas: 1 });
    podSpecDefaults((spec.template as Spec | undefined)?.spec);
  },
};

/** Admission for built-in kinds: namespace existence (NamespaceLifecycle) and defaults. */
export function builtinAdmitter(store: Store, types: TypeRegistry): Admitter {
  let nextClusterIp = 0;
  const allocate = (obj: KubeObject): void => {
    const spec = obj.spec as Spec;
    if (spec.clusterIP === undefined) {
      nextClusterIp++;
      spec.clusterIP = `10.96.${Math.floor(nextClusterIp / 250)}.${(nextClusterIp % 250) + 1}`;
    }
    if (spec.clusterIP !== 'None') spec.clusterIPs ??= [spec.clusterIP];
  };
  return (a) => {
    const ns = a.obj.metadata.namespace;
    const nsType = types.lookup('', 'v1', 'namespaces');
    if (
      a.op === 'create' &&
      a.type.namespaced &&
      ns !== undefined &&
      nsType &&
      !store.find(nsType, undefined, ns)
    ) {
      throw notFound({ group: '', resource: 'namespaces', name: ns });
    }
    if (!a.type.custom && a.type.versions.includes('v1')) perKind[a.type.kind]?.(a.obj, a);
    if (!a.type.custom && a.type.kind === 'Service') allocate(a.obj);
    return a.obj;
  };
}
