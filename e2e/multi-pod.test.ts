// Several pbx instances acting as one (issue 6): two real pbx processes on 127.0.0.2 and 127.0.0.3 share one real
// redis-server. A BYE that lands on the pod which does not own the call is forwarded to the owner; a REGISTER
// accepted by one pod routes calls through the other.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALL_SCENARIOS, isLocalPortBound } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { LogLine, PbxProcess } from './harness/pbx.js';
import { describeSipp, freeLocalPort, runSipp, sippBinary } from './harness/sipp.js';
import { startRedis } from '../test/registry/redis-server.js';
import type { TestRedis } from '../test/registry/redis-server.js';

/** Short RFC 3261 timers so transactions end within the test (T1 50 ms). */
const TIMERS = { t1Ms: 50, t2Ms: 400, t4Ms: 200, dMs: 100 };
const BYE_ELSEWHERE = 'e2e/scenarios/multi-pod/bye-elsewhere-uac.xml';

let redis: TestRedis;
let uasPort: number;
let pbx1: PbxProcess;
let pbx2: PbxProcess;

/** One pod: SIP and media on its own loopback address, the shared Redis, `callee` routed to the UAS. */
function startPod(pod: string, ip: string): Promise<PbxProcess> {
  return startPbx(
    {
      sip: { listen: ip, timers: TIMERS },
      media: { listen: ip }, // the port range: the harness's per-process lease
      limits: { invitesPerSecondPerIp: 1000 },
      registry: { backend: 'redis', redis: { url: redis.url, keyPrefix: 'multipod:' } },
      // Only `callee` has a static route: `bob` is reachable only through a registration.
      routing: { routes: [{ match: '^callee$', target: `sip:127.0.0.1:${uasPort}` }] },
    },
    { env: { POD_NAME: pod } },
  );
}

const msg =
  (text: string) =>
  (l: LogLine): boolean =>
    l['msg'] === text;

function ended(pbx: PbxProcess): number {
  return pbx.logs().filter(msg('call.ended')).length;
}

/** Polls a condition the pbx reaches by itself, bounded. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The outcome of a SIPp process started by `callee`. */
interface CalleeResult {
  exitCode: number | null;
  output: string;
  log: string;
}

/**
 * Starts a SIPp callee on `uasPort` (the harness's `runSipp` picks its own port, and a pbx route needs a
 * known one) and resolves once it is ready: bound, or once its log has `readyLine`. `result` comes at exit.
 */
