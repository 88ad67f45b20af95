// API server watch protocol: replay, selectors, bookmarks, timeouts, 410, and a real client-node informer.
/* eslint-disable @typescript-eslint/no-unsafe-member-access --
   replies are raw JSON (`any`) on purpose: these tests assert the wire shape a real client sees. */
import { CoreV1Api, KubeConfig, makeInformer, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from './index.js';
import { call, watchStream } from './apiserver/testing.js';

let s: ApiServer;
beforeAll(async () => {
  s = await startApiServer({ historyLimit: 20, bookmarkIntervalMs: 50 });
  s.store.create('v1/namespaces', { metadata: { name: 'w' } });
});
afterAll(async () => {
  await s.stop();
});

const CM = '/api/v1/namespaces/w/configmaps';
const cm = (name: string, labels: Record<string, string> = {}) =>
  s.store.create('v1/configmaps', { metadata: { name, namespace: 'w', labels } });

describe('watch', () => {
  it('resourceVersion "" and "0" replay current objects as ADDED, then stream changes', async () => {
    cm('r1');
    for (const rv of ['', '0']) {
      const w = await watchStream(
        s,
        `${CM}?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dr1`,
      );
      expect(w.status).toBe(200);
      const first = await w.next();
      expect(first.type).toBe('ADDED');
      expect(first.object.metadata.name).toBe('r1');
      w.close();
    }
    const w = await watchStream(s, `${CM}?watch=1&fieldSelector=metadata.name%3Dr1`);
    await w.next();
    s.store.patch('v1/configmaps', 'w', 'r1', { data: { a: '1' } });
    expect((await w.next()).type).toBe('MODIFIED');
    s.store.delete('v1/configmaps', 'w', 'r1');
    const del = await w.next();
    expect(del.type).toBe('DELETED');
    expect(Number(del.object.metadata.resourceVersion)).toBe(Number(s.store.resourceVersion()));
    w.close();
  });

  it('a numeric resourceVersion replays only later changes', async () => {
    const a = cm('h1');
    cm('h2');
    const w = await watchStream(s, `${CM}?watch=true&resourceVersion=${a.metadata.resourceVersion}`);
    const ev = await w.next();
    expect(ev).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'h2' } } });
    w.close();
  });

  it('objects entering and leaving a label selector arrive as ADDED and DELETED', async () => {
    const w = await watchStream(s, `${CM}?watch=true&labelSelector=role%3Dedge`);
    cm('sel', { role: 'core' });
    s.store.patch('v1/configmaps', 'w', 'sel', { metadata: { labels: { role: 'edge' } } });
    expect(await w.next()).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'sel' } } });
    s.store.patch('v1/configmaps', 'w', 'sel', { data: { x: 'y' } });
    expect((await w.next()).type).toBe('MODIFIED');
    s.store.patch('v1/configmaps', 'w', 'sel', { metadata: { labels: { role: 'core' } } });
    expect(await w.next()).toMatchObject({
      type: 'DELETED',
      object: { metadata: { name: 'sel', labels: { role: 'core' } } },
    });
    w.close();
  });

  it('legacy /watch/ paths watch one object', async () => {
    cm('legacy');
    const w = await watchStream(s, '/api/v1/watch/namespaces/w/configmaps/legacy');
    expect(await w.next()).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'legacy' } } });
    w.close();
  });

  it('sends BOOKMARK events when allowWatchBookmarks is set', async () => {
    const w = await watchStream(
      s,
      `${CM}?watch=true&resourceVersion=${s.store.resourceVersion()}&allowWatchBookmarks=true`,
    );
    const b = await w.next();
    expect(b).toMatchObject({ type: 'BOOKMARK', object: { kind: 'ConfigMap', apiVersion: 'v1' } });
    expect(Number(b.object.metadata.resourceVersion)).toBeGreaterThan(0);
    w.close();
  });

  it('sendInitialEvents ends the replay with an initial-events-end BOOKMARK', async () => {
    const w = await watchStream(
      s,
      `${CM}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&fieldSelector=metadata.name%3Dlegacy`,
    );
    expect((await w.next()).type).toBe('ADDED');
    expect(await w.next()).toMatchObject({
      type: 'BOOKMARK',
      object: { metadata: { annotations: { 'k8s.io/initial-events-end': 'true' } } },
    });
    w.close();
  });

  it('ends the stream after timeoutSeconds', async () => {
    const w = await watchStream(
      s,
      `${CM}?watch=true&timeoutSeconds=1&resourceVersion=${s.store.resourceVersion()}`,
    );
    await w.ended;
  });

  it('410 Expired as an ERROR event for a resourceVersion older than the history', async () => {
    const old = s.store.resourceVersion();
    for (let i = 0; i < 25; i++) cm(`flood-${i}`);
    const w = await watchStream(s, `${CM}?watch=true&resourceVersion=${old}`);
    expect(w.status).toBe(200);
    expect(await w.next()).toMatchObject({
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired' },
    });
    await w.ended;
  });

  it('410 mid-stream when the server expires open watches', async () => {
    const w = await watchStream(s, `${CM}?watch=true&resourceVersion=${s.store.resourceVersion()}`);
    s.store.expireWatches();
    expect(await w.next()).toMatchObject({ type: 'ERROR', object: { code: 410 } });
    await w.ended;
  });

  it('renders events as Tables when asked', async () => {
    const w = await watchStream(s, `${CM}?watch=true&fieldSelector=metadata.name%3Dlegacy`, {
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
    });
    const ev = await w.next();
    expect(ev.object).toMatchObject({
      kind: 'Table',
      rows: [{ cells: ['legacy', expect.any(String) as unknown] }],
    });
    w.close();
  });
});

