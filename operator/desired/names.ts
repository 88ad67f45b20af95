// Names and labels of the objects a SipPbx owns; one place so the reconciler, the tests and the docs agree.

/** Object names derived from the SipPbx name. */
export interface ObjectNames {
  readonly statefulSet: string;
  readonly headlessService: string;
  readonly sipService: string;
  readonly metricsService: string;
  readonly configMap: string;
  readonly portPlanConfigMap: string;
  readonly adminTokenSecret: string;
  readonly pdb: string;
  readonly monitor: string;
  readonly redis: string;
}

/** The names of every object a SipPbx called `name` owns. */
export function objectNames(name: string): ObjectNames {
  return {
    statefulSet: name,
    headlessService: `${name}-headless`,
    sipService: name,
    metricsService: `${name}-metrics`,
    configMap: `${name}-config`,
    portPlanConfigMap: `${name}-port-plan`,
    adminTokenSecret: `${name}-admin-token`,
    pdb: name,
    monitor: name,
    redis: `${name}-redis`,
  };
}

/** Name of the pod with `ordinal` of the StatefulSet `statefulSet`. */
export function podName(statefulSet: string, ordinal: number): string {
  return `${statefulSet}-${ordinal}`;
}

/** Labels selecting the pbx pods of one SipPbx (StatefulSet selector, Services, PDB, scale selector). */
export function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'sippbx', 'app.kubernetes.io/instance': name };
}

/** Labels of every object the operator creates for `name`, with its component. */
export function commonLabels(name: string, component: string): Record<string, string> {
  return {
    ...selectorLabels(name),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'sippbx',
    'app.kubernetes.io/managed-by': 'sippbx-operator',
  };
}

/** `status.selector` for the scale subresource: the pod selector as a label-selector string. */
export function selectorString(name: string): string {
  return Object.entries(selectorLabels(name))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Pod template annotation holding the hash of the config and port plan, so a change rolls the pods. */
export const CONFIG_HASH_ANNOTATION = 'sippbx.dev/config-hash';

/** Where the pbx container finds its files. */
export const PATHS = {
  configDir: '/etc/sippbx/config',
  configFile: '/etc/sippbx/config/pbx.yaml',
  portPlanDir: '/etc/sippbx/port-plan',
  portPlanFile: '/etc/sippbx/port-plan/port-plan.yaml',
  adminTokenDir: '/etc/sippbx/admin-token',
  adminTokenFile: '/etc/sippbx/admin-token/token',
} as const;

/** ConfigMap and Secret keys. */
export const KEYS = {
  config: 'pbx.yaml',
  portPlan: 'port-plan.yaml',
  adminToken: 'token',
} as const;