async function callee(
  scenario: string,
  args: string[],
  readyLine?: RegExp,
): Promise<{ result: Promise<CalleeResult> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sippbx-multipod-'));
  const logFile = join(dir, 'logs.log');
  const child = spawn(
    sippBinary(),
    [
      ...args,
      ...['-sf', join(CALL_SCENARIOS, scenario), '-t', 'u1', '-i', '127.0.0.1', '-p', String(uasPort)],
      ...['-m', '1', '-timeout', '15s', '-timeout_error', '-nostdin', '-trace_err', '-trace_logs'],
      ...['-error_file', join(dir, 'errors.log'), '-log_file', logFile],
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output = (output + c).slice(-20_000)));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output = (output + c).slice(-20_000)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const result = new Promise<number | null>((done) => child.once('close', done)).then(async (exitCode) => {
    clearTimeout(killer);
    const log = await readFile(logFile, 'utf8').catch(() => '');
    output += await readFile(join(dir, 'errors.log'), 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    return { exitCode, output, log };
  });
  const ready = async (): Promise<boolean> =>
    readyLine === undefined
      ? isLocalPortBound(uasPort, 'u1')
      : readyLine.test(await readFile(logFile, 'utf8').catch(() => ''));
  await eventually(ready, 5000, `the callee (${scenario}) to be ready`);
  return { result };
}

beforeAll(async () => {
  redis = await startRedis();
  uasPort = await freeLocalPort();
  [pbx1, pbx2] = await Promise.all([startPod('pbx-a', '127.0.0.2'), startPod('pbx-b', '127.0.0.3')]);
  await Promise.all([pbx1.waitForLog(msg('registry up'), 5000), pbx2.waitForLog(msg('registry up'), 5000)]);
  expect(pbx1.sipAddress).toBe('127.0.0.2');
  expect(pbx2.sipAddress).toBe('127.0.0.3');
});

afterAll(async () => {
  await stopAllPbx();
  await redis?.stop();
});

describe('two pods sharing one Redis', () => {
  it('a call set up through pod A and hung up by a BYE sent to pod B ends cleanly on both legs', async () => {
    const uas = await callee('basic-uas.xml', []);
    const caller = await runSipp({
      scenario: BYE_ELSEWHERE,
      target: `127.0.0.2:${pbx1.sipPort}`,
      transport: 'u1',
      service: 'callee',
      timeoutS: 15,
      extraArgs: ['-d', '300', '-key', 'bye_host', '127.0.0.3', '-key', 'bye_port', String(pbx2.sipPort)],
    });
    const answered = await uas.result;
    expect(caller.exitCode, describeSipp(caller)).toBe(0); // the caller got 200 for its BYE
    expect(answered.exitCode, answered.output).toBe(0); // the callee got the B-leg BYE and answered it
    // The BYE really went through pod B, which forwarded it; pod A ended the call, once.
    expect(await pbx2.metricValue('sippbx_sip_requests_total', { method: 'BYE' })).toBe(1);
    expect(await pbx2.metricValue('sippbx_sip_requests_total', { method: 'INVITE' })).toBe(0);
    expect(await pbx1.metricValue('sippbx_sip_requests_total', { method: 'BYE' })).toBe(1);
    await pbx1.waitForLog(msg('call.ended'), 5000);
    await eventually(async () => (await pbx1.metricValue('sippbx_calls_active')) === 0, 5000, 'pod A idle');
    expect(ended(pbx1)).toBe(1);
    expect(ended(pbx2)).toBe(0);
    expect(await pbx1.metricValue('sippbx_media_ports_in_use')).toBe(0);
    expect(await pbx2.metricValue('sippbx_calls_active')).toBe(0);
  });

  it('a REGISTER to pod A makes the user reachable through pod B', async () => {
    const before = { a: ended(pbx1), b: ended(pbx2) };
    // register-uas: REGISTER bob (Contact = its own address) to pod A, then take the incoming call, unregister.
    const uas = await callee(
      'register-uas.xml',
      [
        `127.0.0.2:${pbx1.sipPort}`,
        ...['-s', 'bob', '-d', '200', '-oocsf', join(CALL_SCENARIOS, 'register-incoming-uas.xml')],
      ],
      /^registered /m,
    );
    expect(await pbx2.metricValue('sippbx_registrations_active')).toBe(1);
    const caller = await runSipp({
      scenario: join(CALL_SCENARIOS, 'invite-registered-uac.xml'),
      target: `127.0.0.3:${pbx2.sipPort}`,
      transport: 'u1',
      service: 'bob',
      timeoutS: 15,
      extraArgs: ['-d', '200'],
    });
    const registered = await uas.result;
    expect(caller.exitCode, describeSipp(caller)).toBe(0);
    expect(registered.exitCode, registered.output).toBe(0);
    expect(registered.log).toMatch(/^incoming-done/m);
    // Pod B set the call up (and ended it); pod A only took the REGISTERs.
    await eventually(() => Promise.resolve(ended(pbx2) === before.b + 1), 5000, 'call.ended on pod B');
    expect(ended(pbx1)).toBe(before.a);
    expect(await pbx2.metricValue('sippbx_calls_total', { result: 'answered' })).toBe(1);
    await eventually(
      async () => (await pbx2.metricValue('sippbx_media_ports_in_use')) === 0,
      5000,
      'pod B ports',
    );
  });
});
