// The built-in resource types this server serves (a subset of a real 1.32 cluster).
import type { PrinterColumn, ResourceType } from './types.js';

interface Def {
  g: string;
  r: string;
  k: string;
  ns: boolean;
  short?: string[];
  status?: boolean;
  scale?: boolean;
  spec?: boolean;
  cats?: string[];
  cols?: PrinterColumn[];
}

const ALL = ['all'];
const replicasCols: PrinterColumn[] = [
  { name: 'Ready', type: 'string', jsonPath: '.status.readyReplicas' },
  { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
];

const defs: Def[] = [
  { g: '', r: 'namespaces', k: 'Namespace', ns: false, short: ['ns'], status: true, spec: false },
  {
    g: '',
    r: 'pods',
    k: 'Pod',
    ns: true,
    short: ['po'],
    status: true,
    cats: ALL,
    cols: [
      { name: 'Status', type: 'string', jsonPath: '.status.phase' },
      { name: 'IP', type: 'string', jsonPath: '.status.podIP' },
    ],
  },
  {
    g: '',
    r: 'services',
    k: 'Service',
    ns: true,
    short: ['svc'],
    status: true,
    cats: ALL,
    cols: [
      { name: 'Type', type: 'string', jsonPath: '.spec.type' },
      { name: 'Cluster-IP', type: 'string', jsonPath: '.spec.clusterIP' },
    ],
  },
  { g: '', r: 'endpoints', k: 'Endpoints', ns: true, short: ['ep'], spec: false },
  { g: '', r: 'configmaps', k: 'ConfigMap', ns: true, short: ['cm'], spec: false },
  { g: '', r: 'secrets', k: 'Secret', ns: true, spec: false },
  { g: '', r: 'events', k: 'Event', ns: true, short: ['ev'], spec: false },
  { g: '', r: 'serviceaccounts', k: 'ServiceAccount', ns: true, short: ['sa'], spec: false },
  {
    g: 'apps',
    r: 'statefulsets',
    k: 'StatefulSet',
    ns: true,
    short: ['sts'],
    status: true,
    scale: true,
    cats: ALL,
    cols: replicasCols,
  },
  {
    g: 'apps',
    r: 'deployments',
    k: 'Deployment',
    ns: true,
    short: ['deploy'],
    status: true,
    scale: true,
    cats: ALL,
    cols: replicasCols,
  },
  {
    g: 'apps',
    r: 'replicasets',
    k: 'ReplicaSet',
    ns: true,
    short: ['rs'],
    status: true,
    scale: true,
    cats: ALL,
    cols: replicasCols,
  },
  { g: 'apps', r: 'controllerrevisions', k: 'ControllerRevision', ns: true, spec: false },
  {
    g: 'policy',
    r: 'poddisruptionbudgets',
    k: 'PodDisruptionBudget',
    ns: true,
    short: ['pdb'],
    status: true,
  },
  { g: 'coordination.k8s.io', r: 'leases', k: 'Lease', ns: true },
  { g: 'rbac.authorization.k8s.io', r: 'roles', k: 'Role', ns: true, spec: false },
  { g: 'rbac.authorization.k8s.io', r: 'rolebindings', k: 'RoleBinding', ns: true, spec: false },
  { g: 'rbac.authorization.k8s.io', r: 'clusterroles', k: 'ClusterRole', ns: false, spec: false },
  {
    g: 'rbac.authorization.k8s.io',
    r: 'clusterrolebindings',
    k: 'ClusterRoleBinding',
    ns: false,
    spec: false,
  },
  {
    g: 'apiextensions.k8s.io',
    r: 'customresourcedefinitions',
    k: 'CustomResourceDefinition',
    ns: false,
    short: ['crd', 'crds'],
    status: true,
  },
];

function toType(d: Def): ResourceType {
  return {
    group: d.g,
    versions: ['v1'],
    resource: d.r,
    singular: d.k.toLowerCase(),
    kind: d.k,
    listKind: `${d.k}List`,
    namespaced: d.ns,
    shortNames: d.short ?? [],
    categories: d.cats ?? [],
    status: d.status ?? false,
    ...(d.scale
      ? {
          scale: {
            specReplicasPath: '.spec.replicas',
            statusReplicasPath: '.status.replicas',
            labelSelectorPath: '.spec.selector',
          },
        }
      : {}),
    columns: d.cols ?? [],
    custom: false,
    hasSpec: d.spec ?? true,
  };
}

/** The built-in resource types, preferred version first. */
export function builtinTypes(): ResourceType[] {
  return defs.map(toType);
}
