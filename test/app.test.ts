/**
 * The pbx started in-process (startPbxApp, as main.ts does) between real SIPp peers: the same flows as
 * e2e/calls.test.ts, here so the call path is measured by coverage, plus the app's own HTTP wiring.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPbxApp } from '../pbx/app.js';
import type { PbxApp } from '../pbx/app.js';
import { parseConfig } from '../pbx/config/index.js';
import { createLogger } from '../pbx/core/logger.js';
import { countLog, describeCall, runCall } from '../e2e/harness/calls.js';
import { leaseMediaPorts } from '../e2e/harness/port-lease.js';
import type { PortLease } from '../e2e/harness/port-lease.js';
import { freeLocalPort } from '../e2e/harness/sipp.js';

let app: PbxApp;
let uasPort: number;
let lease: PortLease;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  uasPort = await freeLocalPort();
  lease = leaseMediaPorts();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = parseConfig({
    sip: { listen: '127.0.0.1', port: 0, timers: { t1Ms: 50, t2Ms: 400, t4Ms: 200, dMs: 100 } },
    http: { listen: '127.0.0.1', port: 0, auth: { tokens: [{ token: 'admin-token', role: 'admin' }] } },
    metrics: { port: 0 },
    media: { listen: '127.0.0.1', portRange: { start: lease.start, end: lease.end } },
    routing: { routes: [{ match: '^bob$', target: `sip:127.0.0.1:${uasPort}` }], noAnswerTimeoutSeconds: 1 },
    limits: { invitesPerSecondPerIp: 1000 },
    events: { webhooks: [] },
  });
  app = await startPbxApp(config, createLogger('info', sink));
});

afterAll(async () => {
  await app.stop();
  lease.release();
});

async function call(uac: string, uas: string, extra: { calls?: number; service?: string } = {}) {
  const r = await runCall({
    uac,
    uas,
    pbx: { sipPort: app.sip.port },
    uasPort,
    pauseMs: 200,
    timeoutS: 15,
    ...extra,
  });
  expect(r.ok, describeCall(r)).toBe(true);
  return r;
}

async function idle(): Promise<void> {
  const until = Date.now() + 8000;
  while (app.b2bua.activeCalls() > 0 || app.transactions.size().client + app.transactions.size().server > 0) {
    if (Date.now() > until) throw new Error(`not idle: ${JSON.stringify(app.transactions.size())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the pbx in-process', () => {
  it('connects basic calls and ends them from either side', async () => {
    await call('basic', 'basic', { calls: 2 });
    await call('callee-bye', 'callee-bye');
    await idle();
    const ended = lines.filter((l) => l['msg'] === 'call.ended');
    expect(ended.length).toBeGreaterThanOrEqual(3);
  });

  it('passes busy, handles CANCEL and the no-answer timer', async () => {
    const busy = await call('busy', 'busy');
    expect(countLog(busy.uac, /^final 486/)).toBe(1);
    const cancel = await call('cancel', 'cancel');
    expect(countLog(cancel.uac, /^final 487 INVITE/)).toBe(1);
    const noAnswer = await call('noanswer', 'noanswer');
    expect(countLog(noAnswer.uac, /^final (408|480)/)).toBe(1);
    await idle();
  });

  it('forwards re-INVITE, UPDATE and PRACK flows', async () => {
    await call('reinvite-hold', 'reinvite-hold');
    await call('update', 'update');
    await call('prack', 'prack');
    await idle();
  });

  it('registers a user and routes an INVITE to it', async () => {
    await call('invite-registered', 'register', { service: 'alice' });
    await idle();
  });

  it('serves health, stats and drain over HTTP', async () => {
    const base = `http://127.0.0.1:${app.httpPort}`;
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    const stats = (await (
      await fetch(`${base}/api/v1/stats`, { headers: { authorization: 'Bearer admin-token' } })
    ).json()) as {
      activeCalls: number;
    };
    expect(stats.activeCalls).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${app.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/sippbx_calls_total\{result="answered"\} [1-9]/);
    const drained = await fetch(`${base}/api/v1/drain`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-token', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(drained.status).toBe(202);
    await app.drain.drained();
    expect((await fetch(`${base}/health/ready`)).status).toBe(503);
  });
});
