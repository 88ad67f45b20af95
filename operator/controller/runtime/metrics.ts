// Operator metrics under controller-runtime's names, so dashboards and alerts written for Go operators
// (kubebuilder's, the Prometheus operator's mixins) work unchanged.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkQueueMetrics } from './queue.js';

/** How one reconcile ended: the `result` label of controller_runtime_reconcile_total. */
export type ReconcileOutcome = 'success' | 'error' | 'requeue' | 'requeue_after';

/** Hooks a controller reports to. */
export interface ControllerMetrics {
  /** One reconcile finished after `seconds`. */
  reconciled(outcome: ReconcileOutcome, seconds: number, terminal?: boolean): void;
  /** Number of workers currently inside reconcile. */
  activeWorkers(n: number): void;
  /** Configured number of workers. */
  maxConcurrent(n: number): void;
}

/** Hooks a leader elector reports to. */
export interface LeaderElectionMetrics {
  /** 1 while this instance holds the lease, else 0. */
  leading(isLeader: boolean): void;
}

/** The operator's registry and the metric hooks of its parts. */
export interface OperatorMetrics {
  readonly registry: Registry;
  /** Hooks for the controller `name`. */
  controller(name: string): ControllerMetrics;
  /** Hooks for the work queue `name`. */
  workqueue(name: string): WorkQueueMetrics;
  /** Hooks for the lease `name`. */
  leaderElection(name: string): LeaderElectionMetrics;
}

// controller-runtime pkg/internal/controller/metrics: reconcile time buckets.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5,
  1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// controller-runtime pkg/metrics/workqueue.go: ExponentialBuckets(10e-9, 10, 12).
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

/** Creates the registry (with process and Node.js metrics unless `processMetrics` is false). */
export function createOperatorMetrics(opts: { processMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const reconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'],
    registers,
  });
  const reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller',
    labelNames: ['controller'],
    registers,
  });
  const terminalErrors = new Counter({
    name: 'controller_runtime_terminal_reconcile_errors_total',
    help: 'Total number of terminal reconciliation errors per controller',
    labelNames: ['controller'],
    registers,
  });
  const reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'],
    buckets: RECONCILE_BUCKETS,
    registers,
  });
  const activeWorkers = new Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Number of currently used workers per controller',
    labelNames: ['controller'],
    registers,
  });
  const maxConcurrent = new Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Maximum number of concurrent reconciles per controller',
    labelNames: ['controller'],
    registers,
  });
  const depth = new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue',
    labelNames: ['name'],
    registers,
  });
  const adds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue',
    labelNames: ['name'],
    registers,
  });
  const queueDuration = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: ['name'],
    buckets: QUEUE_BUCKETS,
    registers,
  });
  const workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes',
    labelNames: ['name'],
    buckets: QUEUE_BUCKETS,
    registers,
  });
  const retries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue',
    labelNames: ['name'],
    registers,
  });
  const master = new Gauge({
    name: 'leader_election_master_status',
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
    labelNames: ['name'],
    registers,
  });

  return {
    registry,
    controller(controller) {
      // Zero series up front, as controller-runtime does, so rate() works from the first scrape.
      for (const result of ['success', 'error', 'requeue', 'requeue_after'])
        reconcileTotal.inc({ controller, result }, 0);
      reconcileErrors.inc({ controller }, 0);
      terminalErrors.inc({ controller }, 0);
      return {
        reconciled(outcome, seconds, terminal = false) {
          reconcileTotal.inc({ controller, result: outcome });
          reconcileTime.observe({ controller }, seconds);
          if (outcome === 'error') reconcileErrors.inc({ controller });
          if (terminal) terminalErrors.inc({ controller });
        },
        activeWorkers: (n) => activeWorkers.set({ controller }, n),
        maxConcurrent: (n) => maxConcurrent.set({ controller }, n),
      };
    },
    workqueue(name) {
      depth.set({ name }, 0);
      adds.inc({ name }, 0);
      retries.inc({ name }, 0);
      return {
        added: () => adds.inc({ name }),
        depth: (n) => depth.set({ name }, n),
        queued: (s) => queueDuration.observe({ name }, s),
        worked: (s) => workDuration.observe({ name }, s),
        retried: () => retries.inc({ name }),
      };
    },
    leaderElection(name) {
      master.set({ name }, 0);
      return { leading: (isLeader) => master.set({ name }, isLeader ? 1 : 0) };
    },
  };
}
