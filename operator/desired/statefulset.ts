// The pbx StatefulSet: OnDelete updates (the operator drains and replaces pods itself) and Parallel
// pod management (pods are independent; ordering is the operator's job, see docs/operator.md).
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { SipPbx } from '../api/index.js';
import { ownedMeta, type DesiredContext } from './context.js';
import { contentHash } from './hash.js';
import { commonLabels, objectNames, selectorLabels } from './names.js';
import { renderPbxConfig } from './pbx-config.js';
import { pbxPodTemplate } from './pod-spec.js';
import { portPlan, renderPortPlan } from './port-plan.js';

/** Hash of what the pods read at start (config file and port plan); part of the pod template. */
export function configHash(pbx: SipPbx): string {
  return contentHash(
    renderPbxConfig(pbx),
    renderPortPlan(pbx.spec.media, objectNames(pbx.metadata.name).statefulSet),
  );
}

/**
 * The StatefulSet. `replicas` defaults to the pods the port plan holds; the reconciler passes a
 * higher count while ordinals above the target still drain.
 */
export function desiredStatefulSet(
  pbx: SipPbx,
  ctx: DesiredContext,
  replicas: number = portPlan(pbx.spec, pbx.metadata.name).pods.length,
): V1StatefulSet {
  const name = pbx.metadata.name;
  const names = objectNames(name);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: ownedMeta(pbx, ctx, names.statefulSet, commonLabels(name, 'pbx')),
    spec: {
      replicas,
      serviceName: names.headlessService,
      selector: { matchLabels: selectorLabels(name) },
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      revisionHistoryLimit: 10,
      template: pbxPodTemplate(pbx, ctx, configHash(pbx)),
    },
  };
}
