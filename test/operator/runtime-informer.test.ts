// Informers against the in-process API server, with ConfigMaps as the example resource: events become
// queue keys (owners included), the cache follows, a 410 relists, a dropped watch resumes, failures
// restart with backoff.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createInformer,
  keyOf,
  ownerKeys,
  resourcePath,
  splitKey,
} from '../../operator/controller/runtime/informer.js';
import type { Informer, InformerOptions } from '../../operator/controller/runtime/informer.js';
import { fakeClock } from '../../pbx/core/clock.js';
import { startApiServer, type ApiServer } from '../kube/index.js';

/** Polls `cond` every 10 ms until it holds or `ms` pass (conditions here are external: the API server). */
async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let server: ApiServer;
let kc: KubeConfig;
let core: CoreV1Api;
const informers: Informer<V1ConfigMap>[] = [];

const cm = (namespace: string, name: string, data: Record<string, string> = {}, extra: object = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, ...extra },
  data,
});

/** A ConfigMap informer on `namespace` with a recording queue; `lists` counts list calls. */
function configMapInformer(namespace: string | undefined, extra: Partial<InformerOptions<V1ConfigMap>> = {}) {
  const keys: string[] = [];
  let lists = 0;
  const inf = createInformer<V1ConfigMap>({
    kubeConfig: kc,
    resource: { group: '', version: 'v1', plural: 'configmaps' },
    ...(namespace === undefined ? {} : { namespace }),
    list: () => {
      lists++;
      return namespace === undefined
        ? core.listConfigMapForAllNamespaces()
        : core.listNamespacedConfigMap({ namespace });
    },
    maxReconnectDelayMs: 20,
    restartDelayMs: 20,
    ...extra,
  });
  informers.push(inf);
  return { inf, keys, queue: { add: (k: string) => keys.push(k) }, lists: () => lists };
}

beforeAll(async () => {
  server = await startApiServer();
  kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  for (const name of ['inf-a', 'inf-b', 'inf-c', 'inf-d', 'inf-e']) {
    server.store.create('v1/namespaces', { metadata: { name } });
  }
});
afterAll(async () => {
  await Promise.all(informers.map((i) => i.stop()));
  await server.stop();
});

describe('keys and paths', () => {
  it('builds keys, splits them and builds collection paths', () => {
    expect(keyOf(cm('ns', 'x'))).toBe('ns/x');
    expect(keyOf({ metadata: { name: 'node-1' } })).toBe('node-1');
    expect(splitKey('ns/x')).toEqual({ namespace: 'ns', name: 'x' });
    expect(splitKey('node-1')).toEqual({ name: 'node-1' });
    expect(resourcePath({ group: '', version: 'v1', plural: 'configmaps' }, 'ns')).toBe(
      '/api/v1/namespaces/ns/configmaps',
    );
    expect(resourcePath({ group: 'sippbx.dev', version: 'v1alpha1', plural: 'sippbxes' })).toBe(
      '/apis/sippbx.dev/v1alpha1/sippbxes',
    );
  });

  it('maps owner references of a kind to owner keys, optionally only the controller', () => {
    const refs = [
      { apiVersion: 'sippbx.dev/v1alpha1', kind: 'SipPbx', name: 'pbx', uid: '1', controller: true },
      { apiVersion: 'v1', kind: 'SipPbx', name: 'other-version', uid: '2' },
      { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'sts', uid: '3' },
    ];
    const obj = cm('ns', 'x', {}, { ownerReferences: refs });
    expect(ownerKeys('SipPbx')(obj)).toEqual(['ns/pbx', 'ns/other-version']);
    expect(ownerKeys('SipPbx', { apiVersion: 'sippbx.dev/v1alpha1' })(obj)).toEqual(['ns/pbx']);
    expect(ownerKeys('SipPbx', { controllerOnly: true })(obj)).toEqual(['ns/pbx']);
    expect(
      ownerKeys('Node')({
        metadata: { name: 'cluster-wide', ownerReferences: [{ ...refs[0]!, kind: 'Node', name: 'n1' }] },
      }),
    ).toEqual(['n1']);
    expect(ownerKeys('SipPbx')({ metadata: { name: 'none' } })).toEqual([]);
  });
});

