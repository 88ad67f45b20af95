import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../pbx/http/metrics.js';
import { buildHealthApp, buildMetricsApp, startMetricsServer } from '../../pbx/http/servers.js';
import type { HealthReport } from '../../pbx/http/servers.js';

describe('health endpoints', () => {
  it('report ok and ready while running', async () => {
    const app = buildHealthApp(() => ({ status: 'ok', state: 'running', activeCalls: 3 }));
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok', state: 'running', activeCalls: 3 });
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/health/ready' })).statusCode).toBe(200);
  });

  it('answer 503 on /health/ready while draining and on /health when unavailable', async () => {
    let report: HealthReport = { status: 'ok', state: 'draining', activeCalls: 1 };
    const app = buildHealthApp(() => report);
    expect((await app.inject({ url: '/health/ready' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
    report = { status: 'unavailable', state: 'starting', activeCalls: 0 };
    expect((await app.inject({ url: '/health' })).statusCode).toBe(503);
  });

  it('answer 503 on /health/ready while overloaded, and 200 on /health (the process still serves its calls)', async () => {
    let report: HealthReport = { status: 'ok', state: 'running', activeCalls: 5, overloaded: true };
    const app = buildHealthApp(() => report);
    const ready = await app.inject({ url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ ready: false, state: 'running', overloaded: true });
    expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
    report = { ...report, overloaded: false };
    expect((await app.inject({ url: '/health/ready' })).json()).toEqual({
      ready: true,
      state: 'running',
      overloaded: false,
    });
  });
});

describe('metrics endpoint', () => {
  it('serves the SIP counters and the default process metrics in Prometheus text format', async () => {
    const metrics = createMetrics();
    metrics.sipRequests.inc({ method: 'OPTIONS' });
    metrics.sipResponses.inc({ code: '200' });
    metrics.sipMalformed.inc();
    const res = await buildMetricsApp(metrics.registry).inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('sippbx_sip_requests_total{method="OPTIONS"} 1');
    expect(res.body).toContain('sippbx_sip_responses_total{code="200"} 1');
    expect(res.body).toContain('sippbx_sip_malformed_total 1');
    expect(res.body).toContain('process_cpu_user_seconds_total');
  });

  it('listens on an ephemeral port and closes', async () => {
    const server = await startMetricsServer(
      '127.0.0.1',
      0,
      createMetrics({ defaultMetrics: false }).registry,
    );
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    await server.close();
  });
});
