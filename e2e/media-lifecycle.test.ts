// The life of a call's media in the real pbx process (docs/api.md "GET /api/v1/calls", docs/metrics.md,
// docs/configuration.md `media.inactivityTimeoutSeconds`): a port block is leased by the call's first SDP, not by
// its INVITE, so a signaling-only call holds none; a late offer (the callee's 200) opens the media, or gets the
// caller a 503 when no block is free; a call with no RTP either way is ended by the media timeout, unless it is
// on hold. Every test checks afterwards that the pbx holds nothing: 0 active calls, 0 media ports in use.
import { afterEach, describe, expect, it } from 'vitest';
import { countLog, describeCall, pollWhileRunning, routeAllTo, runCall } from './harness/calls.js';
import type { CallResult, RunCallOptions, SdpSeen } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { LogLine, PbxProcess } from './harness/pbx.js';
import { leaseMediaPorts } from './harness/port-lease.js';
import type { PortLease } from './harness/port-lease.js';
import { freeLocalPort } from './harness/sipp.js';

/** Short RFC 3261 timers so transactions end within a test (as in calls.test.ts). */
const TIMERS = { t1Ms: 50, t2Ms: 400, t4Ms: 200, dMs: 100 };
const READ = 'media-lifecycle-read';
/** `media.inactivityTimeoutSeconds` of the media-timeout tests. */
const MEDIA_TIMEOUT_S = 1;

const leases: PortLease[] = [];

afterEach(async () => {
  await stopAllPbx();
  for (const lease of leases.splice(0)) lease.release();
});

/** One entry of `GET /api/v1/calls` (docs/api.md). */
interface CallEntry {
  id: string;
  legs: { a: string; b: string };
  state: string;
  mediaPorts: { start: number; end: number } | null;
}

/** The fields of a `call.ended` event / CDR the tests read (CONTRACTS.md "Call events and CDR"). */
interface Ended {
  legs: { a: { callId: string } };
  answerTime: string | null;
  billableSeconds: number;
  result: string;
  sipCode: number;
  endedBy: string;
  reason: string;
}

/** A pbx with short timers, a read token, and `routes` (user regex -> UAS port) or one UAS for every call. */
async function pbxFor(
  routes: number | { match: string; uasPort: number }[],
  extra: Record<string, unknown> = {},
): Promise<PbxProcess> {
  const routing =
    typeof routes === 'number'
      ? routeAllTo(routes)
      : {
          routing: { routes: routes.map((r) => ({ match: r.match, target: `sip:127.0.0.1:${r.uasPort}` })) },
        };
  return startPbx({
    sip: { timers: TIMERS },
    limits: { invitesPerSecondPerIp: 1000 },
    events: { webhooks: [] },
    http: { auth: { tokens: [{ token: READ, role: 'read' }] } },
    ...extra,
    ...routing,
  });
}

async function api<T>(pbx: PbxProcess, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${pbx.httpPort}${path}`, {
    headers: { Authorization: `Bearer ${READ}` },
  });
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}`);
  return (await res.json()) as T;
}

async function listCalls(pbx: PbxProcess): Promise<CallEntry[]> {
  return (await api<{ calls: CallEntry[] }>(pbx, '/api/v1/calls')).calls;
}

function portsInUse(pbx: PbxProcess): Promise<number> {
  return pbx.metricValue('sippbx_media_ports_in_use');
}

/**
 * Polls `check` every 50 ms until it returns a value (not undefined), bounded by `timeoutMs`; fails early, with both
 * SIPp sides described, when the SIPp run it watches ends first.
 */
