// Call events over webhooks, end to end (issue 5, CONTRACTS.md "Call events and CDR", docs/events.md): the real pbx
// between SIPp peers POSTs call.started / call.answered / call.ended to a real node:http receiver: every event of a
// 100-call run with the contract fields and a valid signature; retries after 500s; nothing lost while the
// receiver is down (spool), nor across a SIGKILL of the pbx.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeCall, pollWhileRunning, routeAllTo, runCall } from './harness/calls.js';
import type { CallResult } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { LogLine, PbxProcess } from './harness/pbx.js';
import { closeAllReceivers, failFirstAttempts, signatureValid, startReceiver } from './harness/receiver.js';
import type { ReceivedRequest, Receiver } from './harness/receiver.js';
import { freeLocalPort } from './harness/sipp.js';

const SECRET = 's3cr3t';
const TYPES = ['call.started', 'call.answered', 'call.ended'] as const;
const tempDirs: string[] = [];

afterEach(async () => {
  await stopAllPbx();
  await closeAllReceivers();
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** An event as the receiver got it (the fields the tests read). */
interface Ev {
  type: string;
  id: string;
  timestamp: string;
  callId: string;
  legs: {
    a: { callId: string; from: string; to: string; source: string };
    b: { callId: string; target: string };
  };
  startTime?: string;
  answerTime?: string | null;
  endTime?: string;
  durationSeconds?: number;
  billableSeconds?: number;
  result?: string;
  sipCode?: number;
  endedBy?: string;
  reason?: string;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sippbx-events-'));
  tempDirs.push(dir);
  return dir;
}

async function pbxWithWebhook(
  uasPort: number,
  url: string,
  events: Record<string, unknown> = {},
  timeoutMs = 2000,
): Promise<PbxProcess> {
  return startPbx(
    routeAllTo(uasPort, {
      limits: { invitesPerSecondPerIp: 10_000 },
      // maxAttempts high enough that a receiver down for a few seconds never dead-letters (backoff is 1 s x 2^n).
      events: { webhooks: [{ url, secret: SECRET, maxAttempts: 30, timeoutMs }], ...events },
    }),
  );
}

/** A bounded poll of a condition the pbx reaches by itself; fails early when the SIPp run ends first. */
async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  running?: Promise<CallResult>,
): Promise<void> {
  const reached = await pollWhileRunning(
    async () => check(),
    (ok) => ok,
    { timeoutMs, what, running },
  );
  if (!reached) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function loadRun(pbx: PbxProcess, uasPort: number, calls: number): Promise<CallResult> {
  return runCall({
    uac: 'uac-load',
    uas: 'uas-load',
    pbx,
    uasPort,
    calls,
    rate: 100,
    pauseMs: 200,
    timeoutS: 30,
  });
}

/** The Call-IDs in one SIPp side's -trace_msg log. */
function sippCallIds(messages: string): Set<string> {
  return new Set([...messages.matchAll(/^Call-ID:\s*(\S+)/gim)].map((m) => m[1] ?? ''));
}

/** The call events the pbx logged (docs/events.md "Log lines": msg = type, the event under `event`). */
function loggedEvents(pbx: PbxProcess): Ev[] {
  return pbx
    .logs()
    .filter(
      (l: LogLine) => TYPES.includes(l['msg'] as (typeof TYPES)[number]) && typeof l['event'] === 'object',
    )
    .map((l) => l['event'] as Ev);
}

const delivered = (reqs: readonly ReceivedRequest[]): Set<string> =>
  new Set(reqs.filter((r) => r.status === 200).map((r) => String(r.headers['x-sippbx-delivery'])));

function isIso(value: unknown): boolean {
  return (
    typeof value === 'string' && !Number.isNaN(Date.parse(value)) && new Date(value).toISOString() === value
  );
}

/** Headers and signature of one webhook request, per docs/events.md "Webhooks". */
function checkRequest(r: ReceivedRequest): void {
  const ev = r.json as Ev;
  const where = `request #${r.index}: ${r.rawBody.toString('utf8').slice(0, 300)}`;
  expect(r.method, where).toBe('POST');
  expect(r.url, where).toBe('/hook');
  expect(r.headers['content-type'], where).toMatch(/^application\/json/);
  expect(r.headers['x-sippbx-event'], where).toBe(ev.type);
  expect(r.headers['x-sippbx-delivery'], where).toBe(ev.id);
  expect(r.headers['x-sippbx-attempt'], where).toMatch(/^[1-9]\d*$/);
  expect(signatureValid(SECRET, r.rawBody, r.headers['x-sippbx-signature']), where).toBe(true);
}

/** The three events of one call, with every CONTRACTS.md field, consistent with each other and with SIPp. */
function checkCall(events: Ev[], run: CallResult, holdSeconds: number): void {
  const byType = new Map(events.map((e) => [e.type, e]));
  const where = JSON.stringify(events).slice(0, 1500);
  expect([...byType.keys()].sort(), where).toEqual([...TYPES].sort());
  expect(events, where).toHaveLength(3);
  const [started, answered, ended] = TYPES.map((t) => byType.get(t) as Ev);
  for (const e of [started, answered, ended] as Ev[]) {
    expect(isIso(e.timestamp), where).toBe(true);
    expect(e.legs, where).toEqual(started?.legs);
  }
  const legs = (started as Ev).legs;
  expect(legs.a.from, where).toContain(`sip:caller@127.0.0.1:${run.uac.port}`);
  expect(legs.a.to, where).toContain('sip:bob@');
  expect(legs.a.source, where).toBe(`127.0.0.1:${run.uac.port}`);
  expect(legs.b.target, where).toContain(`127.0.0.1:${run.uasPort}`);
  expect(legs.b.callId, where).not.toBe(legs.a.callId);
  const e = ended as Ev;
  expect(Date.parse((started as Ev).timestamp)).toBeLessThanOrEqual(Date.parse((answered as Ev).timestamp));
  expect(Date.parse((answered as Ev).timestamp)).toBeLessThanOrEqual(Date.parse(e.timestamp));
  for (const f of ['startTime', 'answerTime', 'endTime'] as const)
    expect(isIso(e[f]), `${f}: ${where}`).toBe(true);
  const start = Date.parse(e.startTime ?? '');
  const answer = Date.parse(e.answerTime ?? '');
  const end = Date.parse(e.endTime ?? '');
  expect(e.durationSeconds, where).toBeCloseTo((end - start) / 1000, 2);
  expect(e.billableSeconds, where).toBeCloseTo((end - answer) / 1000, 2);
  expect(Math.abs((e.billableSeconds ?? NaN) - holdSeconds), where).toBeLessThan(0.5);
  expect({ result: e.result, sipCode: e.sipCode, endedBy: e.endedBy }, where).toEqual({
    result: 'answered',
    sipCode: 200,
    endedBy: 'caller',
  });
  expect(typeof e.reason === 'string' && e.reason.length > 0, where).toBe(true);
}

function groupByCall(events: Ev[]): Map<string, Ev[]> {
  const calls = new Map<string, Ev[]>();
  for (const e of events) calls.set(e.callId, [...(calls.get(e.callId) ?? []), e]);
  return calls;
}

async function webhookCount(pbx: PbxProcess, result: string): Promise<number> {
  return pbx.metricValue('sippbx_webhook_deliveries_total', { result });
}

describe('webhooks of call events', () => {
  it('a 100-call run: call.started, call.answered and call.ended for every call, signed, with the contract fields', async () => {
    const receiver = await startReceiver();
    const uasPort = await freeLocalPort();
    const pbx = await pbxWithWebhook(uasPort, receiver.url);
    const run = await loadRun(pbx, uasPort, 100);
    expect(run.ok, describeCall(run)).toBe(true);

    await receiver.waitFor((reqs) => delivered(reqs).size >= 300, 20_000, '300 events delivered');
    await eventually(async () => (await webhookCount(pbx, 'delivered')) === 300, 5_000, 'delivered = 300');
    const reqs = receiver.requests();
    expect(reqs).toHaveLength(300); // a 200 every time: no retry, no duplicate
    reqs.forEach(checkRequest);
    for (const r of reqs) expect(r.headers['x-sippbx-attempt']).toBe('1');
    const events = reqs.map((r) => r.json as Ev);
    expect(new Set(events.map((e) => e.id)).size).toBe(300);

    const calls = groupByCall(events);
    expect(calls.size).toBe(100);
    for (const callEvents of calls.values()) checkCall(callEvents, run, 0.2);
    // The legs' Call-IDs are the ones SIPp used: the caller's on the A-leg, the callee's on the B-leg.
    const started = events.filter((e) => e.type === 'call.started');
    expect(new Set(started.map((e) => e.legs.a.callId))).toEqual(sippCallIds(run.uac.messages));
    expect(new Set(started.map((e) => e.legs.b.callId))).toEqual(sippCallIds(run.uas.messages));
    expect(await webhookCount(pbx, 'retry')).toBe(0);
  }, 60_000);

  it('a receiver answering 500 twice gets each event again, and exactly one more time after the retries', async () => {
    const receiver = await startReceiver({ answer: failFirstAttempts(2, 500) });
    const uasPort = await freeLocalPort();
    const pbx = await pbxWithWebhook(uasPort, receiver.url);
    const run = await loadRun(pbx, uasPort, 3);
    expect(run.ok, describeCall(run)).toBe(true);

    // Backoff: [0, 1 s) after the first attempt, [0, 2 s) after the second.
    await receiver.waitFor((reqs) => delivered(reqs).size >= 9, 20_000, '9 events delivered');
    await eventually(
      async () => (await webhookCount(pbx, 'delivered')) === 9 && (await webhookCount(pbx, 'retry')) === 18,
      5_000,
      'delivered = 9 and retry = 18',
    );
    const reqs = receiver.requests();
    reqs.forEach(checkRequest);
    const byId = new Map<string, ReceivedRequest[]>();
    for (const r of reqs) {
      const id = String(r.headers['x-sippbx-delivery']);
      byId.set(id, [...(byId.get(id) ?? []), r]);
    }
    expect(byId.size).toBe(9);
    for (const [id, attempts] of byId) {
      const seen = attempts.map((a) => `${String(a.headers['x-sippbx-attempt'])}:${a.status}`);
      expect(seen, id).toEqual(['1:500', '2:500', '3:200']);
      // The same event, byte for byte, on every attempt.
      for (const a of attempts)
        expect(a.rawBody.equals(attempts[0]?.rawBody ?? Buffer.alloc(0)), id).toBe(true);
    }
    expect(reqs).toHaveLength(27);
    expect(await webhookCount(pbx, 'dead-letter')).toBe(0);
    expect(await webhookCount(pbx, 'failed')).toBe(0);
  }, 60_000);

  it('the receiver down during a 100-call run, then up: all 300 events are delivered (spool)', async () => {
    const hookPort = await freeLocalPort(); // nothing listens here yet: connection refused
    const uasPort = await freeLocalPort();
    const spoolDir = await tempDir();
    const pbx = await pbxWithWebhook(uasPort, `http://127.0.0.1:${hookPort}/hook`, { spoolDir });
    const running = loadRun(pbx, uasPort, 100);
    // Every call over and every event refused at least once while the receiver is down.
    await eventually(
      async () =>
        (await pbx.metricValue('sippbx_calls_total', { result: 'answered' })) === 100 &&
        (await webhookCount(pbx, 'retry')) >= 300,
      30_000,
      '100 calls answered and ended, 300 failed first attempts',
      running,
    );
    expect(await webhookCount(pbx, 'delivered')).toBe(0);
    const receiver: Receiver = await startReceiver({ port: hookPort });

    const run = await running;
    expect(run.ok, describeCall(run)).toBe(true);
    const logged = loggedEvents(pbx);
    expect(logged).toHaveLength(300);
    await receiver.waitFor((reqs) => delivered(reqs).size >= 300, 45_000, 'all 300 events delivered');
    const reqs = receiver.requests();
    reqs.forEach(checkRequest);
    expect(delivered(reqs)).toEqual(new Set(logged.map((e) => e.id)));
    const calls = groupByCall(reqs.filter((r) => r.status === 200).map((r) => r.json as Ev));
    expect(calls.size).toBe(100);
    for (const callEvents of calls.values()) {
      expect(new Set(callEvents.map((e) => e.type))).toEqual(new Set(TYPES));
    }
    expect(await webhookCount(pbx, 'dead-letter')).toBe(0);
  }, 90_000);

  it('the pbx SIGKILLed with events pending, restarted on the same spool: every event is delivered', async () => {
    const hookPort = await freeLocalPort();
    const uasPort = await freeLocalPort();
    const spoolDir = await tempDir();
    const url = `http://127.0.0.1:${hookPort}/hook`;
    const first = await pbxWithWebhook(uasPort, url, { spoolDir });
    const running = loadRun(first, uasPort, 20);
    // Every call over and every event refused at least once: all 60 are pending (spooled, not delivered).
    await eventually(
      async () =>
        (await first.metricValue('sippbx_calls_total', { result: 'answered' })) === 20 &&
        (await webhookCount(first, 'retry')) >= 60 &&
        loggedEvents(first).length === 60, // the log lines may trail the metrics a little
      15_000,
      '20 calls ended and 60 failed first attempts',
      running,
    );
    const logged = loggedEvents(first);
    expect(logged).toHaveLength(60);
    const spooled = await readFile(join(spoolDir, 'spool-0.jsonl'), 'utf8');
    for (const e of logged) expect(spooled, `event ${e.id} in the spool`).toContain(`"id":"${e.id}"`);
    expect(await first.stop('SIGKILL')).toBe(137);
    const run = await running; // the callee only lingers in its timewait by now
    expect(run.ok, describeCall(run)).toBe(true);

    const receiver = await startReceiver({ port: hookPort });
    const second = await pbxWithWebhook(uasPort, url, { spoolDir });
    await receiver.waitFor((reqs) => delivered(reqs).size >= 60, 30_000, 'the 60 spooled events delivered');
    const reqs = receiver.requests();
    reqs.forEach(checkRequest);
    // None lost; duplicates would carry the same id and the same event.
    expect(delivered(reqs)).toEqual(new Set(logged.map((e) => e.id)));
    const byId = new Map(logged.map((e) => [e.id, e]));
    for (const r of reqs)
      expect(r.json, `delivery ${String(r.headers['x-sippbx-delivery'])}`).toEqual(
        byId.get((r.json as Ev).id),
      );
    // The attempt counts survive the restart: every event had failed once before the kill.
    for (const r of reqs) expect(Number(r.headers['x-sippbx-attempt'])).toBeGreaterThanOrEqual(2);
    expect(await webhookCount(second, 'dead-letter')).toBe(0);
  }, 60_000);

  it('the pbx SIGKILLed with deliveries in flight (receiver hanging), restarted: every event is delivered', async () => {
    // The receiver takes every request and never answers in time: 4 deliveries in flight, the rest queued.
    const receiver = await startReceiver({ answer: () => ({ status: 503, delayMs: 60_000 }) });
    const uasPort = await freeLocalPort();
    const spoolDir = await tempDir();
    const hook = { spoolDir };
    const first = await pbxWithWebhook(uasPort, receiver.url, hook, 30_000);
    const running = loadRun(first, uasPort, 5);
    await eventually(
      async () =>
        (await first.metricValue('sippbx_calls_total', { result: 'answered' })) === 5 &&
        receiver.requests().length >= 4 &&
        loggedEvents(first).length === 15,
      15_000,
      '5 calls ended and 4 deliveries in flight',
      running,
    );
    const logged = loggedEvents(first);
    expect(logged).toHaveLength(15);
    const inFlight = new Set(receiver.requests().map((r) => String(r.headers['x-sippbx-delivery'])));
    expect(await webhookCount(first, 'delivered')).toBe(0);
    expect(await first.stop('SIGKILL')).toBe(137);
    const run = await running;
    expect(run.ok, describeCall(run)).toBe(true);

    receiver.answer(() => 200);
    const second = await pbxWithWebhook(uasPort, receiver.url, hook, 30_000);
    await receiver.waitFor((reqs) => delivered(reqs).size >= 15, 30_000, 'the 15 events delivered');
    const reqs = receiver.requests();
    reqs.forEach(checkRequest);
    expect(delivered(reqs)).toEqual(new Set(logged.map((e) => e.id)));
    // The deliveries cut off by the kill came again, the same event under the same id.
    for (const id of inFlight) {
      const copies = reqs.filter((r) => r.headers['x-sippbx-delivery'] === id);
      expect(copies.length, id).toBeGreaterThanOrEqual(2);
      for (const c of copies) expect(c.rawBody.equals(copies[0]?.rawBody ?? Buffer.alloc(0)), id).toBe(true);
    }
    expect(await webhookCount(second, 'dead-letter')).toBe(0);
  }, 60_000);
});
