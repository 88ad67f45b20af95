/* eslint-disable @typescript-eslint/require-await -- reconcilers and stop steps are async by contract; toy ones have nothing to await */
// Operator metrics under controller-runtime's names, the probes, the servers' ports from the
// environment, and the graceful-shutdown helpers.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createController } from '../../operator/controller/runtime/controller.js';
import { TerminalError } from '../../operator/controller/runtime/errors.js';
import {
  buildHealthApp,
  buildMetricsApp,
  portsFromEnv,
  startOperatorServers,
} from '../../operator/controller/runtime/health.js';
import type { ProbeSource } from '../../operator/controller/runtime/health.js';
import { createOperatorMetrics } from '../../operator/controller/runtime/metrics.js';
import { createWorkQueue } from '../../operator/controller/runtime/queue.js';
import { onShutdownSignal, shutdownInOrder } from '../../operator/controller/runtime/shutdown.js';
import { createLogger } from '../../pbx/core/logger.js';

const sink = { write: () => true } as unknown as NodeJS.WritableStream;
const logger = createLogger('error', sink);

const probe = (name: string, synced: boolean, healthy = true): ProbeSource => ({
  name,
  hasSynced: () => synced,
  healthy: () => healthy,
});

describe('metrics', () => {
  it('exposes controller-runtime names after a few reconciles', async () => {
    const metrics = createOperatorMetrics();
    const queue = createWorkQueue({ name: 'sippbx', metrics: metrics.workqueue('sippbx') });
    let n = 0;
    const controller = createController({
      name: 'sippbx',
      queue,
      logger,
      metrics: metrics.controller('sippbx'),
      reconcile: async (key) => {
        n++;
        if (key === 'bad') throw new TerminalError('no');
        if (key === 'later') return { requeueAfterMs: 60_000 };
        return undefined;
      },
    });
    metrics.leaderElection('sippbx-operator').leading(true);
    await controller.start();
    for (const k of ['a', 'b', 'bad', 'later']) queue.add(k);
    while (n < 4) await new Promise((r) => setImmediate(r));
    await controller.stop();
    const app = buildMetricsApp(metrics.registry);
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const body = res.body;
    for (const line of [
      'controller_runtime_reconcile_total{controller="sippbx",result="success"} 2',
      'controller_runtime_reconcile_total{controller="sippbx",result="error"} 1',
      'controller_runtime_reconcile_total{controller="sippbx",result="requeue_after"} 1',
      'controller_runtime_reconcile_total{controller="sippbx",result="requeue"} 0',
      'controller_runtime_reconcile_errors_total{controller="sippbx"} 1',
      'controller_runtime_reconcile_time_seconds_count{controller="sippbx"} 4',
      'workqueue_depth{name="sippbx"} 0',
      'workqueue_adds_total{name="sippbx"} 4',
      'workqueue_queue_duration_seconds_count{name="sippbx"} 4',
      'workqueue_work_duration_seconds_count{name="sippbx"} 4',
      'workqueue_retries_total{name="sippbx"} 0',
      'leader_election_master_status{name="sippbx-operator"} 1',
      'controller_runtime_active_workers{controller="sippbx"} 0',
    ]) {
      expect(body).toContain(line);
    }
    expect(body).toContain('# TYPE controller_runtime_reconcile_time_seconds histogram');
    expect(body).toContain('workqueue_work_duration_seconds_bucket{le="1e-8",name="sippbx"}');
    expect(body).toMatch(/^process_cpu_user_seconds_total /m);
    expect(body).toMatch(/^nodejs_heap_size_used_bytes /m);
    await app.close();
  });
});