async function whileRunning<T>(
  running: Promise<CallResult> | undefined,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const value = await pollWhileRunning(check, (v) => v !== undefined, { timeoutMs, what, running });
  if (value === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return value;
}

/** The one answered call of `GET /api/v1/calls`, polled while `running` lasts. */
function answeredCall(pbx: PbxProcess, running: Promise<CallResult>): Promise<CallEntry> {
  return whileRunning(
    running,
    async () => {
      const calls = await listCalls(pbx);
      return calls.length === 1 && calls[0]?.state === 'answered' ? calls[0] : undefined;
    },
    8000,
    'GET /api/v1/calls to list 1 answered call',
  );
}

/** After every test: no call left (metric and API) and no media port leased. */
async function expectIdle(pbx: PbxProcess): Promise<void> {
  await whileRunning(
    undefined,
    async () => ((await pbx.metricValue('sippbx_calls_active')) === 0 ? true : undefined),
    5000,
    'sippbx_calls_active 0',
  );
  expect(await listCalls(pbx)).toEqual([]);
  expect(await portsInUse(pbx)).toBe(0);
  const stats = await api<{ activeCalls: number; ports: { inUse: number } }>(pbx, '/api/v1/stats');
  expect(stats).toMatchObject({ activeCalls: 0, ports: { inUse: 0 } });
}

/** The `call.ended` event and the CDR the pbx logged for the call whose A-leg Call-ID is `aCallId`. */
async function endedRecords(pbx: PbxProcess, aCallId: string): Promise<{ event: Ended; cdr: Ended }> {
  const of = (key: 'event' | 'cdr') => (l: LogLine) => {
    const record = l[key] as Ended | undefined;
    return record?.legs.a.callId === aCallId;
  };
  const event = await pbx.waitForLog((l) => l['msg'] === 'call.ended' && of('event')(l), 5000);
  const cdr = await pbx.waitForLog((l) => l['msg'] === 'cdr' && of('cdr')(l), 5000);
  return { event: event['event'] as Ended, cdr: cdr['cdr'] as Ended };
}

/** The Call-ID of the first message in a SIPp side's -trace_msg log (one call per run). */
function callIdOf(messages: string): string {
  const id = /^Call-ID:\s*(\S+)/im.exec(messages)?.[1];
  if (id === undefined) throw new Error(`no Call-ID in the SIPp message log:\n${messages.slice(0, 2000)}`);
  return id;
}

/** An SDP a side saw points at the relay: the pbx's media address, a port of the call's block. */
function expectAtRelay(
  r: CallResult,
  seen: SdpSeen | undefined,
  block: { start: number; end: number },
): void {
  expect(seen, describeCall(r)).toBeDefined();
  expect(seen?.ip, describeCall(r)).toBe('127.0.0.1');
  expect(seen?.port).toBeGreaterThanOrEqual(block.start);
  expect(seen?.port).toBeLessThan(block.end);
}

function call(
  pbx: PbxProcess,
  uasPort: number,
  o: Omit<RunCallOptions, 'pbx' | 'uasPort'>,
): Promise<CallResult> {
  return runCall({ pauseMs: 300, timeoutS: 15, ...o, pbx, uasPort });
}

describe('media opened by the first SDP', () => {
  it('a signaling-only call holds no port block', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort);
    const running = call(pbx, uasPort, { uac: 'nosdp', uas: 'nosdp', pauseMs: 2000 });
    const live = await answeredCall(pbx, running);
    expect(live.mediaPorts).toBeNull();
    expect(await portsInUse(pbx)).toBe(0);
    const r = await running;
    expect(r.ok, describeCall(r)).toBe(true);
    // No SDP anywhere: the callee's INVITE and the caller's 200 had no body either.
    expect(countLog(r.uas, /^body invite content-length=0 /)).toBe(1);
    expect(countLog(r.uac, /^body 200-invite content-length=0 /)).toBe(1);
    expect(live.legs.a).toBe(callIdOf(r.uac.messages));
    const { event } = await endedRecords(pbx, live.legs.a);
    expect({ result: event.result, endedBy: event.endedBy }).toEqual({
      result: 'answered',
      endedBy: 'caller',
    });
    await expectIdle(pbx);
  });

  it('a late offer opens the media at the callee’s 200: both SDPs point at the relay', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxFor(uasPort);
    const running = call(pbx, uasPort, { uac: 'late-offer', uas: 'late-offer', pauseMs: 2000 });
    const live = await answeredCall(pbx, running);
    expect(live.mediaPorts).not.toBeNull();
    const block = live.mediaPorts ?? { start: 0, end: 0 };
    expect(block.end - block.start).toBe(8);
    expect(block.start).toBeGreaterThanOrEqual(pbx.mediaPorts.start);
    expect(block.end).toBeLessThanOrEqual(pbx.mediaPorts.end);
    expect(await portsInUse(pbx)).toBe(8);
    const r = await running;
    expect(r.ok, describeCall(r)).toBe(true);
    expect(countLog(r.uas, /^body invite content-length=0 /)).toBe(1);
    // The offer (callee's 200) reached the caller, the answer (caller's ACK) the callee, both rewritten.
    expect(r.uac.sdp.map((s) => s.where)).toEqual(['200-invite']);
    expect(r.uas.sdp.map((s) => s.where)).toEqual(['ack']);
    expectAtRelay(r, r.uac.sdp[0], block);
    expectAtRelay(r, r.uas.sdp[0], block);
    // Each side sees the relay port that faces it: two different ports of the block.
    expect(r.uac.sdp[0]?.port).not.toBe(r.uas.sdp[0]?.port);
    await expectIdle(pbx);
  });

  it('a late offer with no free port block: 503 + Retry-After to the caller, ACK and BYE to the callee', async () => {
    // One block of 8 ports, taken by a call with an early offer; then the late offer's 200 finds none free.
    const lease = leaseMediaPorts();
    leases.push(lease);
    const holdPort = await freeLocalPort();
    const latePort = await freeLocalPort();
    const pbx = await pbxFor(
      [
        { match: '^hold$', uasPort: holdPort },
        { match: '^late$', uasPort: latePort },
      ],
      { media: { portRange: { start: lease.start, end: lease.start + 8 } } },
    );
    expect(await pbx.metricValue('sippbx_media_ports_total')).toBe(8);
    const holding = call(pbx, holdPort, { uac: 'basic', uas: 'basic', service: 'hold', pauseMs: 4000 });
    await answeredCall(pbx, holding);
    expect(await portsInUse(pbx)).toBe(8);

    const refused = await call(pbx, latePort, {
      uac: 'late-offer-refused',
      uas: 'late-offer-refused',
      service: 'late',
    });
    expect(refused.ok, describeCall(refused)).toBe(true);
    expect(countLog(refused.uac, /^final 503 retry-after=[1-9]\d*$/), describeCall(refused)).toBe(1);
    expect(countLog(refused.uas, /^ack content-length=[1-9]/), describeCall(refused)).toBe(1);
    // RFC 3261 §13.2.2.4: the ACK carries a valid answer, rejecting the offered stream, before the BYE
    expect(countLog(refused.uas, /^ack-sdp m=audio 0$/), describeCall(refused)).toBe(1);
    expect(countLog(refused.uas, /^bye-received/), describeCall(refused)).toBe(1);
    const { event, cdr } = await endedRecords(pbx, callIdOf(refused.uac.messages));
    for (const record of [event, cdr]) {
      expect({ result: record.result, sipCode: record.sipCode, endedBy: record.endedBy }).toEqual({
        result: 'failed',
        sipCode: 503,
        endedBy: 'system',
      });
    }
    // The call holding the block was not disturbed.
    expect(await portsInUse(pbx)).toBe(8);
    const held = await holding;
    expect(held.ok, describeCall(held)).toBe(true);
    await expectIdle(pbx);
  });
});

