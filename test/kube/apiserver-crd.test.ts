// API server custom resources: serving a CRD, schema defaults/pruning, 422 causes, CEL rules, 415 on
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call --
   replies are raw JSON (`any`) on purpose: these tests assert the wire shape a real client sees. */
// strategic merge, status/scale subresources, Table printer columns.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startApiServer, type ApiServer, type KubeObject } from './index.js';
import { call } from './apiserver/testing.js';

const crd = parse(
  readFileSync(join(import.meta.dirname, 'apiserver/testdata/widget-crd.yaml'), 'utf8'),
) as KubeObject;
const W = '/apis/example.sippbx.io/v1/namespaces/default/widgets';
const TABLE = { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' };

let s: ApiServer;
beforeAll(async () => {
  s = await startApiServer();
  const r = await call(s, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  expect(r.status).toBe(201);
});
afterAll(async () => {
  await s.stop();
});

const widget = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'example.sippbx.io/v1',
  kind: 'Widget',
  metadata: { name },
  spec,
});

describe('CRD serving', () => {
  it('marks the CRD Established and lists its resource and subresources in discovery', async () => {
    const got = s.store.get(
      'apiextensions.k8s.io/v1/customresourcedefinitions',
      undefined,
      'widgets.example.sippbx.io',
    );
    expect((got.status as { conditions: { type: string; status: string }[] }).conditions).toContainEqual(
      expect.objectContaining({ type: 'Established', status: 'True' }),
    );
    const rl = (await call(s, 'GET', '/apis/example.sippbx.io/v1')).body.resources;
    expect(rl).toContainEqual(
      expect.objectContaining({
        name: 'widgets',
        kind: 'Widget',
        shortNames: ['wd'],
        categories: ['all'],
        namespaced: true,
      }),
    );
    expect(rl).toContainEqual(expect.objectContaining({ name: 'widgets/status' }));
    expect(rl).toContainEqual(
      expect.objectContaining({ name: 'widgets/scale', group: 'autoscaling', kind: 'Scale' }),
    );
    expect((await call(s, 'GET', '/apis')).body.groups.map((g: { name: string }) => g.name)).toContain(
      'example.sippbx.io',
    );
  });

  it('applies schema defaults and prunes unknown fields (keeping x-kubernetes-preserve-unknown-fields)', async () => {
    const r = await call(
      s,
      'POST',
      W,
      widget('d1', { size: 'small', bogus: 1, extra: { free: { form: true } } }),
    );
    expect(r.status).toBe(201);
    expect(r.body.spec).toEqual({
      size: 'small',
      replicas: 1,
      color: 'blue',
      extra: { free: { form: true } },
    });
  });

  it('fieldValidation=Strict refuses unknown fields with 400', async () => {
    const r = await call(
      s,
      'POST',
      `${W}?fieldValidation=Strict`,
      widget('strict', { size: 'small', bogus: 1 }),
    );
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('unknown field "spec.bogus"');
  });

  it('422 Invalid with causes for schema violations', async () => {
    const r = await call(s, 'POST', W, widget('bad', { size: 'medium', replicas: -1 }));
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({
      kind: 'Status',
      reason: 'Invalid',
      code: 422,
      details: { name: 'bad', group: 'example.sippbx.io', kind: 'Widget' },
    });
    expect(r.body.details.causes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'FieldValueNotSupported', field: 'spec.size' }),
        expect.objectContaining({ reason: 'FieldValueInvalid', field: 'spec.replicas' }),
      ]),
    );
    const missing = await call(s, 'POST', W, widget('bad', {}));
    expect(missing.body.details.causes).toContainEqual({
      reason: 'FieldValueRequired',
      message: 'Required value',
      field: 'spec.size',
    });
  });

  it('evaluates x-kubernetes-validations CEL rules, including transition rules with oldSelf', async () => {
    const r = await call(s, 'POST', W, widget('cel', { size: 'small', replicas: 11 }));
    expect(r.status).toBe(422);
    expect(r.body.details.causes).toContainEqual(
      expect.objectContaining({
        field: 'spec',
        message: expect.stringContaining('replicas must be at most 10') as unknown,
      }),
    );
    await call(s, 'POST', W, widget('cel', { size: 'small' }));
    const t = await call(
      s,
      'PATCH',
      `${W}/cel`,
      { spec: { size: 'large' } },
      { 'content-type': 'application/merge-patch+json' },
    );
    expect(t.status).toBe(422);
    expect(t.body.message).toContain('size is immutable');
  });

  it('refuses strategic merge patch on custom resources with 415; merge and JSON patch work', async () => {
    const smp = await call(
      s,
      'PATCH',
      `${W}/d1`,
      { spec: { replicas: 2 } },
      { 'content-type': 'application/strategic-merge-patch+json' },
    );
    expect(smp.status).toBe(415);
    expect(smp.body.reason).toBe('UnsupportedMediaType');
    const mp = await call(
      s,
      'PATCH',
      `${W}/d1`,
      { spec: { replicas: 2 } },
      { 'content-type': 'application/merge-patch+json' },
    );
    expect(mp.body.spec.replicas).toBe(2);
    expect(mp.body.metadata.generation).toBe(2);
    const jp = await call(s, 'PATCH', `${W}/d1`, [{ op: 'replace', path: '/spec/color', value: 'red' }], {
      'content-type': 'application/json-patch+json',
    });
    expect(jp.body.spec.color).toBe('red');
  });

  it('has a status subresource and a scale subresource from the CRD paths', async () => {
    const w = (await call(s, 'POST', W, widget('sc', { size: 'large', replicas: 3 }))).body;
    const st = await call(s, 'PUT', `${W}/sc/status`, {
      ...w,
      spec: { size: 'small' },
      status: { replicas: 2, selector: 'app=sc', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    expect(st.body.spec.size).toBe('large');
    expect(st.body.metadata.generation).toBe(1);
    const scale = await call(s, 'GET', `${W}/sc/scale`);
    expect(scale.body).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      spec: { replicas: 3 },
      status: { replicas: 2, selector: 'app=sc' },
    });
    const patched = await call(
      s,
      'PATCH',
      `${W}/sc/scale`,
      { spec: { replicas: 5 } },
      { 'content-type': 'application/merge-patch+json' },
    );
    expect(patched.body.spec.replicas).toBe(5);
    expect(s.store.get('example.sippbx.io/v1/widgets', 'default', 'sc').spec).toMatchObject({ replicas: 5 });
  });

  it('answers Table requests with the CRD printer columns', async () => {
    const r = await call(s, 'GET', `${W}?fieldSelector=metadata.name%3Dsc`, undefined, TABLE);
    expect(r.body.kind).toBe('Table');
    expect(r.body.columnDefinitions.map((c: { name: string }) => c.name)).toEqual([
      'Name',
      'Replicas',
      'Ready',
      'Age',
    ]);
    expect(r.body.rows[0].cells.slice(0, 3)).toEqual(['sc', 5, 'True']);
    expect(r.body.rows[0].cells[3]).toMatch(/^\d+s$/);
    expect(r.body.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'sc' } });
    const pods = await call(s, 'GET', '/api/v1/namespaces/default/configmaps', undefined, TABLE);
    expect(pods.body.columnDefinitions.map((c: { name: string }) => c.name)).toEqual(['Name', 'Age']);
  });

  it('stops serving the resource when the CRD is deleted', async () => {
    await call(
      s,
      'DELETE',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.sippbx.io',
    );
    expect((await call(s, 'GET', W)).status).toBe(404);
    expect((await call(s, 'GET', '/apis/example.sippbx.io/v1')).status).toBe(404);
    await call(s, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    expect((await call(s, 'GET', W)).body.items).toEqual([]);
  });
});
