// Graceful drain of the real pbx process (issue 5, ARCHITECTURE.md "Drain", CONTRACTS.md "HTTP"): SIGTERM with
// calls up refuses new INVITEs (503 + Retry-After), turns readiness to 503 and sippbx_draining to 1, lets every
// call finish normally and exits 0; a second SIGTERM changes nothing. POST /api/v1/drain with a 3 s deadline ends
// the remaining calls with BYE on both legs (CDR reason drain-timeout); the drained pbx stays up (not ready) until
// SIGTERM, which then exits 0 at once.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CALL_SCENARIOS, countLog, describeCall, routeAllTo, runCall } from './harness/calls.js';
import type { CallResult } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { LogLine, PbxProcess } from './harness/pbx.js';
import { describeSipp, freeLocalPort, runSipp } from './harness/sipp.js';

const ADMIN = 'drain-admin';
const dirs: string[] = [];

afterEach(stopAllPbx);
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function drainPbx(uasPort: number, cdrPath: string): Promise<PbxProcess> {
  return startPbx(
    routeAllTo(uasPort, {
      limits: { invitesPerSecondPerIp: 10_000 },
      events: { cdr: { path: cdrPath }, webhooks: [] },
      http: { auth: { tokens: [{ token: ADMIN, role: 'admin' }] } },
    }),
  );
}

async function tempCdrPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sippbx-drain-'));
  dirs.push(dir);
  return join(dir, 'cdr.jsonl');
}

