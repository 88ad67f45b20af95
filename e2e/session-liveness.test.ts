/**
 * Session liveness (issue 13) against the real pbx process with SIPp parties: RFC 4028 session timers keep a
 * call up with UPDATE or re-INVITE refreshes, and a call whose caller or callee vanishes (SIGKILL after the
 * call is set up) is ended with BYE to the party left and a CDR, within the session-timer bound. Timers are
 * shortened by config: a 4 s session interval (refresh at 2 s) and T1 = 50 ms (a refresh times out in 3.2 s).
 * The SIPp parties never advertise `timer` support, so these calls also show that peers without session
 * timers work: the pbx refreshes them as keepalives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { countLog, describeCall, pollWhileRunning, routeAllTo, runCall } from './harness/calls.js';
import type { CallResult, RunCallOptions } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { LogLine, PbxProcess } from './harness/pbx.js';
import { freeLocalPort } from './harness/sipp.js';

const TIMERS = { t1Ms: 50, t2Ms: 400, t4Ms: 200, dMs: 100 };
const INTERVAL_S = 4;
/** A refresh goes at half the interval; one the peer never answers times out after 64×T1. */
const VANISH_BOUND_S = INTERVAL_S / 2 + (64 * TIMERS.t1Ms) / 1000;

afterEach(async () => {
  await stopAllPbx();
});

/** The fields of a `call.ended` event the tests read (CONTRACTS.md "Call events and CDR"). */
interface Ended {
  legs: { a: { callId: string } };
  answerTime: string | null;
  billableSeconds: number;
  result: string;
  sipCode: number;
  endedBy: string;
  reason: string;
}

function pbxFor(uasPort: number): Promise<PbxProcess> {
  return startPbx(
    routeAllTo(uasPort, {
      sip: { timers: TIMERS, sessionTimers: { expiresSeconds: INTERVAL_S, minSeSeconds: 1 } },
      limits: { invitesPerSecondPerIp: 1000 },
      events: { webhooks: [] },
    }),
  );
}

function call(
  pbx: PbxProcess,
  uasPort: number,
  o: Omit<RunCallOptions, 'pbx' | 'uasPort'>,
): Promise<CallResult> {
  return runCall({ pbx, uasPort, timeoutS: 20, ...o });
}

/** The one `call.ended` event and the one CDR of the run (each pbx here carries one call). */
async function ended(pbx: PbxProcess): Promise<{ event: Ended; cdr: Ended }> {
  const event = await pbx.waitForLog((l: LogLine) => l['msg'] === 'call.ended', 15_000);
  const cdr = await pbx.waitForLog((l: LogLine) => l['msg'] === 'cdr', 15_000);
  const all = pbx.logs().filter((l) => l['msg'] === 'cdr');
  expect(all).toHaveLength(1);
  return { event: event['event'] as Ended, cdr: cdr['cdr'] as Ended };
}

/** Resolves once the pbx has seen the caller's ACK for the 2xx: the call is fully set up on both legs. */
async function acked(pbx: PbxProcess): Promise<void> {
  const read = (): Promise<number> => pbx.metricValue('sippbx_sip_requests_total', { method: 'ACK' });
  const acks = await pollWhileRunning(read, (n) => n >= 1, { timeoutMs: 10_000, what: 'the ACK' });
  if (acks < 1) throw new Error('the pbx saw no ACK within 10 s');
}

/** No call left behind: the gauge returns to 0. */
async function expectNoCalls(pbx: PbxProcess): Promise<void> {
  const read = (): Promise<number> => pbx.metricValue('sippbx_calls_active');
  expect(await pollWhileRunning(read, (n) => n === 0, { timeoutMs: 5000, what: 'calls_active 0' })).toBe(0);
}

