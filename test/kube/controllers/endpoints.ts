/** The endpoints controller (API client): keeps each selector Service's Endpoints equal to `computeEndpoints`. */
import { CoreV1Api } from '@kubernetes/client-node';
import type { V1Endpoints, V1Pod, V1Service } from '@kubernetes/client-node';
import { computeEndpoints } from './endpoints-plan.js';
import { keyOf, splitKey } from './pods.js';
import { canonicalJson } from './revision.js';
import { createWorkQueue, tolerate, watchResource } from './runtime.js';
import type { ReconcileResult } from './runtime.js';
import type { Controller, ControllerOptions } from './statefulset.js';

/** Starts the endpoints controller. */
export function startEndpointsController(opts: ControllerOptions): Controller {
  const core = opts.kc.makeApiClient(CoreV1Api);
  const onError = (err: unknown): void => opts.onError?.('endpoints', err);
  const queue = createWorkQueue(reconcile, (_k, err) => onError(err));
  const services = watchResource<V1Service>({
    kc: opts.kc,
    path: '/api/v1/services',
    list: () => core.listServiceForAllNamespaces(),
    onChange: (s) => queue.add(keyOf(s)),
    onError,
  });
  const pods = watchResource<V1Pod>({
    kc: opts.kc,
    path: '/api/v1/pods',
    list: () => core.listPodForAllNamespaces(),
    onChange: (p) => {
      for (const s of services.list(p.metadata?.namespace)) queue.add(keyOf(s));
    },
    onError,
  });
  const endpoints = watchResource<V1Endpoints>({
    kc: opts.kc,
    path: '/api/v1/endpoints',
    list: () => core.listEndpointsForAllNamespaces(),
    onChange: (e) => {
      if (services.get(e.metadata?.name ?? '', e.metadata?.namespace) !== undefined) queue.add(keyOf(e));
    },
    onError,
  });
  const informersSynced = Promise.all([services.synced, pods.synced, endpoints.synced]);

  async function reconcile(key: string): Promise<ReconcileResult> {
    await informersSynced;
    const { namespace, name } = splitKey(key);
    const svc = services.get(name, namespace);
    const existing = endpoints.get(name, namespace);
    if (svc === undefined) {
      // Endpoints we would have written for a Service that is gone (selector-less ones are the user's).
      if (existing !== undefined) await tolerate(() => core.deleteNamespacedEndpoints({ namespace, name }));
      return {};
    }
    const desired = computeEndpoints(svc, pods.list(namespace));
    if (desired === undefined) return {};
    if (existing === undefined) {
      await tolerate(() => core.createNamespacedEndpoints({ namespace, body: desired }), [409]);
      return {};
    }
    const same =
      canonicalJson(existing.subsets ?? []) === canonicalJson(desired.subsets ?? []) &&
      canonicalJson(existing.metadata?.labels ?? {}) === canonicalJson(desired.metadata?.labels ?? {});
    if (same) return {};
    const body: V1Endpoints = {
      ...desired,
      metadata: { ...desired.metadata, resourceVersion: existing.metadata?.resourceVersion ?? '' },
    };
    // A 409 means our cache was stale; the watch event that follows requeues the key.
    await tolerate(() => core.replaceNamespacedEndpoints({ namespace, name, body }), [404, 409]);
    return {};
  }

  return {
    synced: informersSynced.then(() => undefined),
    async stop() {
      await queue.stop();
      await Promise.all([services.stop(), pods.stop(), endpoints.stop()]);
    },
  };
}
