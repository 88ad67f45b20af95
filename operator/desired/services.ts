// Services: headless (pod DNS for the StatefulSet), SIP (the entry point callers use) and metrics.
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import { HTTP_PORT, METRICS_PORT, type SipPbx } from '../api/index.js';
import { ownedMeta, type DesiredContext } from './context.js';
import { commonLabels, objectNames, selectorLabels } from './names.js';

function sipPorts(pbx: SipPbx): V1ServicePort[] {
  const sip = pbx.spec.sip;
  return sip.transports.map((t) => ({
    name: `sip-${t}`,
    port: sip.port,
    targetPort: `sip-${t}`,
    protocol: t === 'udp' ? 'UDP' : 'TCP',
  }));
}

/** Headless Service of the StatefulSet; lists not-ready pods too, so draining pods stay reachable by name. */
export function desiredHeadlessService(pbx: SipPbx, ctx: DesiredContext): V1Service {
  const name = pbx.metadata.name;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(pbx, ctx, objectNames(name).headlessService, commonLabels(name, 'peers')),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(name),
      ports: [...sipPorts(pbx), { name: 'http', port: HTTP_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/**
 * The SIP Service: UDP and/or TCP on spec.sip.port; ClientIP affinity keeps a caller's requests on one
 * pod (the owner of its dialogs), and only Ready pods (not draining ones) get new traffic.
 */
export function desiredSipService(pbx: SipPbx, ctx: DesiredContext): V1Service {
  const name = pbx.metadata.name;
  const sip = pbx.spec.sip;
  const policy = sip.serviceType === 'ClusterIP' ? undefined : sip.externalTrafficPolicy;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(pbx, ctx, objectNames(name).sipService, commonLabels(name, 'sip')),
    spec: {
      type: sip.serviceType,
      selector: selectorLabels(name),
      ports: sipPorts(pbx),
      sessionAffinity: 'ClientIP',
      ...(policy === undefined ? {} : { externalTrafficPolicy: policy }),
    },
  };
}

/** The metrics Service, selected by the ServiceMonitor. */
export function desiredMetricsService(pbx: SipPbx, ctx: DesiredContext): V1Service {
  const name = pbx.metadata.name;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(pbx, ctx, objectNames(name).metricsService, commonLabels(name, 'metrics')),
    spec: {
      selector: selectorLabels(name),
      ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' }],
    },
  };
}

/** Headless, SIP and metrics Services, in that order. */
export function desiredServices(pbx: SipPbx, ctx: DesiredContext): [V1Service, V1Service, V1Service] {
  return [desiredHeadlessService(pbx, ctx), desiredSipService(pbx, ctx), desiredMetricsService(pbx, ctx)];
}
