// crds/sippbx.yaml applied to the in-process API server: valid SipPbx objects are stored with the
// defaults filled (the same defaults zod fills), invalid specs get 422 with the rule's message, and
// operator/api's parser refuses the same specs.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call --
   replies are raw JSON (`any`) on purpose: these tests assert the wire shape a real client sees. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RULE_MESSAGES, parseSipPbx } from '../../operator/api/index.js';
import { startApiServer, type ApiServer, type KubeObject } from '../kube/index.js';
import { call } from '../kube/apiserver/testing.js';

const crd = parse(readFileSync(join(import.meta.dirname, '../../crds/sippbx.yaml'), 'utf8')) as KubeObject;
const BASE = '/apis/sippbx.dev/v1alpha1/namespaces/default/sippbxes';
const TABLE = { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' };

const pbx = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'sippbx.dev/v1alpha1',
  kind: 'SipPbx',
  metadata: { name },
  spec,
});

let s: ApiServer;
beforeAll(async () => {
  s = await startApiServer();
  const r = await call(s, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  expect(r.status).toBe(201);
});
afterAll(async () => {
  await s.stop();
});

describe('valid SipPbx objects', () => {
  it('an empty spec is stored with every default, equal to what zod fills', async () => {
    const r = await call(s, 'POST', BASE, pbx('defaults', {}));
    expect(r.status).toBe(201);
    expect(r.body.spec).toEqual({
      replicas: 1,
      sip: { port: 5060, transports: ['udp', 'tcp'], serviceType: 'ClusterIP' },
      media: {
        networkMode: 'PodIP',
        portRange: { start: 10000, end: 20000 },
        maxCallsPerPod: 1000,
        portsPerCall: 8,
      },
      drain: { timeoutSeconds: 3600, onDelete: 'Drain' },
      updateStrategy: { maxUnavailable: 1 },
      monitoring: { serviceMonitor: false },
    });
    const parsed = parseSipPbx(r.body);
    expect(parsed.ok && parsed.value.spec).toEqual(r.body.spec);
  });

  it('a full spec keeps its values and fills nested defaults (webhooks, limits)', async () => {
    const spec = {
      replicas: 3,
      image: 'ghcr.io/sippbx/sippbx:1.2.3',
      resources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: 2 } },
      tolerations: [{ key: 'sip', operator: 'Exists', effect: 'NoSchedule' }],
      affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
      sip: { serviceType: 'LoadBalancer', externalTrafficPolicy: 'Local' },
      media: { networkMode: 'HostNetwork', portRange: { start: 20000, end: 44000 } },
      redis: { secretRef: { name: 'redis', key: 'url' } },
      config: {
        routes: [{ match: '^1', target: 'sip:gw.example.com' }],
        webhooks: [{ url: 'https://hooks.example.com/cdr' }],
        limits: { invitesPerSecondPerIp: 5 },
        logLevel: 'debug',
      },
    };
    const r = await call(s, 'POST', BASE, pbx('full', spec));
    expect(r.status).toBe(201);
    expect(r.body.spec.affinity).toEqual(spec.affinity);
    expect(r.body.spec.config.webhooks).toEqual([
      {
        url: 'https://hooks.example.com/cdr',
        events: ['call.started', 'call.answered', 'call.ended'],
        secret: null,
        timeoutMs: 5000,
        maxAttempts: 8,
      },
    ]);
    expect(r.body.spec.config.limits).toMatchObject({ invitesPerSecondPerIp: 5, maxMemoryMb: null });
    const parsed = parseSipPbx(r.body);
    expect(parsed.ok && parsed.value.spec).toEqual(r.body.spec);
  });

  it('serves the scale subresource and the printer columns', async () => {
    await call(s, 'POST', BASE, pbx('scaled', { media: { portRange: { start: 10000, end: 40000 } } }));
    const scale = await call(s, 'GET', `${BASE}/scaled/scale`);
    expect(scale.body).toMatchObject({ kind: 'Scale', spec: { replicas: 1 } });
    const put = await call(s, 'PUT', `${BASE}/scaled/scale`, { ...scale.body, spec: { replicas: 3 } });
    expect(put.status).toBe(200);
    expect((await call(s, 'GET', `${BASE}/scaled`)).body.spec.replicas).toBe(3);
    const table = await call(s, 'GET', `${BASE}/scaled`, undefined, TABLE);
    expect(table.body.columnDefinitions.map((c: { name: string }) => c.name)).toEqual([
      'Name',
      'Desired',
      'Ready',
      'Draining',
      'Calls',
      'Status',
      'Age',
    ]);
  });
});