describe('informer on ConfigMaps', () => {
  it('syncs the existing objects, then create/update/delete enqueue the object key and update the cache', async () => {
    server.store.create('v1/configmaps', cm('inf-a', 'before'));
    const { inf, keys, queue } = configMapInformer('inf-a');
    inf.enqueueTo(queue);
    expect(inf.hasSynced()).toBe(false);
    await inf.start();
    expect(await inf.waitForSync()).toBe(true);
    expect(inf.hasSynced()).toBe(true);
    expect(await inf.waitForSync()).toBe(true);
    expect(keys).toEqual(['inf-a/before']);
    expect(inf.get('inf-a', 'before')?.metadata?.name).toBe('before');

    await core.createNamespacedConfigMap({ namespace: 'inf-a', body: cm('inf-a', 'x', { v: '1' }) });
    await waitFor(() => keys.length === 2);
    await core.patchNamespacedConfigMap({
      namespace: 'inf-a',
      name: 'x',
      body: [{ op: 'replace', path: '/data/v', value: '2' }],
    });
    await waitFor(() => inf.getByKey('inf-a/x')?.data?.['v'] === '2');
    await core.deleteNamespacedConfigMap({ namespace: 'inf-a', name: 'x' });
    await waitFor(() => inf.get('inf-a', 'x') === undefined);
    expect(keys).toEqual(['inf-a/before', 'inf-a/x', 'inf-a/x', 'inf-a/x']);
    expect(inf.list('inf-a').map((o) => o.metadata?.name)).toEqual(['before']);
    expect(inf.list().length).toBe(1);
    expect(inf.healthy()).toBe(true);
  });

  it('owned objects enqueue their owner, also the owner they just lost', async () => {
    const { inf, keys, queue } = configMapInformer('inf-b');
    inf.enqueueTo(queue, ownerKeys('SipPbx'));
    const events: string[] = [];
    inf.onEvent((type, obj) => events.push(`${type}:${obj.metadata?.name}`));
    await inf.start();
    await inf.waitForSync();
    const owner = {
      apiVersion: 'sippbx.dev/v1alpha1',
      kind: 'SipPbx',
      name: 'pbx-1',
      uid: 'u-1',
      controller: true,
    };
    await core.createNamespacedConfigMap({
      namespace: 'inf-b',
      body: cm('inf-b', 'pbx-1-config', {}, { ownerReferences: [owner] }),
    });
    await core.createNamespacedConfigMap({ namespace: 'inf-b', body: cm('inf-b', 'unowned') });
    await waitFor(() => events.length === 2);
    expect(keys).toEqual(['inf-b/pbx-1']);
    // moved to another owner: both hear about it
    const other = { ...owner, name: 'pbx-2', uid: 'u-2' };
    await core.replaceNamespacedConfigMap({
      namespace: 'inf-b',
      name: 'pbx-1-config',
      body: cm('inf-b', 'pbx-1-config', { moved: 'yes' }, { ownerReferences: [other] }),
    });
    await waitFor(() => events.length === 3);
    expect(keys.slice(1).sort()).toEqual(['inf-b/pbx-1', 'inf-b/pbx-2']);
    await core.deleteNamespacedConfigMap({ namespace: 'inf-b', name: 'pbx-1-config' });
    await waitFor(() => events.length === 4);
    expect(keys.at(-1)).toBe('inf-b/pbx-2');
    expect(events).toEqual(['add:pbx-1-config', 'add:unowned', 'update:pbx-1-config', 'delete:pbx-1-config']);
  });

  it('relists after a 410 Gone and keeps delivering events', async () => {
    const { inf, keys, queue, lists } = configMapInformer('inf-c');
    inf.enqueueTo(queue);
    await inf.start();
    await inf.waitForSync();
    expect(lists()).toBe(1);
    server.store.expireWatches();
    await waitFor(() => lists() === 2);
    await core.createNamespacedConfigMap({ namespace: 'inf-c', body: cm('inf-c', 'after-410') });
    await waitFor(() => keys.includes('inf-c/after-410'));
    expect(inf.get('inf-c', 'after-410')).toBeDefined();
    expect(inf.healthy()).toBe(true);
  });

  it('resumes a dropped watch from its resourceVersion without relisting', async () => {
    const { inf, keys, queue, lists } = configMapInformer('inf-d');
    inf.enqueueTo(queue);
    await inf.start();
    await inf.waitForSync();
    for (let i = 0; i < 3; i++) {
      server.dropWatches();
      await core.createNamespacedConfigMap({ namespace: 'inf-d', body: cm('inf-d', `while-dropped-${i}`) });
      await waitFor(() => keys.includes(`inf-d/while-dropped-${i}`));
    }
    expect(lists()).toBe(1);
    expect(inf.list('inf-d')).toHaveLength(3);
  });

  it('watches all namespaces with a label selector', async () => {
    const { inf, keys, queue } = configMapInformer(undefined, {
      labelSelector: 'app=sel',
      list: () => core.listConfigMapForAllNamespaces({ labelSelector: 'app=sel' }),
    });
    inf.enqueueTo(queue);
    await inf.start();
    await inf.waitForSync();
    await core.createNamespacedConfigMap({ namespace: 'inf-e', body: cm('inf-e', 'no-label') });
    await core.createNamespacedConfigMap({
      namespace: 'inf-e',
      body: cm('inf-e', 'labelled', {}, { labels: { app: 'sel' } }),
    });
    await waitFor(() => keys.length === 1);
    expect(keys).toEqual(['inf-e/labelled']);
    expect(inf.name).toBe('configmaps');
  });

  it('restarts with backoff when the list fails, and reports unhealthy while stuck', async () => {
    const clock = fakeClock();
    let failures = 3;
    const { inf } = configMapInformer('inf-a', {
      name: 'flaky',
      clock,
      restartDelayMs: 100,
      stuckAfterMs: 250,
      list: () =>
        failures-- > 0
          ? Promise.reject(new Error('apiserver down'))
          : core.listNamespacedConfigMap({ namespace: 'inf-a' }),
    });
    await inf.start();
    expect(inf.hasSynced()).toBe(false);
    expect(inf.healthy()).toBe(true);
    expect(clock.pending()).toBe(1); // the restart timer
    clock.advance(100); // retry 1 fails
    await waitFor(() => failures === 1 && clock.pending() === 1);
    clock.advance(199);
    expect(failures).toBe(1); // the second delay is 200 ms
    clock.advance(1);
    await waitFor(() => failures === 0 && clock.pending() === 1);
    expect(inf.healthy()).toBe(false); // failing for 300 ms > 250
    clock.advance(400);
    expect(await inf.waitForSync()).toBe(true);
    expect(inf.healthy()).toBe(true);
    expect(inf.get('inf-a', 'before')).toBeDefined();
  });

  it('waitForSync resolves false when stopped before syncing; stop is idempotent', async () => {
    const { inf } = configMapInformer('inf-a', {
      list: () => Promise.reject(new Error('never')),
      restartDelayMs: 60_000,
    });
    const waiting = inf.waitForSync();
    await inf.start();
    await inf.stop();
    await inf.stop();
    expect(await waiting).toBe(false);
    expect(await inf.waitForSync()).toBe(false);
  });
});