describe('session timers keep a call up', () => {
  it('with UPDATE refreshes on both legs when the parties allow UPDATE', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort);
    const r = await call(pbx, uasPort, { uac: 'refresh-update', uas: 'refresh-update' });
    expect(r.ok, describeCall(r)).toBe(true);
    // The B-leg INVITE asked for the configured interval, the pbx as refresher.
    expect(countLog(r.uas, new RegExp(`^invite session-expires=${INTERVAL_S};refresher=uac `))).toBe(1);
    expect(countLog(r.uac, new RegExp(`^refresh UPDATE session-expires=${INTERVAL_S};refresher=uac `))).toBe(
      2,
    );
    expect(countLog(r.uas, /^refresh UPDATE session-expires=/), describeCall(r)).toBeGreaterThanOrEqual(1);
    const { event, cdr } = await ended(pbx);
    for (const record of [event, cdr]) {
      expect(record).toMatchObject({ result: 'answered', endedBy: 'caller', sipCode: 200 });
      // Longer than the session interval: the refreshes kept it alive.
      expect(record.billableSeconds).toBeGreaterThanOrEqual(INTERVAL_S - 0.3);
    }
    await expectNoCalls(pbx);
  });

  it('with re-INVITE refreshes offering the unchanged SDP when UPDATE is not allowed', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort);
    const r = await call(pbx, uasPort, { uac: 'refresh-reinvite', uas: 'refresh-reinvite' });
    expect(r.ok, describeCall(r)).toBe(true);
    expect(countLog(r.uac, /^refresh INVITE session-expires=4;refresher=uac /)).toBe(2);
    expect(countLog(r.uas, /^refresh INVITE session-expires=/), describeCall(r)).toBeGreaterThanOrEqual(1);
    // Each refresh offers the SDP the party was sent before: the relay's address and the same port.
    const first = r.uac.sdp.find((s) => s.where === '200-invite');
    const refreshes = r.uac.sdp.filter((s) => s.where === 'refresh-invite');
    expect(refreshes).toHaveLength(2);
    for (const s of refreshes)
      expect({ ip: s.ip, port: s.port }).toEqual({ ip: first?.ip, port: first?.port });
    const { event } = await ended(pbx);
    expect(event).toMatchObject({ result: 'answered', endedBy: 'caller' });
    expect(event.billableSeconds).toBeGreaterThanOrEqual(INTERVAL_S - 0.3);
    await expectNoCalls(pbx);
  });
});

describe('a vanished party leaves no call behind', () => {
  it('caller SIGKILLed after the ACK: the refresh to it fails, the callee gets BYE, one CDR', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort);
    // The caller would hold for 30 s; it is killed as soon as the call is up.
    const r = await call(pbx, uasPort, {
      uac: 'basic',
      uas: 'refresh-update',
      pauseMs: 30_000,
      timeoutS: 40,
      kill: { side: 'uac', when: () => acked(pbx) },
    });
    expect(r.uac.exitCode, describeCall(r)).toBeNull();
    expect(r.uas.exitCode, describeCall(r)).toBe(0);
    expect(countLog(r.uas, /^bye-received$/)).toBe(1);
    const { event, cdr } = await ended(pbx);
    for (const record of [event, cdr]) {
      expect(record).toMatchObject({
        result: 'answered',
        endedBy: 'system',
        reason: 'session-refresh-failed',
      });
      expect(record.billableSeconds).toBeLessThan(VANISH_BOUND_S + 2);
    }
    await expectNoCalls(pbx);
  });

  it('callee SIGKILLed after the ACK: the refresh to it fails, the caller gets BYE, one CDR', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort);
    const r = await call(pbx, uasPort, {
      uac: 'refresh-wait',
      uas: 'basic',
      timeoutS: 40,
      kill: { side: 'uas', when: () => acked(pbx) },
    });
    expect(r.uas.exitCode, describeCall(r)).toBeNull();
    expect(r.uac.exitCode, describeCall(r)).toBe(0);
    expect(countLog(r.uac, /^bye-received$/)).toBe(1);
    const { event } = await ended(pbx);
    expect(event).toMatchObject({ result: 'answered', endedBy: 'system', reason: 'session-refresh-failed' });
    expect(event.billableSeconds).toBeLessThan(VANISH_BOUND_S + 2);
    await expectNoCalls(pbx);
  });
});
