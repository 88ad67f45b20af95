/** The pbx's HTTP listeners (fastify): health on `http.port`, Prometheus on `metrics.port`. */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** What `/health` reports (CONTRACTS.md "HTTP"). */
export interface HealthReport {
  readonly status: 'ok' | 'unavailable';
  readonly state: 'starting' | 'running' | 'draining' | 'drained';
  readonly activeCalls: number;
  /** True while the overload guard refuses (some) new calls (`/health/ready` answers 503). */
  readonly overloaded?: boolean;
}

/** A listening fastify server and its bound port. */
export interface HttpServer {
  readonly app: FastifyInstance;
  readonly port: number;
  close(): Promise<void>;
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<HttpServer> {
  await app.listen({ host, port });
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
  return { app, port: bound, close: () => app.close() };
}

/** Builds the health app (also used with `app.inject()` in tests). */
export function buildHealthApp(health: () => HealthReport): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/health', (_req, reply) => {
    const report = health();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });
  app.get('/health/live', (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/health/ready', (_req, reply) => {
    const report = health();
    const overloaded = report.overloaded === true;
    const ready = report.status === 'ok' && report.state === 'running' && !overloaded;
    return reply.code(ready ? 200 : 503).send({ ready, state: report.state, overloaded });
  });
  return app;
}

/** Starts the health server. */
export function startHealthServer(
  host: string,
  port: number,
  health: () => HealthReport,
  extend?: (app: FastifyInstance) => void,
): Promise<HttpServer> {
  const app = buildHealthApp(health);
  extend?.(app);
  return listen(app, host, port);
}

/** Builds the metrics app serving `GET /metrics` in the Prometheus text format. */
export function buildMetricsApp(registry: Registry): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
  return app;
}

/** Starts the metrics server. */
export function startMetricsServer(host: string, port: number, registry: Registry): Promise<HttpServer> {
  return listen(buildMetricsApp(registry), host, port);
}