describe('client-node informer', () => {
  it('lists, watches, and relists after a 410', async () => {
    s.store.create('v1/namespaces', { metadata: { name: 'inf' } });
    s.store.create('v1/configmaps', { metadata: { name: 'before', namespace: 'inf' } });
    const kc = new KubeConfig();
    kc.loadFromFile(s.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    let lists = 0;
    const informer = makeInformer<V1ConfigMap>(kc, '/api/v1/namespaces/inf/configmaps', () => {
      lists++;
      return core.listNamespacedConfigMap({ namespace: 'inf' });
    });
    const seen: string[] = [];
    const waitFor = (entry: string) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (seen.includes(entry)) resolve();
          else setTimeout(check, 10);
        };
        check();
      });
    informer.on('add', (o) => seen.push(`add:${o.metadata?.name ?? ''}`));
    informer.on('update', (o) => seen.push(`update:${o.metadata?.name ?? ''}:${o.data?.v ?? ''}`));
    informer.on('delete', (o) => seen.push(`delete:${o.metadata?.name ?? ''}`));
    await informer.start();
    await waitFor('add:before');
    s.store.create('v1/configmaps', { metadata: { name: 'live', namespace: 'inf' } });
    await waitFor('add:live');
    expect(lists).toBe(1);

    // Disconnect, change things, and push the informer's resourceVersion out of the history.
    s.dropWatches();
    s.store.delete('v1/configmaps', 'inf', 'before');
    s.store.create('v1/configmaps', { metadata: { name: 'while-away', namespace: 'inf' } });
    for (let i = 0; i < 25; i++) s.store.patch('v1/configmaps', 'w', 'legacy', { data: { i: String(i) } });
    await waitFor('add:while-away');
    await waitFor('delete:before');
    expect(lists).toBe(2);
    // A change seen through the new watch proves it is open.
    s.store.create('v1/configmaps', { metadata: { name: 'sentinel', namespace: 'inf' } });
    await waitFor('add:sentinel');

    // A mid-stream 410 also makes it relist.
    s.store.expireWatches();
    s.store.patch('v1/configmaps', 'inf', 'live', { data: { v: '2' } });
    await waitFor('update:live:2');
    expect(lists).toBe(3);
    await informer.stop();
  });

  it('reaches the server with client-node typed clients (list, create, 409 as ApiException)', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(s.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'w',
      body: { metadata: { name: 'typed' }, data: { a: 'b' } },
    });
    await expect(
      core.createNamespacedConfigMap({ namespace: 'w', body: { metadata: { name: 'typed' } } }),
    ).rejects.toMatchObject({ code: 409 });
    const got = await core.readNamespacedConfigMap({ namespace: 'w', name: 'typed' });
    expect(got.data).toEqual({ a: 'b' });
    expect((await call(s, 'GET', `${CM}/typed`)).status).toBe(200);
  });
});
