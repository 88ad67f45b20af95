// The operator's controller runtime: work queue, informers, controller loop, leader election,
// metrics, probes and shutdown. The SipPbx reconciler is built on these; nothing here knows SipPbx.
export { createWorkQueue } from './queue.js';
export type { WorkQueue, WorkQueueOptions, WorkQueueMetrics, RateLimiterOptions } from './queue.js';
export { createInformer, keyOf, splitKey, ownerKeys, resourcePath } from './informer.js';
export type { Informer, InformerOptions, InformerEventType, KeyMapper, ResourceRef } from './informer.js';
export { createController } from './controller.js';
export type { Controller, ControllerOptions, Reconciler, ReconcileResult, SyncSource } from './controller.js';
export { TerminalError, isTerminalError } from './errors.js';
export { createLeaderElector, defaultIdentity } from './leader.js';
export type { LeaderElector, LeaderElectorOptions, StoppedLeadingReason } from './leader.js';
export { createOperatorMetrics } from './metrics.js';
export type {
  OperatorMetrics,
  ControllerMetrics,
  LeaderElectionMetrics,
  ReconcileOutcome,
} from './metrics.js';
export { buildHealthApp, buildMetricsApp, portsFromEnv, startOperatorServers } from './health.js';
export type { HealthOptions, OperatorPorts, OperatorServers, ProbeSource } from './health.js';
export { shutdownInOrder, onShutdownSignal } from './shutdown.js';
export type { ShutdownStep, SignalSource } from './shutdown.js';
