// The operator's HTTP endpoints: /healthz and /readyz on the health port (the kubelet's probes) and
// /metrics on a separate port (scraped by Prometheus), as controller-runtime's manager serves them.
// The ports come from the environment the Helm chart sets.
import { fastify } from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** What the probes look at: the informers (every replica runs them, leader or not). */
export interface ProbeSource {
  readonly name: string;
  hasSynced(): boolean;
  healthy(): boolean;
}

/** Options of the health app. */
export interface HealthOptions {
  informers: readonly ProbeSource[];
  /** True while the process shuts down: /readyz answers 503 then. */
  shuttingDown?: () => boolean;
}

/** Ports of the operator's servers. */
export interface OperatorPorts {
  metricsPort: number;
  healthPort: number;
}

/** Reads SIPPBX_OPERATOR_METRICS_PORT (default 8080) and SIPPBX_OPERATOR_HEALTH_PORT (default 8081). */
export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): OperatorPorts {
  const port = (variable: string, fallback: number): number => {
    const raw = env[variable];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new RangeError(`${variable}: not a port number: ${raw}`);
    return n;
  };
  return {
    metricsPort: port('SIPPBX_OPERATOR_METRICS_PORT', 8080),
    healthPort: port('SIPPBX_OPERATOR_HEALTH_PORT', 8081),
  };
}

/**
 * The health app. /healthz: the process answers and no informer has been failing for too long (a stuck
 * watch is fixed by a restart). /readyz: every informer has synced and the process is not shutting down;
 * a replica that is not the leader is ready too (it serves metrics and stands by).
 */
export function buildHealthApp(opts: HealthOptions): FastifyInstance {
  const app = fastify({ logger: false });
  app.get('/healthz', async (_req, reply) => {
    const stuck = opts.informers.filter((i) => !i.healthy()).map((i) => i.name);
    return reply
      .code(stuck.length === 0 ? 200 : 503)
      .send(stuck.length === 0 ? { status: 'ok' } : { status: 'failing', stuck });
  });
  app.get('/readyz', async (_req, reply) => {
    if (opts.shuttingDown?.() === true) return reply.code(503).send({ status: 'shutting down' });
    const unsynced = opts.informers.filter((i) => !i.hasSynced()).map((i) => i.name);
    return reply
      .code(unsynced.length === 0 ? 200 : 503)
      .send(unsynced.length === 0 ? { status: 'ok' } : { status: 'syncing', unsynced });
  });
  return app;
}

/** The metrics app: GET /metrics in the Prometheus text format. */
export function buildMetricsApp(registry: Registry): FastifyInstance {
  const app = fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  return app;
}

/** The two listening servers. */
export interface OperatorServers extends OperatorPorts {
  /** Closes both servers (idempotent). */
  close(): Promise<void>;
}

/** Starts the health and metrics servers (ports default from the environment; 0 picks a free one). */
export async function startOperatorServers(
  opts: HealthOptions & { registry: Registry; host?: string; ports?: Partial<OperatorPorts> },
): Promise<OperatorServers> {
  const ports = { ...portsFromEnv(), ...opts.ports };
  const host = opts.host ?? '0.0.0.0';
  const health = buildHealthApp(opts);
  const metrics = buildMetricsApp(opts.registry);
  try {
    await health.listen({ host, port: ports.healthPort });
    await metrics.listen({ host, port: ports.metricsPort });
  } catch (err) {
    await Promise.all([health.close(), metrics.close()]);
    throw err;
  }
  const bound = (app: FastifyInstance): number => {
    const addr = app.server.address();
    return typeof addr === 'object' && addr !== null ? addr.port : 0;
  };
  let closing: Promise<void> | undefined;
  return {
    healthPort: bound(health),
    metricsPort: bound(metrics),
    close: () => (closing ??= Promise.all([health.close(), metrics.close()]).then(() => undefined)),
  };
}
