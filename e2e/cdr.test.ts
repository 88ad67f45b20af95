// CDRs of the real pbx process (issue 5, CONTRACTS.md "Call events and CDR", docs/events.md "CDR file"): a mixed
// SIPp run (answered, busy, cancelled while ringing, rejected as unroutable) leaves exactly one valid JSON line per
// call attempt in `events.cdr.path`, with the right result and SIP code, and durations matching the SIPp timings.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CALL_SCENARIOS, describeCall, runCall } from './harness/calls.js';
import type { CallResult } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import { describeSipp, freeLocalPort, runSipp } from './harness/sipp.js';
import type { SippResult } from './harness/sipp.js';

let dir: string | undefined;

afterAll(async () => {
  await stopAllPbx();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** docs/events.md "CDR file": the fields, in this order. */
const CDR_FIELDS = [
  'callId',
  'legs',
  'startTime',
  'answerTime',
  'endTime',
  'durationSeconds',
  'billableSeconds',
  'result',
  'sipCode',
  'endedBy',
  'reason',
];

interface Cdr {
  callId: string;
  legs: {
    a: { callId: string; from: string; to: string; source: string };
    b: { callId: string; target: string };
  };
  startTime: string;
  answerTime: string | null;
  endTime: string;
  durationSeconds: number;
  billableSeconds: number;
  result: string;
  sipCode: number;
  endedBy: string;
  reason: string;
}

/** One group of the mixed run: how it is placed and what its CDRs must say. */
interface Group {
  user: string;
  calls: number;
  /** `-d`: hold time (answered) or ring time before CANCEL (cancelled). */
  pauseMs: number;
  expect: { result: string; sipCode: number; endedBy: string; answered: boolean; seconds: number };
}

const GROUPS: Record<'answered' | 'busy' | 'cancelled' | 'rejected', Group> = {
  answered: {
    user: 'ans-1',
    calls: 5,
    pauseMs: 1500,
    expect: { result: 'answered', sipCode: 200, endedBy: 'caller', answered: true, seconds: 1.5 },
  },
  busy: {
    user: 'busy-1',
    calls: 3,
    pauseMs: 200,
    expect: { result: 'busy', sipCode: 486, endedBy: 'callee', answered: false, seconds: 0 },
  },
  cancelled: {
    user: 'cancel-1',
    calls: 3,
    pauseMs: 700,
    expect: { result: 'cancelled', sipCode: 487, endedBy: 'caller', answered: false, seconds: 0.7 },
  },
  rejected: {
    user: 'nosuchuser',
    calls: 3,
    pauseMs: 0,
    expect: { result: 'rejected', sipCode: 404, endedBy: 'system', answered: false, seconds: 0 },
  },
};

/** The Call-IDs in one SIPp side's -trace_msg log. */
function sippCallIds(messages: string): Set<string> {
  return new Set([...messages.matchAll(/^Call-ID:\s*(\S+)/gim)].map((m) => m[1] ?? ''));
}

/** SIPp's average call length (`CallLength(C)` of -trace_stat, `hh:mm:ss:micros`) in seconds. */
function sippCallLength(side: SippResult): number {
  const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(side.stats?.columns['CallLength'] ?? '');
  if (m === null) return NaN;
  const [h, min, s, us] = m.slice(1).map(Number) as [number, number, number, number];
  return h * 3600 + min * 60 + s + us / 1e6;
}

function isIso(value: unknown): boolean {
  return typeof value === 'string' && new Date(value).toISOString() === value;
}

describe('CDR file', () => {
  it('a mixed run: one valid JSON line per call attempt, results, SIP codes and durations right', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sippbx-cdr-'));
    const cdrPath = join(dir, 'cdr', 'cdr.jsonl'); // the folder does not exist yet: the pbx creates it
    const ports = {
      answered: await freeLocalPort(),
      busy: await freeLocalPort(),
      cancelled: await freeLocalPort(),
    };
    const pbx = await startPbx({
      limits: { invitesPerSecondPerIp: 10_000 },
      events: { cdr: { path: cdrPath }, webhooks: [] },
      routing: {
        // Routes by user; anything else (nosuchuser) matches none: 404.
        routes: [
          { match: '^ans-', target: `sip:127.0.0.1:${ports.answered}` },
          { match: '^busy-', target: `sip:127.0.0.1:${ports.busy}` },
          { match: '^cancel-', target: `sip:127.0.0.1:${ports.cancelled}` },
        ],
      },
    });
    const pair = (name: 'basic' | 'busy' | 'cancel', g: Group, uasPort: number): Promise<CallResult> =>
      runCall({
        uac: name,
        uas: name,
        pbx,
        uasPort,
        service: g.user,
        calls: g.calls,
        rate: 20,
        pauseMs: g.pauseMs,
      });
    const [answered, busy, cancelled, rejected] = await Promise.all([
      pair('basic', GROUPS.answered, ports.answered),
      pair('busy', GROUPS.busy, ports.busy),
      pair('cancel', GROUPS.cancelled, ports.cancelled),
      runSipp({
        scenario: join(CALL_SCENARIOS, 'unknown-user-uac.xml'),
        target: `127.0.0.1:${pbx.sipPort}`,
        transport: 'u1',
        service: GROUPS.rejected.user,
        calls: GROUPS.rejected.calls,
        rate: 20,
        timeoutS: 15,
      }),
    ]);
    for (const r of [answered, busy, cancelled]) expect(r.ok, describeCall(r)).toBe(true);
    expect(rejected.exitCode, describeSipp(rejected)).toBe(0);

    // A graceful stop fsyncs and closes the CDR file; every line must be there afterwards.
    expect(await pbx.stop('SIGTERM', 10_000)).toBe(0);
    const lines = (await readFile(cdrPath, 'utf8')).split('\n');
    expect(lines.pop()).toBe(''); // ends with a newline, no partial line
    const total = Object.values(GROUPS).reduce((n, g) => n + g.calls, 0);
    expect(lines).toHaveLength(total);
    const cdrs = lines.map((line) => {
      const parsed = JSON.parse(line) as Cdr;
      expect(Object.keys(parsed), line).toEqual(CDR_FIELDS);
      return parsed;
    });
    expect(new Set(cdrs.map((c) => c.callId)).size).toBe(total);
    // The CDR log lines say the same.
    expect(pbx.logs().filter((l) => l['msg'] === 'cdr')).toHaveLength(total);

    const sides: Record<keyof typeof GROUPS, SippResult> = {
      answered: answered.uac,
      busy: busy.uac,
      cancelled: cancelled.uac,
      rejected,
    };
    for (const [name, g] of Object.entries(GROUPS) as [keyof typeof GROUPS, Group][]) {
      const ids = sippCallIds(sides[name].messages);
      expect(ids.size, name).toBe(g.calls);
      const mine = cdrs.filter((c) => ids.has(c.legs.a.callId));
      expect(mine, `${name}: one CDR per SIPp call`).toHaveLength(g.calls);
      for (const c of mine) {
        const where = `${name}: ${JSON.stringify(c)}`;
        expect({ result: c.result, sipCode: c.sipCode, endedBy: c.endedBy }, where).toEqual({
          result: g.expect.result,
          sipCode: g.expect.sipCode,
          endedBy: g.expect.endedBy,
        });
        expect(typeof c.reason === 'string' && c.reason !== '', where).toBe(true);
        expect(isIso(c.startTime) && isIso(c.endTime), where).toBe(true);
        expect(c.legs.a.to, where).toContain(`sip:${g.user}@`);
        const start = Date.parse(c.startTime);
        const end = Date.parse(c.endTime);
        expect(c.durationSeconds, where).toBeCloseTo((end - start) / 1000, 2);
        if (g.expect.answered) {
          expect(isIso(c.answerTime), where).toBe(true);
          expect(c.billableSeconds, where).toBeCloseTo((end - Date.parse(c.answerTime ?? '')) / 1000, 2);
          expect(Math.abs(c.billableSeconds - g.expect.seconds), where).toBeLessThan(0.5);
        } else {
          expect(c.answerTime, where).toBeNull();
          expect(c.billableSeconds, where).toBe(0);
        }
        // Answered: the hold time; cancelled: the ring time before the CANCEL; busy, rejected: at once.
        expect(Math.abs(c.durationSeconds - g.expect.seconds), where).toBeLessThan(0.5);
      }
      // And as SIPp timed them: the pbx's average duration is the caller's average call length.
      const mean = mine.reduce((sum, c) => sum + c.durationSeconds, 0) / mine.length;
      expect(Math.abs(mean - sippCallLength(sides[name])), `${name}: mean ${mean}`).toBeLessThan(0.3);
    }
    expect(cdrs.filter((c) => c.result === 'rejected').every((c) => c.reason === '404 Not Found')).toBe(true);
  }, 60_000);
});
