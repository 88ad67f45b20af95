// Discovery documents: /version, /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}
// (legacy, non-aggregated form; clients asking for aggregated discovery fall back to it).
import { apiVersionOf, type TypeRegistry } from './registry.js';
import type { ResourceType } from './types.js';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const SUB_VERBS = ['get', 'patch', 'update'];

/** The `/version` document (a 1.32 server). */
export function versionInfo(): Record<string, string> {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0-sippbx',
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

function apiResources(t: ResourceType): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [
    {
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length > 0 ? { categories: t.categories } : {}),
    },
  ];
  if (t.status)
    out.push({
      name: `${t.resource}/status`,
      singularName: '',
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: SUB_VERBS,
    });
  if (t.scale) {
    out.push({
      name: `${t.resource}/scale`,
      singularName: '',
      namespaced: t.namespaced,
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
      verbs: SUB_VERBS,
    });
  }
  return out;
}

/** `APIResourceList` for a group/version, or undefined when nothing is served there. */
export function resourceList(
  types: TypeRegistry,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const served = types.all().filter((t) => t.group === group && t.versions.includes(version));
  if (served.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf(group, version),
    resources: served.flatMap(apiResources),
  };
}

/** `APIVersions` for `/api`. */
export function coreVersions(address: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: address }],
  };
}

function apiGroup(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

/** `APIGroupList` for `/apis`. */
export function groupList(types: TypeRegistry): Record<string, unknown> {
  const groups = [...types.groups()].filter(([g]) => g !== '').map(([g, vs]) => apiGroup(g, vs));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

/** `APIGroup` for `/apis/{group}`, or undefined. */
export function groupInfo(types: TypeRegistry, group: string): Record<string, unknown> | undefined {
  const vs = types.groups().get(group);
  return vs && group !== '' ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, vs) } : undefined;
}