describe('media.inactivityTimeoutSeconds', () => {
  const withTimeout = (uasPort: number): Promise<PbxProcess> =>
    pbxFor(uasPort, { media: { inactivityTimeoutSeconds: MEDIA_TIMEOUT_S } });

  it('an answered call with no RTP either way is ended: BYE to both legs, reason media-timeout', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await withTimeout(uasPort);
    // Both sides wait for a BYE: callee-bye-uac (checks its tag in the To) and basic-uas.
    const r = await call(pbx, uasPort, { uac: 'callee-bye', uas: 'basic' });
    expect(r.ok, describeCall(r)).toBe(true);
    expect(countLog(r.uac, /^bye-received to=tag=/)).toBe(1);
    const { event, cdr } = await endedRecords(pbx, callIdOf(r.uac.messages));
    for (const record of [event, cdr]) {
      expect(record).toMatchObject({ endedBy: 'system', reason: 'media-timeout', result: 'answered' });
      expect(record.answerTime).not.toBeNull();
      // The relay samples once a second: ended between the timeout and a little over twice it.
      expect(record.billableSeconds).toBeGreaterThanOrEqual(MEDIA_TIMEOUT_S - 0.2);
      expect(record.billableSeconds).toBeLessThan(2 * MEDIA_TIMEOUT_S + 1);
    }
    await expectIdle(pbx);
  });

  it('a call on hold (a=inactive offer and answer) is not ended in 3x the timeout', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await withTimeout(uasPort);
    const r = await call(pbx, uasPort, {
      uac: 'inactive',
      uas: 'inactive',
      pauseMs: 3000 * MEDIA_TIMEOUT_S,
    });
    // A BYE from the pbx during the caller's pause is an unexpected message: the caller's run would fail.
    expect(r.ok, describeCall(r)).toBe(true);
    expect(countLog(r.uac, /^direction answer a=inactive/)).toBe(1);
    expect(countLog(r.uas, /^direction offer a=inactive/)).toBe(1);
    const { event } = await endedRecords(pbx, callIdOf(r.uac.messages));
    expect({ endedBy: event.endedBy, result: event.result }).toEqual({
      endedBy: 'caller',
      result: 'answered',
    });
    expect(event.billableSeconds).toBeGreaterThanOrEqual(2.8 * MEDIA_TIMEOUT_S);
    await expectIdle(pbx);
  });

  it('a ringing call (not answered yet) is not ended by the media timeout', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await withTimeout(uasPort);
    // The caller CANCELs after 2.5x the timeout of ringing without early media.
    const r = await call(pbx, uasPort, { uac: 'cancel', uas: 'cancel', pauseMs: 2500 * MEDIA_TIMEOUT_S });
    const { event } = await endedRecords(pbx, callIdOf(r.uac.messages));
    expect(r.ok, `${JSON.stringify(event)}\n${describeCall(r)}`).toBe(true);
    expect(countLog(r.uac, /^final 487 INVITE/)).toBe(1);
    expect({ result: event.result, endedBy: event.endedBy }).toEqual({
      result: 'cancelled',
      endedBy: 'caller',
    });
    await expectIdle(pbx);
  });
});