/** Waits (bounded) for `n` active calls; stops early with SIPp's report when the run ends (or fails) first. */
async function waitForActive(
  pbx: PbxProcess,
  n: number,
  timeoutMs: number,
  running: Promise<CallResult>,
): Promise<void> {
  let ended = false;
  void running.then(
    () => (ended = true),
    () => (ended = true),
  );
  const until = Date.now() + timeoutMs;
  while ((await pbx.metricValue('sippbx_calls_active')) !== n) {
    if (ended)
      throw new Error(`the SIPp run ended before ${n} calls were up\n${describeCall(await running)}`);
    if (Date.now() > until) throw new Error(`sippbx_calls_active never reached ${n} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The exit code, or a string when the process is still running after `timeoutMs`. */
function exitWithin(pbx: PbxProcess, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    pbx.exited(),
    new Promise<string>((r) => {
      timer = setTimeout(() => r(`still running after ${timeoutMs} ms`), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function drainState(pbx: PbxProcess): Promise<string | undefined> {
  const res = await http(pbx, '/api/v1/drain');
  return (res.json as { state?: string } | null)?.state;
}

async function http(
  pbx: PbxProcess,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${pbx.httpPort}${path}`, {
    ...init,
    headers: {
      Authorization: `Bearer ${ADMIN}`,
      ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
  });
  const json: unknown = await res.json();
  return { status: res.status, json };
}

interface Cdr {
  legs: { a: { callId: string } };
  result: string;
  endedBy: string;
  reason: string;
  endTime: string;
  answerTime: string | null;
  billableSeconds: number;
}

const isDraining = (l: LogLine): boolean => l['msg'] === 'pbx draining';

describe('drain', () => {
  it('SIGTERM with 20 calls up: new INVITE 503 + Retry-After, ready 503, calls end normally, exit 0', async () => {
    const uasPort = await freeLocalPort();
    const cdrPath = await tempCdrPath();
    const pbx = await drainPbx(uasPort, cdrPath);
    const running = runCall({
      uac: 'uac-load',
      uas: 'uas-load',
      pbx,
      uasPort,
      calls: 20,
      rate: 100,
      pauseMs: 8000,
      timeoutS: 30,
    });
    await waitForActive(pbx, 20, 10_000, running);

    process.kill(pbx.pid, 'SIGTERM');
    const first = await pbx.waitForLog(isDraining, 5_000);
    expect((await http(pbx, '/health/ready')).status).toBe(503);
    expect(await pbx.metricValue('sippbx_draining')).toBe(1);
    expect((await http(pbx, '/api/v1/drain')).json).toMatchObject({ state: 'draining', activeCalls: 20 });

    // A new caller is refused with 503 and a Retry-After (flood-uac checks the header and ACKs the 503).
    const newcomer = await runSipp({
      scenario: join(CALL_SCENARIOS, 'flood-uac.xml'),
      target: `127.0.0.1:${pbx.sipPort}`,
      transport: 'u1',
      service: 'bob',
      calls: 1,
      timeoutS: 10,
    });
    expect(newcomer.exitCode, describeSipp(newcomer)).toBe(0);
    expect(newcomer.messages, describeSipp(newcomer)).toMatch(/^SIP\/2\.0 503 /m);
    expect(newcomer.messages, describeSipp(newcomer)).toMatch(/^Retry-After:\s*\d+/im);
    expect(newcomer.messages, describeSipp(newcomer)).not.toMatch(/^SIP\/2\.0 200 /m);

    // A second SIGTERM changes nothing: same deadline, the calls stay up, the process keeps running.
    const seen = pbx.logs().length;
    process.kill(pbx.pid, 'SIGTERM');
    const second = await pbx.waitForLog(isDraining, 5_000, seen);
    expect(second['deadline']).toBe(first['deadline']);
    expect(pbx.isRunning()).toBe(true);
    expect(await pbx.metricValue('sippbx_calls_active')).toBe(20);

    // The callers hang up when their hold ends; every call completes normally on both sides.
    const r = await running;
    expect(r.ok, describeCall(r)).toBe(true);
    expect(r.uac.stats?.successful, describeCall(r)).toBe(20);
    expect(r.uas.stats?.successful, describeCall(r)).toBe(20);
    expect(await exitWithin(pbx, 10_000)).toBe(0);
    expect(pbx.logs().some((l) => l['msg'] === 'pbx drained')).toBe(true);

    // One CDR per call of the run, each a normal end by the caller. (The refused newcomer is not one of them.)
    const cdrs = (await readFile(cdrPath, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Cdr);
    const callIds = new Set([...r.uac.messages.matchAll(/^Call-ID:\s*(\S+)/gim)].map((m) => m[1]));
    const ofRun = cdrs.filter((c) => callIds.has(c.legs.a.callId));
    expect(ofRun).toHaveLength(20);
    for (const c of ofRun) {
      expect({ result: c.result, endedBy: c.endedBy }).toEqual({ result: 'answered', endedBy: 'caller' });
    }
    expect(cdrs.filter((c) => c.reason === 'drain-timeout')).toEqual([]);
  }, 60_000);

  it('POST /api/v1/drain {deadlineSeconds: 3} with 5 held calls: BYE on both legs at 3 s, CDR drain-timeout, up until SIGTERM', async () => {
    const uasPort = await freeLocalPort();
    const cdrPath = await tempCdrPath();
    const pbx = await drainPbx(uasPort, cdrPath);
    // callee-bye-uac holds until it gets a BYE; uas-load waits for the BYE after its 200: neither hangs up.
    const running = runCall({
      uac: 'callee-bye',
      uas: 'uas-load',
      pbx,
      uasPort,
      calls: 5,
      rate: 100,
      timeoutS: 30,
    });
    await waitForActive(pbx, 5, 10_000, running);

    const requestedAt = Date.now();
    const accepted = await http(pbx, '/api/v1/drain', {
      method: 'POST',
      body: JSON.stringify({ deadlineSeconds: 3 }),
    });
    expect(accepted.status).toBe(202);
    expect(accepted.json).toMatchObject({ state: 'draining', activeCalls: 5 });
    const deadline = Date.parse((accepted.json as { deadline: string }).deadline);
    expect(Math.abs(deadline - (requestedAt + 3000))).toBeLessThan(1000);
    expect((await http(pbx, '/health/ready')).status).toBe(503);
    expect(await pbx.metricValue('sippbx_draining')).toBe(1);

    const r = await running;
    expect(r.ok, describeCall(r)).toBe(true);
    expect(countLog(r.uac, /^bye-received /), describeCall(r)).toBe(5); // the caller leg got the pbx's BYE
    expect(r.uas.stats?.successful, describeCall(r)).toBe(5); // the callee leg got it too and answered 200
    // Drained over the API: the process stays up, not ready, so Kubernetes cannot restart it as a fresh pbx.
    const until = Date.now() + 10_000;
    while ((await drainState(pbx)) !== 'drained') {
      if (Date.now() > until) throw new Error('the pbx never reported drained');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await exitWithin(pbx, 3000)).toMatch(/^still running/);
    expect((await http(pbx, '/health/ready')).status).toBe(503);
    const stopping = Date.now();
    expect(await pbx.stop('SIGTERM', 10_000)).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(5000);

    const cdrs = (await readFile(cdrPath, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Cdr);
    expect(cdrs).toHaveLength(5);
    for (const c of cdrs) {
      expect({ result: c.result, endedBy: c.endedBy, reason: c.reason }).toEqual({
        result: 'answered',
        endedBy: 'system',
        reason: 'drain-timeout',
      });
      // Ended at the deadline, not before.
      expect(Date.parse(c.endTime)).toBeGreaterThanOrEqual(deadline - 100);
      expect(Date.parse(c.endTime)).toBeLessThan(deadline + 1500);
    }
  }, 60_000);
});
