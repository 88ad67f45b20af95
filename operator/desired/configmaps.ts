// The two ConfigMaps: the pbx config file and the port plan.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { SipPbx } from '../api/index.js';
import { ownedMeta, type DesiredContext } from './context.js';
import { commonLabels, KEYS, objectNames } from './names.js';
import { renderPbxConfig } from './pbx-config.js';
import { renderPortPlan } from './port-plan.js';

/** The ConfigMap holding `pbx.yaml`. */
export function desiredConfigConfigMap(pbx: SipPbx, ctx: DesiredContext): V1ConfigMap {
  const name = pbx.metadata.name;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: ownedMeta(pbx, ctx, objectNames(name).configMap, commonLabels(name, 'config')),
    data: { [KEYS.config]: renderPbxConfig(pbx) },
  };
}

/** The ConfigMap holding `port-plan.yaml` (`podName: {start, end}` for every ordinal the range holds). */
export function desiredPortPlanConfigMap(pbx: SipPbx, ctx: DesiredContext): V1ConfigMap {
  const name = pbx.metadata.name;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: ownedMeta(pbx, ctx, objectNames(name).portPlanConfigMap, commonLabels(name, 'port-plan')),
    data: { [KEYS.portPlan]: renderPortPlan(pbx.spec.media, objectNames(name).statefulSet) },
  };
}

/** Both ConfigMaps: the pbx config, then the port plan. */
export function desiredConfigMaps(pbx: SipPbx, ctx: DesiredContext): [V1ConfigMap, V1ConfigMap] {
  return [desiredConfigConfigMap(pbx, ctx), desiredPortPlanConfigMap(pbx, ctx)];
}
