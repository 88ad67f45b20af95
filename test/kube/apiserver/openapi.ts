// Minimal OpenAPI documents: /openapi/v2 (empty) and /openapi/v3 with one PATCH operation per kind that
// declares the `fieldValidation` query parameter, which is what kubectl checks before it relies on
// server-side field validation instead of validating client-side.
import { createHash } from 'node:crypto';
import type { TypeRegistry } from './registry.js';
import type { ResourceType } from './types.js';

const INFO = { title: 'Kubernetes', version: 'v1.32.0' };

/** The (empty) Swagger 2.0 document. */
export function openApiV2(): Record<string, unknown> {
  return { swagger: '2.0', info: INFO, paths: {}, definitions: {} };
}

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** The `/openapi/v3` index of group/version documents. */
export function openApiV3Index(types: TypeRegistry): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [group, versions] of types.groups()) {
    for (const v of versions) {
      const p = gvPath(group, v);
      const hash = createHash('sha256')
        .update(JSON.stringify(openApiV3Doc(types, group, v)))
        .digest('hex')
        .slice(0, 16)
        .toUpperCase();
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
    }
  }
  return { paths };
}

function patchOp(t: ResourceType, group: string, version: string): Record<string, unknown> {
  return {
    patch: {
      operationId: `patch${t.kind}`,
      'x-kubernetes-action': 'patch',
      'x-kubernetes-group-version-kind': { group, version, kind: t.kind },
      parameters: [
        { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
        { name: 'force', in: 'query', schema: { type: 'boolean', uniqueItems: true } },
      ],
      responses: { '200': { description: 'OK' } },
    },
  };
}

/** The OpenAPI v3 document of one group/version (paths only; no schemas). */
export function openApiV3Doc(types: TypeRegistry, group: string, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const t of types.all()) {
    if (t.group !== group || !t.versions.includes(version)) continue;
    const ns = t.namespaced ? 'namespaces/{namespace}/' : '';
    paths[`/${gvPath(group, version)}/${ns}${t.resource}/{name}`] = patchOp(t, group, version);
  }
  return { openapi: '3.0.0', info: INFO, paths, components: { schemas: {} } };
}
