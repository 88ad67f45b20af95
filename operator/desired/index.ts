// operator/desired: pure functions from a SipPbx to the objects it should own.
export { desiredState } from './all.js';
export type { DesiredState, DesiredStateOptions } from './all.js';
export { desiredConfigMaps, desiredConfigConfigMap, desiredPortPlanConfigMap } from './configmaps.js';
export { namespaceOf, ownerReference, ownedMeta, IncompleteSipPbxError } from './context.js';
export type { DesiredContext } from './context.js';
export { contentHash } from './hash.js';
export { desiredServiceMonitor, desiredPodMonitor, MONITORING_API_VERSION } from './monitoring.js';
export type { MonitorObject } from './monitoring.js';
export {
  objectNames,
  podName,
  selectorLabels,
  commonLabels,
  selectorString,
  CONFIG_HASH_ANNOTATION,
  PATHS,
  KEYS,
} from './names.js';
export type { ObjectNames } from './names.js';
export { pbxConfig, renderPbxConfig, managedRedisUrl, redisKeyPrefix, REDIS_PORT } from './pbx-config.js';
export { desiredPdb } from './pdb.js';
export {
  pbxContainer,
  pbxEnv,
  pbxPodSpec,
  pbxPodTemplate,
  TERMINATION_MARGIN_SECONDS,
  PBX_CONTAINER,
} from './pod-spec.js';
export { portPlan, portSlots, podsThatFit, portsPerPod, renderPortPlan } from './port-plan.js';
export type { PortPlan, PodPorts } from './port-plan.js';
export { preStopHandler, preStopScript, PRESTOP_POLL_SECONDS } from './prestop.js';
export {
  desiredManagedRedis,
  desiredRedisDeployment,
  desiredRedisService,
  redisLabels,
  REDIS_IMAGE,
} from './redis.js';
export { desiredSecret, existingToken, randomToken } from './secret.js';
export {
  desiredServices,
  desiredHeadlessService,
  desiredSipService,
  desiredMetricsService,
} from './services.js';
export { desiredStatefulSet, configHash } from './statefulset.js';
