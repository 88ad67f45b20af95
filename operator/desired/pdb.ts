// The PodDisruptionBudget: voluntary disruptions (node drains) take at most maxUnavailable pbx pods at once.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { SipPbx } from '../api/index.js';
import { ownedMeta, type DesiredContext } from './context.js';
import { commonLabels, objectNames, selectorLabels } from './names.js';

/** The PDB (policy/v1); maxUnavailable follows spec.updateStrategy.maxUnavailable (default 1). */
export function desiredPdb(pbx: SipPbx, ctx: DesiredContext): V1PodDisruptionBudget {
  const name = pbx.metadata.name;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: ownedMeta(pbx, ctx, objectNames(name).pdb, commonLabels(name, 'pbx')),
    spec: {
      maxUnavailable: pbx.spec.updateStrategy.maxUnavailable,
      selector: { matchLabels: selectorLabels(name) },
    },
  };
}
