/**
 * Container environment as the kubelet builds it: `envFrom` first, then `env` in order (later
 * entries may use `$(EARLIER)`), with downward-API `fieldRef`s and ConfigMap/Secret key references.
 */
import type { V1Container, V1ObjectFieldSelector, V1Pod } from '@kubernetes/client-node';
import { expandVars } from './images.js';

/** Where ConfigMap and Secret data comes from (Secret values already base64-decoded). */
export interface DataSources {
  configMap(namespace: string, name: string): Readonly<Record<string, string>> | undefined;
  secret(namespace: string, name: string): Readonly<Record<string, string>> | undefined;
}

/** A missing ConfigMap/Secret or key that is not optional: the container cannot start yet. */
export class ContainerConfigError extends Error {
  override readonly name = 'ContainerConfigError';
}

/** The value of a downward-API field path, or undefined for an unsupported path. */
export function fieldRefValue(pod: V1Pod, ref: V1ObjectFieldSelector): string | undefined {
  const p = ref.fieldPath;
  const bracket = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(p);
  if (bracket !== null) {
    const map = bracket[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[bracket[2] ?? ''] ?? '';
  }
  switch (p) {
    case 'metadata.name':
      return pod.metadata?.name;
    case 'metadata.namespace':
      return pod.metadata?.namespace;
    case 'metadata.uid':
      return pod.metadata?.uid;
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP':
      return pod.status?.podIP ?? '';
    case 'status.hostIP':
      return pod.status?.hostIP ?? '';
    case 'status.podIPs':
      return (pod.status?.podIPs ?? []).map((i) => i.ip).join(',');
    default:
      return undefined;
  }
}

function keyRef(
  kind: 'ConfigMap' | 'Secret',
  data: Readonly<Record<string, string>> | undefined,
  ref: { name?: string; key: string; optional?: boolean },
): string | undefined {
  const value = data?.[ref.key];
  if (value !== undefined) return value;
  if (ref.optional === true) return undefined;
  const what =
    data === undefined
      ? `${kind} "${ref.name ?? ''}" not found`
      : `key "${ref.key}" not found in ${kind} "${ref.name ?? ''}"`;
  throw new ContainerConfigError(what);
}

function envFrom(
  pod: V1Pod,
  container: V1Container,
  sources: DataSources,
  out: Record<string, string>,
): void {
  const ns = pod.metadata?.namespace ?? 'default';
  for (const src of container.envFrom ?? []) {
    const ref = src.configMapRef ?? src.secretRef;
    if (ref === undefined) continue;
    const kind = src.configMapRef !== undefined ? 'ConfigMap' : 'Secret';
    const data =
      kind === 'ConfigMap' ? sources.configMap(ns, ref.name ?? '') : sources.secret(ns, ref.name ?? '');
    if (data === undefined) {
      if (ref.optional === true) continue;
      throw new ContainerConfigError(`${kind} "${ref.name ?? ''}" not found`);
    }
    for (const [k, v] of Object.entries(data)) out[`${src.prefix ?? ''}${k}`] = v;
  }
}

/** The environment a container's process gets from its pod spec (not counting kubelet-added variables). */
export function containerEnv(
  pod: V1Pod,
  container: V1Container,
  sources: DataSources,
): Record<string, string> {
  const ns = pod.metadata?.namespace ?? 'default';
  const out: Record<string, string> = {};
  envFrom(pod, container, sources, out);
  for (const e of container.env ?? []) {
    let value: string | undefined;
    const from = e.valueFrom;
    if (from === undefined) value = expandVars(e.value ?? '', out);
    else if (from.fieldRef !== undefined) {
      value = fieldRefValue(pod, from.fieldRef);
      if (value === undefined)
        throw new ContainerConfigError(`unsupported fieldRef ${from.fieldRef.fieldPath}`);
    } else if (from.configMapKeyRef !== undefined) {
      const r = from.configMapKeyRef;
      value = keyRef('ConfigMap', sources.configMap(ns, r.name ?? ''), r);
    } else if (from.secretKeyRef !== undefined) {
      const r = from.secretKeyRef;
      value = keyRef('Secret', sources.secret(ns, r.name ?? ''), r);
    } else if (from.resourceFieldRef !== undefined) value = '0';
    if (value !== undefined) out[e.name] = value;
  }
  return out;
}
