/**
 * Endpoints of a Service from its pods, as the endpoints controller computes them: pods selected by
 * the Service's selector in its namespace, with an IP, not being deleted; Ready ones in `addresses`,
 * the others in `notReadyAddresses` (all in `addresses` with `publishNotReadyAddresses`). Service
 * ports resolve per pod (`targetPort` by number, or by container port name), and pods resolving to
 * the same ports share a subset.
 */
import type {
  V1EndpointAddress,
  V1EndpointSubset,
  V1Endpoints,
  V1Pod,
  V1Service,
  V1ServicePort,
  CoreV1EndpointPort,
} from '@kubernetes/client-node';
import { isReady, isTerminating, selectorMatches } from './pods.js';

/** The pod port a Service port reaches on `pod`, or undefined when a named port is missing. */
export function resolveTargetPort(port: V1ServicePort, pod: V1Pod): number | undefined {
  const target = port.targetPort;
  if (target === undefined) return port.port;
  if (typeof target === 'number') return target;
  if (/^[0-9]+$/.test(target)) return Number(target);
  const protocol = port.protocol ?? 'TCP';
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
    }
  }
  return undefined;
}

function addressOf(svc: V1Service, pod: V1Pod): V1EndpointAddress {
  const hostname = pod.spec?.hostname;
  const sameSubdomain = pod.spec?.subdomain !== undefined && pod.spec.subdomain === svc.metadata?.name;
  return {
    ip: pod.status?.podIP ?? '',
    ...(hostname !== undefined && sameSubdomain ? { hostname } : {}),
    ...(pod.spec?.nodeName === undefined ? {} : { nodeName: pod.spec.nodeName }),
    targetRef: {
      kind: 'Pod',
      name: pod.metadata?.name ?? '',
      namespace: pod.metadata?.namespace ?? 'default',
      uid: pod.metadata?.uid ?? '',
    },
  };
}

/** The Endpoints object for `svc` given every pod of the cluster (undefined for selector-less Services). */
export function computeEndpoints(svc: V1Service, pods: readonly V1Pod[]): V1Endpoints | undefined {
  const selector = svc.spec?.selector;
  if (selector === undefined || Object.keys(selector).length === 0) return undefined;
  const namespace = svc.metadata?.namespace ?? 'default';
  const publishAll = svc.spec?.publishNotReadyAddresses === true;
  const subsets = new Map<
    string,
    { ports: CoreV1EndpointPort[]; ready: V1EndpointAddress[]; notReady: V1EndpointAddress[] }
  >();
  for (const pod of pods) {
    if ((pod.metadata?.namespace ?? 'default') !== namespace) continue;
    if (!selectorMatches({ matchLabels: selector }, pod.metadata?.labels)) continue;
    if (pod.status?.podIP === undefined || pod.status.podIP === '' || isTerminating(pod)) continue;
    const ports: CoreV1EndpointPort[] = [];
    for (const sp of svc.spec?.ports ?? []) {
      const port = resolveTargetPort(sp, pod);
      if (port === undefined) continue;
      ports.push({
        port,
        protocol: sp.protocol ?? 'TCP',
        ...(sp.name === undefined ? {} : { name: sp.name }),
      });
    }
    if (ports.length === 0) continue;
    const key = JSON.stringify(ports);
    let subset = subsets.get(key);
    if (subset === undefined) {
      subset = { ports, ready: [], notReady: [] };
      subsets.set(key, subset);
    }
    (publishAll || isReady(pod) ? subset.ready : subset.notReady).push(addressOf(svc, pod));
  }
  const byIp = (a: V1EndpointAddress, b: V1EndpointAddress): number => a.ip.localeCompare(b.ip);
  const out: V1EndpointSubset[] = [...subsets.values()].map((s) => ({
    ...(s.ready.length > 0 ? { addresses: s.ready.sort(byIp) } : {}),
    ...(s.notReady.length > 0 ? { notReadyAddresses: s.notReady.sort(byIp) } : {}),
    ports: s.ports,
  }));
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: svc.metadata?.name ?? '',
      namespace,
      labels: { ...(svc.metadata?.labels ?? {}) },
    },
    subsets: out,
  };
}

/** A reachable backend of one Service port. */
export interface Backend {
  readonly ip: string;
  readonly port: number;
  /** The pod behind it, for tests and logs. */
  readonly pod: string;
}

/** Ready backends for a Service port (matched by port name, or the only port when unnamed). */
export function readyBackends(ep: V1Endpoints | undefined, port: V1ServicePort): Backend[] {
  const out: Backend[] = [];
  const protocol = port.protocol ?? 'TCP';
  for (const subset of ep?.subsets ?? []) {
    const ports = subset.ports ?? [];
    const match =
      ports.find((p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === protocol) ??
      (ports.length === 1 && port.name === undefined ? ports[0] : undefined);
    if (match === undefined || (match.protocol ?? 'TCP') !== protocol) continue;
    for (const a of subset.addresses ?? [])
      out.push({ ip: a.ip, port: match.port, pod: a.targetRef?.name ?? a.ip });
  }
  return out.sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
}
