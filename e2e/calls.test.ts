// B2BUA calls end to end (issue 4): the real pbx process between a SIPp caller and a SIPp callee. Every test also
// checks afterwards that the pbx holds nothing: 0 active calls, 0 media ports in use, no live transactions.
import { afterEach, describe, expect, it } from 'vitest';
import { countLog, describeCall, routeAllTo, runCall } from './harness/calls.js';
import type { CallResult, CallTransport, RunCallOptions } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { PbxProcess } from './harness/pbx.js';
import { describeSipp, freeLocalPort, runSipp } from './harness/sipp.js';

afterEach(stopAllPbx);

/** Short RFC 3261 timers so transactions end within a test (T1 50 ms: Timer D/H/J = 3.2 s). */
const TIMERS = { t1Ms: 50, t2Ms: 400, t4Ms: 200, dMs: 100 };

async function pbxFor(
  uasPort: number,
  transport: CallTransport,
  extra: { noAnswerTimeoutSeconds?: number; [key: string]: unknown } = {},
): Promise<PbxProcess> {
  const { noAnswerTimeoutSeconds, ...rest } = extra;
  const routed = routeAllTo(uasPort, {}, transport) as { routing: { routes: unknown[] } };
  return startPbx({
    sip: { timers: TIMERS },
    limits: { invitesPerSecondPerIp: 1000 },
    ...rest,
    routing: {
      routes: routed.routing.routes,
      ...(noAnswerTimeoutSeconds === undefined ? {} : { noAnswerTimeoutSeconds }),
    },
  });
}

/** Polls a condition the pbx reaches by itself (timers ending transactions), bounded. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** After every call: nothing left behind. */
async function expectClean(pbx: PbxProcess): Promise<void> {
  await eventually(async () => (await pbx.metricValue('sippbx_calls_active')) === 0, 5000, 'calls to end');
  expect(await pbx.metricValue('sippbx_media_ports_in_use')).toBe(0);
  await eventually(
    async () => (await pbx.metricValue('sippbx_sip_transactions')) === 0,
    8000,
    'transactions to terminate',
  );
}

/** Each side's SDP points at the relay: 127.0.0.1 and a port of the pbx's media range. */
function expectRelayed(pbx: PbxProcess, r: CallResult, where: { uas: string; uac: string }): void {
  const offer = r.uas.sdp.find((s) => s.where === where.uas);
  const answer = r.uac.sdp.find((s) => s.where === where.uac);
  for (const seen of [offer, answer]) {
    expect(seen, describeCall(r)).toBeDefined();
    expect(seen?.ip).toBe('127.0.0.1');
    expect(seen?.port).toBeGreaterThanOrEqual(pbx.mediaPorts.start);
    expect(seen?.port).toBeLessThan(pbx.mediaPorts.end);
  }
}

async function call(
  pbx: PbxProcess,
  uasPort: number,
  o: Omit<RunCallOptions, 'pbx' | 'uasPort'>,
  expectOk = true,
): Promise<CallResult> {
  const r = await runCall({ pauseMs: 300, timeoutS: 15, ...o, pbx, uasPort });
  if (expectOk) expect(r.ok, describeCall(r)).toBe(true);
  return r;
}

