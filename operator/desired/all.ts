// Everything a SipPbx should own, in one pure call (the reconciler applies it in this order).
import type {
  V1ConfigMap,
  V1Deployment,
  V1PodDisruptionBudget,
  V1Secret,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { SipPbx } from '../api/index.js';
import { desiredConfigMaps } from './configmaps.js';
import type { DesiredContext } from './context.js';
import { desiredPodMonitor, desiredServiceMonitor, type MonitorObject } from './monitoring.js';
import { desiredPdb } from './pdb.js';
import { portPlan, type PortPlan } from './port-plan.js';
import { desiredManagedRedis } from './redis.js';
import { desiredSecret } from './secret.js';
import { desiredServices } from './services.js';
import { desiredStatefulSet } from './statefulset.js';

/** Inputs of desiredState besides the SipPbx and context. */
export interface DesiredStateOptions {
  /** The token in the existing admin-token Secret, if any. */
  readonly adminToken?: string | undefined;
  /** Token generator for a new Secret (tests pass a fixed one). */
  readonly generateToken?: () => string;
  /** StatefulSet replicas override (pods above the target that are still draining). */
  readonly statefulSetReplicas?: number;
}

/** The desired objects of one SipPbx. */
export interface DesiredState {
  readonly plan: PortPlan;
  readonly configMaps: V1ConfigMap[];
  readonly secret: V1Secret;
  readonly services: V1Service[];
  readonly statefulSet: V1StatefulSet;
  readonly pdb: V1PodDisruptionBudget;
  readonly monitors: MonitorObject[];
  readonly redis?: { deployment: V1Deployment; service: V1Service };
}

/** Every desired object of `pbx`: ConfigMaps and Secret first (pods mount them), then workloads. */
export function desiredState(pbx: SipPbx, ctx: DesiredContext, opts: DesiredStateOptions = {}): DesiredState {
  const plan = portPlan(pbx.spec, pbx.metadata.name);
  const redis = desiredManagedRedis(pbx, ctx);
  const monitors = [desiredServiceMonitor(pbx, ctx), desiredPodMonitor(pbx, ctx)].filter(
    (m): m is MonitorObject => m !== undefined,
  );
  return {
    plan,
    configMaps: desiredConfigMaps(pbx, ctx),
    secret: desiredSecret(pbx, ctx, opts.adminToken, opts.generateToken),
    services: desiredServices(pbx, ctx),
    statefulSet: desiredStatefulSet(pbx, ctx, opts.statefulSetReplicas ?? plan.pods.length),
    pdb: desiredPdb(pbx, ctx),
    monitors,
    ...(redis === undefined ? {} : { redis }),
  };
}