/** A spec with enough room for its replicas, changed by `patch`. */
const invalid: [string, Record<string, unknown>, string, string][] = [
  [
    'odd port-range start',
    { media: { portRange: { start: 10001 } } },
    'spec.media.portRange.start',
    RULE_MESSAGES.startAligned,
  ],
  [
    'start not a multiple of 8',
    { media: { portRange: { start: 10002 } } },
    'spec.media.portRange.start',
    RULE_MESSAGES.startAligned,
  ],
  [
    'end before start',
    { media: { portRange: { start: 20000, end: 10000 } } },
    'spec.media.portRange.end',
    RULE_MESSAGES.endAfterStart,
  ],
  ['range too small for the replicas', { replicas: 2 }, 'spec.media.portRange', RULE_MESSAGES.rangeFits],
  [
    'range too small for maxCallsPerPod',
    { media: { maxCallsPerPod: 2000 } },
    'spec.media.portRange',
    RULE_MESSAGES.rangeFits,
  ],
  [
    'two redis sources',
    { redis: { url: 'redis://r:6379', managed: true } },
    'spec.redis',
    RULE_MESSAGES.oneRedisSource,
  ],
  ['no redis source', { redis: { managed: false } }, 'spec.redis', RULE_MESSAGES.oneRedisSource],
  [
    'sip port inside the media range',
    { sip: { port: 15000 } },
    'spec.sip.port',
    RULE_MESSAGES.sipPortOutsideMedia,
  ],
  ['sip port on the HTTP port', { sip: { port: 8080 } }, 'spec.sip.port', RULE_MESSAGES.sipPortFree],
];

describe('invalid specs are refused with the rule message, by the API server and by zod', () => {
  it.each(invalid)('%s', async (_what, spec, field, message) => {
    const r = await call(s, 'POST', BASE, pbx('bad', spec));
    expect(r.status).toBe(422);
    expect(r.body.details.causes).toContainEqual({
      reason: 'FieldValueInvalid',
      field,
      message: `Invalid value: "object": ${message}`,
    });
    const parsed = parseSipPbx({ ...pbx('bad', spec), metadata: { name: 'bad', namespace: 'default' } });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toContain(message);
  });

  it('schema violations: unknown enum value, negative replicas, portsPerCall other than 8', async () => {
    const r = await call(
      s,
      'POST',
      BASE,
      pbx('bad', { replicas: -1, sip: { serviceType: 'ExternalName' }, media: { portsPerCall: 16 } }),
    );
    expect(r.status).toBe(422);
    expect(r.body.details.causes.map((c: { field: string }) => c.field).sort()).toEqual([
      'spec.media.portsPerCall',
      'spec.replicas',
      'spec.sip.serviceType',
    ]);
  });

  it('changing portsPerCall on an existing object is refused', async () => {
    const created = await call(s, 'POST', BASE, pbx('fixed', {}));
    expect(created.status).toBe(201);
    const changed = structuredClone(created.body);
    changed.spec.media.portsPerCall = 16;
    const r = await call(s, 'PUT', `${BASE}/fixed`, changed);
    expect(r.status).toBe(422);
    expect(r.body.details.causes).toContainEqual(
      expect.objectContaining({ field: 'spec.media.portsPerCall', reason: 'FieldValueNotSupported' }),
    );
  });

  it('an update that keeps portsPerCall passes the transition rule', async () => {
    const got = await call(s, 'GET', `${BASE}/fixed`);
    got.body.spec.replicas = 0;
    expect((await call(s, 'PUT', `${BASE}/fixed`, got.body)).status).toBe(200);
  });
});