describe.each([
  ['UDP', 'u1'],
  ['TCP', 't1'],
] as const)('calls through the pbx over %s', (_name, transport: CallTransport) => {
  it('basic call, caller hangs up', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort, transport);
    const r = await call(pbx, uasPort, { uac: 'basic', uas: 'basic', transport, calls: 3 });
    expectRelayed(pbx, r, { uas: 'invite', uac: '200-invite' });
    expect(await pbx.metricValue('sippbx_calls_total', { result: 'answered' })).toBe(3);
    await expectClean(pbx);
  });

  it('basic call, callee hangs up', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort, transport);
    const r = await call(pbx, uasPort, { uac: 'callee-bye', uas: 'callee-bye', transport });
    expect(countLog(r.uac, /^bye-received/)).toBe(1);
    expectRelayed(pbx, r, { uas: 'invite', uac: '200-invite' });
    await expectClean(pbx);
  });

  it('busy: 486 passes through to the caller', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort, transport);
    const r = await call(pbx, uasPort, { uac: 'busy', uas: 'busy', transport });
    expect(countLog(r.uac, /^final 486/)).toBe(1);
    expect(await pbx.metricValue('sippbx_calls_total', { result: 'busy' })).toBe(1);
    await expectClean(pbx);
  });

  it('caller cancels while ringing: 487 to the caller, CANCEL to the callee', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort, transport);
    const r = await call(pbx, uasPort, { uac: 'cancel', uas: 'cancel', transport });
    expect(countLog(r.uac, /^final 487 INVITE/)).toBe(1);
    expect(countLog(r.uas, /^cancel-received/)).toBe(1);
    expect(await pbx.metricValue('sippbx_calls_total', { result: 'cancelled' })).toBe(1);
    await expectClean(pbx);
  });

  it('no answer: the ring timer cancels the callee and answers the caller 480', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort, transport, { noAnswerTimeoutSeconds: 1 });
    const r = await call(pbx, uasPort, { uac: 'noanswer', uas: 'noanswer', transport });
    expect(countLog(r.uac, /^final (408|480)/)).toBe(1);
    expect(await pbx.metricValue('sippbx_calls_total', { result: 'no-answer' })).toBe(1);
    await expectClean(pbx);
  });

  it('re-INVITE hold and unhold pass through with SDP', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort, transport);
    const r = await call(pbx, uasPort, { uac: 'reinvite-hold', uas: 'reinvite-hold', transport });
    expectRelayed(pbx, r, { uas: 'invite', uac: '200-invite' });
    await expectClean(pbx);
  });

  it('UPDATE with a new SDP passes through', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort, transport);
    const r = await call(pbx, uasPort, { uac: 'update', uas: 'update', transport });
    expectRelayed(pbx, r, { uas: 'invite', uac: '200-invite' });
    await expectClean(pbx);
  });

  it('no ACK for the 200: after 64*T1 the callee is ACKed and both legs get BYE', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort, transport);
    const r = await call(pbx, uasPort, { uac: 'noack', uas: 'basic', transport });
    expect(countLog(r.uac, /^bye-received/), describeCall(r)).toBe(1);
    expect(await pbx.metricValue('sippbx_calls_total', { result: 'answered' })).toBe(1);
    await expectClean(pbx);
  });

  it('PRACK: the callee requires 100rel and the caller supports it', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort, transport);
    await call(pbx, uasPort, { uac: 'prack', uas: 'prack', transport });
    await expectClean(pbx);
  });

  it('REGISTER, then an INVITE to the registered AOR reaches its contact', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await startPbx({
      sip: { timers: TIMERS },
      limits: { invitesPerSecondPerIp: 1000 },
      routing: { routes: [] },
    });
    await call(pbx, uasPort, { uac: 'invite-registered', uas: 'register', transport, service: 'alice' });
    await expectClean(pbx);
  });

  it('unknown user gets 404, Max-Forwards 0 gets 483', async () => {
    const pbx = await startPbx({ sip: { timers: TIMERS }, routing: { routes: [] } });
    for (const scenario of ['unknown-user', 'max-forwards-zero']) {
      const r = await runSipp({
        scenario: `e2e/scenarios/call/${scenario}-uac.xml`,
        target: `127.0.0.1:${pbx.sipPort}`,
        transport,
        calls: 1,
        timeoutS: 10,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
    }
    expect(await pbx.metricValue('sippbx_sip_responses_total', { code: '404' })).toBe(1);
    expect(await pbx.metricValue('sippbx_sip_responses_total', { code: '483' })).toBe(1);
    await expectClean(pbx);
  });
});