describe('probes', () => {
  it('/readyz waits for every informer to sync and fails while shutting down; a standby is ready', async () => {
    let synced = false;
    let shutting = false;
    const app = buildHealthApp({
      informers: [
        probe('sippbxes', true),
        { name: 'configmaps', hasSynced: () => synced, healthy: () => true },
      ],
      shuttingDown: () => shutting,
    });
    let res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'syncing', unsynced: ['configmaps'] });
    synced = true;
    res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    shutting = true;
    res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    await app.close();
  });

  it('/healthz fails only for an informer stuck failing', async () => {
    const app = buildHealthApp({ informers: [probe('a', false), probe('b', true, false)] });
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'failing', stuck: ['b'] });
    const ok = buildHealthApp({ informers: [probe('a', false)] });
    expect((await ok.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await Promise.all([app.close(), ok.close()]);
  });

  it('reads the ports from the Helm chart variables', () => {
    expect(portsFromEnv({})).toEqual({ metricsPort: 8080, healthPort: 8081 });
    expect(
      portsFromEnv({ SIPPBX_OPERATOR_METRICS_PORT: '9090', SIPPBX_OPERATOR_HEALTH_PORT: '9091' }),
    ).toEqual({
      metricsPort: 9090,
      healthPort: 9091,
    });
    expect(() => portsFromEnv({ SIPPBX_OPERATOR_HEALTH_PORT: 'http' })).toThrow(
      /SIPPBX_OPERATOR_HEALTH_PORT/,
    );
    expect(() => portsFromEnv({ SIPPBX_OPERATOR_METRICS_PORT: '70000' })).toThrow(RangeError);
  });

  it('serves /healthz and /readyz on one port and /metrics on another', async () => {
    const metrics = createOperatorMetrics({ processMetrics: false });
    const servers = await startOperatorServers({
      registry: metrics.registry,
      informers: [probe('x', true)],
      host: '127.0.0.1',
      ports: { metricsPort: 0, healthPort: 0 },
    });
    expect(servers.metricsPort).not.toBe(servers.healthPort);
    const health = `http://127.0.0.1:${servers.healthPort}`;
    const metricsUrl = `http://127.0.0.1:${servers.metricsPort}`;
    expect((await fetch(`${health}/healthz`)).status).toBe(200);
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    expect((await fetch(`${health}/metrics`)).status).toBe(404);
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(404);
    metrics.workqueue('q');
    expect(await (await fetch(`${metricsUrl}/metrics`)).text()).toContain('workqueue_depth{name="q"} 0');
    // a port that is taken fails the start and leaves nothing listening
    await expect(
      startOperatorServers({
        registry: metrics.registry,
        informers: [],
        host: '127.0.0.1',
        ports: { metricsPort: servers.metricsPort, healthPort: 0 },
      }),
    ).rejects.toThrow(/EADDRINUSE/);
    await servers.close();
    await servers.close();
  });
});

describe('graceful shutdown', () => {
  it('stops steps in order and carries on past failures and timeouts', async () => {
    const order: string[] = [];
    const clean = await shutdownInOrder(
      [
        { name: 'controller', stop: async () => void order.push('controller') },
        { name: 'broken', stop: () => Promise.reject(new Error('boom')) },
        { name: 'hangs', stop: () => new Promise(() => undefined) },
        { name: 'servers', stop: async () => void order.push('servers') },
      ],
      { logger, stepTimeoutMs: 50 },
    );
    expect(clean).toBe(false);
    expect(order).toEqual(['controller', 'servers']);
    expect(await shutdownInOrder([{ name: 'ok', stop: async () => undefined }])).toBe(true);
  });

  it('runs the shutdown once on the first signal and force-exits on the second', async () => {
    const source = new EventEmitter();
    const calls: string[] = [];
    let forced = 0;
    const uninstall = onShutdownSignal(
      async (signal) => {
        calls.push(signal);
        throw new Error('logged, not thrown');
      },
      { source, forceExit: () => forced++, logger },
    );
    source.emit('SIGTERM', 'SIGTERM');
    source.emit('SIGINT', 'SIGINT');
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['SIGTERM']);
    expect(forced).toBe(1);
    uninstall();
    expect(source.listenerCount('SIGTERM')).toBe(0);
  });
});
