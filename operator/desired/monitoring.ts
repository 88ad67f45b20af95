// Prometheus operator objects (monitoring.coreos.com/v1), only when spec.monitoring asks for them.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { SipPbx } from '../api/index.js';
import { ownedMeta, type DesiredContext } from './context.js';
import { commonLabels, objectNames, selectorLabels } from './names.js';

/** API version of ServiceMonitor and PodMonitor. */
export const MONITORING_API_VERSION = 'monitoring.coreos.com/v1';

/** A monitoring.coreos.com/v1 object (the fields the operator sets). */
export interface MonitorObject {
  apiVersion: typeof MONITORING_API_VERSION;
  kind: 'ServiceMonitor' | 'PodMonitor';
  metadata: V1ObjectMeta & { name: string; namespace: string };
  spec: Record<string, unknown>;
}

const ENDPOINT = { port: 'metrics', path: '/metrics', interval: '30s' } as const;

/** The ServiceMonitor scraping the metrics Service, or undefined when monitoring.serviceMonitor is off. */
export function desiredServiceMonitor(pbx: SipPbx, ctx: DesiredContext): MonitorObject | undefined {
  if (!pbx.spec.monitoring.serviceMonitor) return undefined;
  const name = pbx.metadata.name;
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: 'ServiceMonitor',
    metadata: ownedMeta(pbx, ctx, objectNames(name).monitor, commonLabels(name, 'metrics')),
    spec: {
      selector: { matchLabels: commonLabels(name, 'metrics') },
      endpoints: [{ ...ENDPOINT }],
    },
  };
}

/** The PodMonitor scraping the pods directly, or undefined when monitoring.podMonitor is not true. */
export function desiredPodMonitor(pbx: SipPbx, ctx: DesiredContext): MonitorObject | undefined {
  if (pbx.spec.monitoring.podMonitor !== true) return undefined;
  const name = pbx.metadata.name;
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: 'PodMonitor',
    metadata: ownedMeta(pbx, ctx, objectNames(name).monitor, commonLabels(name, 'metrics')),
    spec: {
      selector: { matchLabels: selectorLabels(name) },
      podMetricsEndpoints: [{ ...ENDPOINT }],
    },
  };
}
