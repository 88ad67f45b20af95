/* eslint-disable @typescript-eslint/require-await -- reconcilers are async by contract; toy ones have nothing to await */
// The controller loop: a toy reconciler mirroring ConfigMaps converges against the API server; errors
// come back with backoff, TerminalErrors do not; requeues, workers and stop() in virtual time.
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createController } from '../../operator/controller/runtime/controller.js';
import type { ReconcileResult, SyncSource } from '../../operator/controller/runtime/controller.js';
import { TerminalError, isTerminalError } from '../../operator/controller/runtime/errors.js';
import { createInformer, keyOf, splitKey } from '../../operator/controller/runtime/informer.js';
import { createOperatorMetrics } from '../../operator/controller/runtime/metrics.js';
import { createWorkQueue } from '../../operator/controller/runtime/queue.js';
import { fakeClock } from '../../pbx/core/clock.js';
import { createLogger } from '../../pbx/core/logger.js';
import { startApiServer, type ApiServer } from '../kube/index.js';

const sink = { write: () => true } as unknown as NodeJS.WritableStream;
const logger = createLogger('error', process.env['DEBUG_RT'] ? process.stderr : sink);

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
/** Lets promise callbacks of already-settled work run (virtual-time tests). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const deferred = () => {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('controller against the API server', () => {
  let server: ApiServer;
  let core: CoreV1Api;
  let kc: KubeConfig;
  beforeAll(async () => {
    server = await startApiServer();
    kc = new KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    for (const name of ['src', 'mirror']) server.store.create('v1/namespaces', { metadata: { name } });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('a ConfigMap mirror converges: creates, updates, deletes and repairs tampering', async () => {
    const metrics = createOperatorMetrics({ processMetrics: false });
    const queue = createWorkQueue({ name: 'mirror', metrics: metrics.workqueue('mirror') });
    const informer = (namespace: string) =>
      createInformer<V1ConfigMap>({
        kubeConfig: kc,
        resource: { group: '', version: 'v1', plural: 'configmaps' },
        namespace,
        list: () => core.listNamespacedConfigMap({ namespace }),
        maxReconnectDelayMs: 20,
      });
    const source = informer('src');
    const mirror = informer('mirror');
    source.enqueueTo(queue);
    mirror.enqueueTo(queue, (o) => [`src/${o.metadata?.name ?? ''}`]); // a changed copy re-checks its source
    server.store.create('v1/configmaps', { metadata: { name: 'pre', namespace: 'src' }, data: { a: '1' } });

    let reconciles = 0;
    const reconcile = async (key: string): Promise<void> => {
      reconciles++;
      const { name } = splitKey(key);
      const want = source.getByKey(key);
      const have = mirror.get('mirror', name);
      if (want === undefined) {
        if (have !== undefined) await core.deleteNamespacedConfigMap({ namespace: 'mirror', name });
        return;
      }
      const body: V1ConfigMap = { metadata: { name, namespace: 'mirror' }, data: want.data ?? {} };
      if (have === undefined) await core.createNamespacedConfigMap({ namespace: 'mirror', body });
      else if (JSON.stringify(have.data ?? {}) !== JSON.stringify(want.data ?? {})) {
        body.metadata = { ...body.metadata, resourceVersion: have.metadata?.resourceVersion ?? '' };
        await core.replaceNamespacedConfigMap({ namespace: 'mirror', name, body });
      }
    };
    const controller = createController({
      name: 'mirror',
      queue,
      informers: [source, mirror],
      reconcile,
      workers: 2,
      logger,
      metrics: metrics.controller('mirror'),
    });
    const started = controller.start();
    expect(controller.running()).toBe(false); // waits for the informers
    await Promise.all([source.start(), mirror.start()]);
    await started;
    expect(controller.running()).toBe(true);

    const mirrored = (): Record<string, unknown> =>
      Object.fromEntries<unknown>(
        server.store
          .list('v1/configmaps', 'mirror')
          .map((o) => [o.metadata.name ?? '', (o as unknown as V1ConfigMap).data]),
      );
    await waitFor(() => mirrored()['pre'] !== undefined);
    for (let i = 0; i < 3; i++) {
      await core.createNamespacedConfigMap({
        namespace: 'src',
        body: { metadata: { name: `cm-${i}` }, data: { i: String(i) } },
      });
    }
    await core.replaceNamespacedConfigMap({
      namespace: 'src',
      name: 'cm-1',
      body: { metadata: { name: 'cm-1' }, data: { i: 'one' } },
    });
    await core.deleteNamespacedConfigMap({ namespace: 'src', name: 'cm-2' });
    const want = { pre: { a: '1' }, 'cm-0': { i: '0' }, 'cm-1': { i: 'one' } };
    await waitFor(() => isDeepStrictEqual(mirrored(), want));
    // someone edits and deletes copies: the controller puts them back
    server.store.patch('v1/configmaps', 'mirror', 'cm-0', { data: { i: 'tampered' } });
    server.store.delete('v1/configmaps', 'mirror', 'pre');
    await waitFor(() => isDeepStrictEqual(mirrored(), want));
    expect(reconciles).toBeGreaterThanOrEqual(5);

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/controller_runtime_reconcile_total\{controller="mirror",result="success"\} [1-9]/);
    expect(text).toMatch(/controller_runtime_reconcile_time_seconds_count\{controller="mirror"\} [1-9]/);
    expect(text).toMatch(/workqueue_adds_total\{name="mirror"\} [1-9]/);
    expect(text).toMatch(/workqueue_work_duration_seconds_count\{name="mirror"\} [1-9]/);
    expect(text).toContain('controller_runtime_max_concurrent_reconciles{controller="mirror"} 2');
    await controller.stop();
    await controller.stop();
    expect(controller.running()).toBe(false);
    await Promise.all([source.stop(), mirror.stop()]);
  });
});

describe('controller in virtual time', () => {
  const make = (
    reconcile: (key: string) => Promise<ReconcileResult | void>,
    extra: { workers?: number; informers?: SyncSource[] } = {},
  ) => {
    const clock = fakeClock();
    const metrics = createOperatorMetrics({ processMetrics: false });
    const queue = createWorkQueue({ name: 'vt', clock, metrics: metrics.workqueue('vt') });
    const controller = createController({
      name: 'vt',
      queue,
      reconcile,
      logger,
      metrics: metrics.controller('vt'),
      now: () => clock.now(),
      ...extra,
    });
    return { clock, queue, controller, metrics };
  };
  const metricValue = async (m: ReturnType<typeof createOperatorMetrics>, name: string, labels: string) => {
    const line = (await m.registry.metrics()).split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return Number(line?.split(' ').at(-1));
  };

  it('retries a failing key with growing backoff and forgets it after success', async () => {
    const seen: number[] = [];
    const t = make(async () => {
      seen.push(t.clock.now());
      if (seen.length <= 3) throw new Error('transient');
    });
    await t.controller.start();
    t.queue.add('k');
    await flush();
    for (let i = 0; i < 200 && seen.length < 4; i++) {
      t.clock.advance(1);
      await flush();
    }
    expect(seen).toEqual([0, 5, 15, 35]); // 5, 10, 20 ms backoff
    expect(t.queue.numRequeues('k')).toBe(0); // forgotten after the success
    expect(await metricValue(t.metrics, 'controller_runtime_reconcile_errors_total', 'controller="vt"')).toBe(
      3,
    );
    expect(
      await metricValue(t.metrics, 'controller_runtime_reconcile_total', 'controller="vt",result="error"'),
    ).toBe(3);
    expect(await metricValue(t.metrics, 'workqueue_retries_total', 'name="vt"')).toBe(3);
    await t.controller.stop();
  });

  it('does not retry a TerminalError (also when wrapped as a cause)', async () => {
    let attempts = 0;
    const t = make(async (key) => {
      attempts++;
      if (key === 'direct') throw new TerminalError('spec can never work');
      throw new Error('wrapper', { cause: new TerminalError('inner') });
    });
    await t.controller.start();
    t.queue.add('direct');
    t.queue.add('wrapped');
    await flush();
    t.clock.advance(10_000);
    await flush();
    expect(attempts).toBe(2);
    expect(t.queue.numRequeues('direct')).toBe(0);
    expect(
      await metricValue(t.metrics, 'controller_runtime_terminal_reconcile_errors_total', 'controller="vt"'),
    ).toBe(2);
    expect(isTerminalError(new Error('plain'))).toBe(false);
    expect(new TerminalError('x').code).toBe('PBX_ERR_OPERATOR_TERMINAL');
    await t.controller.stop();
  });

  it('requeueAfterMs brings the key back after the delay; requeue: true uses the rate limiter', async () => {
    const runs: Record<string, number[]> = { after: [], again: [] };
    const t = make(async (key) => {
      runs[key]?.push(t.clock.now());
      if (key === 'after' && (runs['after']?.length ?? 0) < 3) return { requeueAfterMs: 1000 };
      if (key === 'again' && (runs['again']?.length ?? 0) < 2) return { requeue: true };
      return {};
    });
    await t.controller.start();
    t.queue.add('after');
    t.queue.add('again');
    await flush();
    for (let i = 0; i < 25; i++) {
      t.clock.advance(100);
      await flush();
    }
    expect(runs['after']).toEqual([0, 1000, 2000]);
    expect(runs['again']).toEqual([0, 100]); // the 5 ms backoff fires within the first 100 ms step
    expect(
      await metricValue(
        t.metrics,
        'controller_runtime_reconcile_total',
        'controller="vt",result="requeue_after"',
      ),
    ).toBe(2);
    expect(
      await metricValue(t.metrics, 'controller_runtime_reconcile_total', 'controller="vt",result="requeue"'),
    ).toBe(1);
    await t.controller.stop();
  });

  it('runs keys on several workers but one key on one worker at a time', async () => {
    const inFlight = new Map<string, number>();
    let maxPerKey = 0;
    let maxTotal = 0;
    const gates: Array<() => void> = [];
    const t = make(
      async (key) => {
        inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
        maxPerKey = Math.max(maxPerKey, inFlight.get(key) ?? 0);
        maxTotal = Math.max(
          maxTotal,
          [...inFlight.values()].reduce((a, b) => a + b, 0),
        );
        const gate = deferred();
        gates.push(gate.resolve);
        await gate.promise;
        inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
      },
      { workers: 3 },
    );
    await t.controller.start();
    for (const k of ['a', 'b', 'c', 'd']) t.queue.add(k);
    await flush();
    expect(gates).toHaveLength(3);
    t.queue.add('a'); // in progress: must wait
    while (gates.length > 0) {
      gates.shift()?.();
      await flush();
    }
    expect(maxTotal).toBe(3);
    expect(maxPerKey).toBe(1);
    await t.controller.stop();
  });

  it('starts after every informer synced and stop() waits for reconciles in flight', async () => {
    const sync = deferred();
    let synced = false;
    const informer: SyncSource = { waitForSync: () => sync.promise.then(() => (synced = true)) };
    const gate = deferred();
    let finished = false;
    const t = make(
      async () => {
        await gate.promise;
        finished = true;
      },
      { informers: [informer] },
    );
    const starting = t.controller.start();
    t.queue.add('k');
    await flush();
    expect(t.controller.running()).toBe(false);
    sync.resolve();
    await starting;
    expect(synced && t.controller.running()).toBe(true);
    await expect(t.controller.start()).rejects.toThrow(/already started/);
    await flush();
    let stopped = false;
    const stopping = t.controller.stop().then(() => (stopped = true));
    await flush();
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(finished && stopped).toBe(true);
  });

  it('does not start workers when stopped while syncing or when an informer gave up', async () => {
    const never: SyncSource = { waitForSync: () => new Promise(() => undefined) };
    const a = make(async () => undefined, { informers: [never] });
    const starting = a.controller.start();
    await a.controller.stop();
    await starting;
    expect(a.controller.running()).toBe(false);
    const b = make(async () => undefined, { informers: [{ waitForSync: () => Promise.resolve(false) }] });
    await b.controller.start();
    expect(b.controller.running()).toBe(false);
    expect(() => make(async () => undefined, { workers: 0 })).toThrow(RangeError);
  });

  it('treats a thrown ApiException like any other error (retried)', async () => {
    let attempts = 0;
    const t = make(async () => {
      attempts++;
      if (attempts === 1) throw new ApiException(409, 'Conflict', {}, {});
    });
    await t.controller.start();
    t.queue.add(keyOf({ metadata: { namespace: 'ns', name: 'x' } }));
    await flush();
    t.clock.advance(5);
    await flush();
    expect(attempts).toBe(2);
    await t.controller.stop();
  });
});
