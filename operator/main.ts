// The operator process: kubeconfig (in-cluster or KUBECONFIG), environment (set by the Helm chart),
// leader election on a Lease (only the leader runs the workers; every replica runs the informers and
// stays ready), health and metrics servers, JSON logs, and a graceful shutdown on SIGTERM.
import { pathToFileURL } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { createSipPbxController } from './controller/index.js';
import {
  createLeaderElector,
  createOperatorMetrics,
  defaultIdentity,
  onShutdownSignal,
  portsFromEnv,
  shutdownInOrder,
  startOperatorServers,
  type ShutdownStep,
} from './controller/runtime/index.js';

/** The operator's version (labels of owned objects, default pbx image tag). */
export const OPERATOR_VERSION = '0.1.0';

/** Settings read from the environment. */
export interface OperatorEnv {
  readonly podName: string;
  readonly podNamespace: string;
  readonly leaderElect: boolean;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly watchNamespaces: string[];
  readonly metricsPort: number;
  readonly healthPort: number;
  readonly logLevel: string;
  readonly pbxImage: string | undefined;
  readonly managedRedis: boolean;
  readonly version: string;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  if (raw === 'false' || raw === '0' || raw === 'no') return false;
  throw new RangeError(`${name}: expected true or false, got ${env[name] ?? ''}`);
}

const LOG_LEVELS: Record<string, string> = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
};

/** Reads the operator's environment (POD_*, SIPPBX_OPERATOR_*). */
export function readEnv(env: NodeJS.ProcessEnv = process.env): OperatorEnv {
  const podNamespace = env['POD_NAMESPACE'] || 'default';
  const level = (env['SIPPBX_OPERATOR_LOG_LEVEL'] || 'info').toLowerCase();
  if (LOG_LEVELS[level] === undefined)
    throw new RangeError(`SIPPBX_OPERATOR_LOG_LEVEL: unknown level ${level}`);
  const ports = portsFromEnv(env);
  return {
    podName: defaultIdentity(env),
    podNamespace,
    leaderElect: flag(env, 'SIPPBX_OPERATOR_LEADER_ELECT', true),
    leaseName: env['SIPPBX_OPERATOR_LEASE_NAME'] || 'sippbx-operator',
    leaseNamespace: env['SIPPBX_OPERATOR_LEASE_NAMESPACE'] || podNamespace,
    watchNamespaces: (env['SIPPBX_OPERATOR_WATCH_NAMESPACES'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    metricsPort: ports.metricsPort,
    healthPort: ports.healthPort,
    logLevel: level,
    pbxImage: env['SIPPBX_OPERATOR_PBX_IMAGE'] || undefined,
    managedRedis: flag(env, 'SIPPBX_OPERATOR_MANAGED_REDIS', true),
    version: env['SIPPBX_OPERATOR_VERSION'] || OPERATOR_VERSION,
  };
}

/** In-cluster config inside a pod (unless KUBECONFIG is set), else KUBECONFIG / ~/.kube/config. */
export function loadKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  if ((env['KUBECONFIG'] ?? '') === '' && (env['KUBERNETES_SERVICE_HOST'] ?? '') !== '') kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** JSON logs to stdout, levels named as the pbx names them. */
export function operatorLogger(level: string): Logger {
  return pino({
    level: LOG_LEVELS[level] ?? 'info',
    base: { service: 'sippbx-operator' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label === 'warn' ? 'warning' : label }) },
  });
}

/** A running operator. */
export interface RunningOperator {
  readonly healthPort: number;
  readonly metricsPort: number;
  /** Stops workers, releases the Lease, stops informers and servers. */
  stop(): Promise<void>;
}

/** Starts the operator; `onLost` is called when leadership is lost (the process should exit). */
export async function runOperator(
  env: OperatorEnv,
  kc: KubeConfig,
  log: Logger,
  onLost: () => void = () => process.exit(1),
): Promise<RunningOperator> {
  const metrics = createOperatorMetrics();
  const sippbx = createSipPbxController({
    kubeConfig: kc,
    logger: log,
    namespaces: env.watchNamespaces,
    metrics,
    operatorVersion: env.version,
    ...(env.pbxImage === undefined ? {} : { defaultImage: env.pbxImage }),
    managedRedis: env.managedRedis,
  });
  let shuttingDown = false;
  const servers = await startOperatorServers({
    informers: sippbx.informers,
    registry: metrics.registry,
    shuttingDown: () => shuttingDown,
    ports: { metricsPort: env.metricsPort, healthPort: env.healthPort },
    // SIPPBX_OPERATOR_LISTEN (the chart sets the pod IP): two operators sharing a network namespace
    // (hostNetwork, or the test cluster's loopback pods) must not bind the same wildcard ports.
    host: process.env['SIPPBX_OPERATOR_LISTEN'] ?? '0.0.0.0',
  });
  await sippbx.startInformers();
  const runController = (): void => {
    sippbx.controller.start().catch((err: unknown) => log.error({ err }, 'controller failed to start'));
  };
  const elector = env.leaderElect
    ? createLeaderElector({
        kubeConfig: kc,
        leaseName: env.leaseName,
        namespace: env.leaseNamespace,
        identity: env.podName,
        logger: log,
        metrics: metrics.leaderElection(env.leaseName),
        onStartedLeading: runController,
        onStoppedLeading: (reason) => {
          if (reason !== 'lost') return;
          log.error('lost leadership; exiting so a fresh process campaigns again');
          void sippbx.controller.stop().finally(onLost);
        },
      })
    : undefined;
  if (elector === undefined) runController();
  else elector.start();
  log.info({ ...env, leader: elector === undefined ? 'disabled' : 'campaigning' }, 'operator started');
  const steps: ShutdownStep[] = [
    { name: 'controller', stop: () => sippbx.controller.stop() },
    ...(elector === undefined ? [] : [{ name: 'lease', stop: () => elector.stop() }]),
    { name: 'informers', stop: () => sippbx.stopInformers() },
    { name: 'servers', stop: () => servers.close() },
  ];
  let stopping: Promise<void> | undefined;
  return {
    healthPort: servers.healthPort,
    metricsPort: servers.metricsPort,
    stop: () =>
      (stopping ??= (async () => {
        shuttingDown = true;
        await shutdownInOrder(steps, { logger: log });
      })()),
  };
}

async function main(): Promise<void> {
  const env = readEnv();
  const log = operatorLogger(env.logLevel);
  const operator = await runOperator(env, loadKubeConfig(), log);
  onShutdownSignal(
    async () => {
      await operator.stop();
      log.info('stopped');
      process.exit(0);
    },
    { logger: log },
  );
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  main().catch((err: unknown) => {
    operatorLogger('error').error({ err }, 'operator failed');
    process.exit(1);
  });
}
