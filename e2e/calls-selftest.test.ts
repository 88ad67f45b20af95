// Self-test of the call scenario library (e2e/scenarios/call): every caller scenario runs straight against its callee
// scenario, without the pbx, over UDP and TCP. That is exactly what a transparent B2BUA must look like from both ends,
// so these pairs are known-good SIP before the pbx tests use them. Where the pbx itself produces the final answer
// (no-answer timer, 404, 483, 503, registrar) a SELF-TEST ONLY callee stands in for it; where it ends a callee's
// call itself (a refused late offer: ACK and BYE), a SELF-TEST ONLY caller does.
import { describe, it } from 'vitest';
import type { ExpectStatic } from 'vitest';
import { countLog, describeCall, runCall } from './harness/calls.js';
import type { CallResult, CallTransport, RunCallOptions } from './harness/calls.js';

const PAUSE_MS = 200;

async function pair(
  expect: ExpectStatic,
  o: Omit<RunCallOptions, 'pauseMs' | 'timeoutS'> & { timeoutS?: number },
): Promise<CallResult> {
  const result = await runCall({ pauseMs: PAUSE_MS, timeoutS: 10, ...o });
  const calls = o.calls ?? 1;
  expect(result.ok, describeCall(result)).toBe(true);
  expect(result.uac.stats?.successful, describeCall(result)).toBe(calls);
  expect(result.uas.stats?.successful, describeCall(result)).toBe(o.uas === 'register' ? 1 : calls);
  return result;
}

/** Both sides saw an SDP offer/answer with a c= address and an m= port (here: each other's, 127.0.0.1). */
function expectAnsweredSdp(expect: ExpectStatic, r: CallResult): void {
  const offer = r.uas.sdp.find((s) => s.where === 'invite');
  const answer = r.uac.sdp.find((s) => s.where === '200-invite');
  expect(offer, describeCall(r)).toMatchObject({ ip: '127.0.0.1' });
  expect(answer, describeCall(r)).toMatchObject({ ip: '127.0.0.1' });
  expect(offer?.port).toBeGreaterThan(0);
  expect(answer?.port).toBeGreaterThan(0);
}

describe.each([
  ['UDP', 'u1'],
  ['TCP', 't1'],
] as const)('call scenarios, UAC straight to UAS over %s', (_name, transport: CallTransport) => {
  it.concurrent('basic: caller hangs up', async ({ expect }) => {
    const r = await pair(expect, { uac: 'basic', uas: 'basic', transport });
    expectAnsweredSdp(expect, r);
  });

  it.concurrent('callee-bye: callee hangs up', async ({ expect }) => {
    const r = await pair(expect, { uac: 'callee-bye', uas: 'callee-bye', transport });
    expectAnsweredSdp(expect, r);
    expect(countLog(r.uac, /^bye-received to=tag=/)).toBe(1);
  });

  it.concurrent('busy: 486 is ACKed in the INVITE transaction', async ({ expect }) => {
    const r = await pair(expect, { uac: 'busy', uas: 'busy', transport });
    expect(countLog(r.uac, /^final 486/)).toBe(1);
  });

  it.concurrent('cancel: CANCEL while ringing -> 200 + 487, ACK', async ({ expect }) => {
    const r = await pair(expect, { uac: 'cancel', uas: 'cancel', transport });
    expect(countLog(r.uac, /^final 487 INVITE/)).toBe(1);
    expect(countLog(r.uas, /^cancel-received/)).toBe(1);
  });

  it.concurrent('noanswer-uas handles the CANCEL a no-answer timer sends', async ({ expect }) => {
    await pair(expect, { uac: 'cancel', uas: 'noanswer', transport });
  });

  it.concurrent(
    'noanswer-uac accepts a 408 (noanswer-timeout-uas stands in for the pbx timer)',
    async ({ expect }) => {
      const r = await pair(expect, { uac: 'noanswer', uas: 'noanswer-timeout', transport });
      expect(countLog(r.uac, /^final 408/)).toBe(1);
    },
  );

  it.concurrent('reinvite-hold: sendonly/recvonly then sendrecv', async ({ expect }) => {
    const r = await pair(expect, { uac: 'reinvite-hold', uas: 'reinvite-hold', transport });
    expectAnsweredSdp(expect, r);
    expect(r.uac.sdp.map((s) => s.where)).toEqual(['200-invite', '200-hold', '200-unhold']);
    expect(r.uas.sdp.map((s) => s.where)).toEqual(['invite', 'reinvite-hold', 'reinvite-unhold']);
    expect(countLog(r.uac, /^direction hold a=recvonly/)).toBe(1);
    expect(countLog(r.uas, /^direction hold a=sendonly/)).toBe(1);
  });

  it.concurrent('update: UPDATE with a new SDP -> 200 with SDP', async ({ expect }) => {
    const r = await pair(expect, { uac: 'update', uas: 'update', transport });
    expectAnsweredSdp(expect, r);
    const offer = r.uas.sdp.find((s) => s.where === 'invite');
    const updated = r.uas.sdp.find((s) => s.where === 'update');
    expect(updated?.port).toBe((offer?.port ?? 0) + 2);
    expect(r.uac.sdp.some((s) => s.where === '200-update')).toBe(true);
  });

  it.concurrent('prack: reliable 180, PRACK with RAck, 200 PRACK, 200 INVITE', async ({ expect }) => {
    const r = await pair(expect, { uac: 'prack', uas: 'prack', transport });
    expectAnsweredSdp(expect, r);
    expect(countLog(r.uac, /^reliable-180 require=100rel rseq=1 cseq=1/)).toBe(1);
    expect(countLog(r.uas, /^prack rack-cseq=1/)).toBe(1);
  });

  it.concurrent('nosdp: a call without any SDP', async ({ expect }) => {
    const r = await pair(expect, { uac: 'nosdp', uas: 'nosdp', transport });
    expect(countLog(r.uas, /^body invite content-length=0 /)).toBe(1);
    expect(countLog(r.uac, /^body 200-invite content-length=0 /)).toBe(1);
    expect([...r.uac.sdp, ...r.uas.sdp]).toEqual([]);
  });

  it.concurrent('late-offer: INVITE without SDP, offer in the 200, answer in the ACK', async ({ expect }) => {
    const r = await pair(expect, { uac: 'late-offer', uas: 'late-offer', transport });
    expect(countLog(r.uas, /^body invite content-length=0 /)).toBe(1);
    expect(r.uac.sdp.map((s) => [s.where, s.ip])).toEqual([['200-invite', '127.0.0.1']]);
    expect(r.uas.sdp.map((s) => [s.where, s.ip])).toEqual([['ack', '127.0.0.1']]);
    for (const s of [...r.uac.sdp, ...r.uas.sdp]) expect(s.port).toBeGreaterThan(0);
  });

  it.concurrent(
    'late-offer-refused-uac: 503 with Retry-After ACKed (reject-503-nosdp-selftest-uas stands in for the pbx)',
    async ({ expect }) => {
      const r = await pair(expect, {
        uac: 'late-offer-refused',
        uas: 'reject-503-nosdp-selftest',
        transport,
      });
      expect(countLog(r.uac, /^final 503 retry-after=1$/)).toBe(1);
    },
  );

  it.concurrent(
    'late-offer-refused-uas: ACK and BYE after its offer (late-offer-refused-selftest-uac stands in for the pbx)',
    async ({ expect }) => {
      const r = await pair(expect, {
        uac: 'late-offer-refused-selftest',
        uas: 'late-offer-refused',
        transport,
      });
      expect(countLog(r.uas, /^ack content-length=0$/)).toBe(1);
      expect(countLog(r.uas, /^bye-received/)).toBe(1);
    },
  );

  it.concurrent('inactive: a=inactive offer and answer', async ({ expect }) => {
    const r = await pair(expect, { uac: 'inactive', uas: 'inactive', transport });
    expectAnsweredSdp(expect, r);
    expect(countLog(r.uac, /^direction answer a=inactive/)).toBe(1);
    expect(countLog(r.uas, /^direction offer a=inactive/)).toBe(1);
  });

  it.concurrent('unknown-user: 404 ACKed', async ({ expect }) => {
    const r = await pair(expect, {
      uac: 'unknown-user',
      uas: 'unknown-user-selftest',
      transport,
      service: 'nosuchuser',
    });
    expect(countLog(r.uac, /^final 404/)).toBe(1);
  });

  it.concurrent('max-forwards-zero: INVITE with Max-Forwards: 0 -> 483 ACKed', async ({ expect }) => {
    const r = await pair(expect, { uac: 'max-forwards-zero', uas: 'max-forwards-zero-selftest', transport });
    expect(countLog(r.uac, /^final 483/)).toBe(1);
  });

  it.concurrent('load pair: 50 calls at 50/s', async ({ expect }) => {
    const r = await pair(expect, { uac: 'uac-load', uas: 'uas-load', transport, calls: 50, rate: 50 });
    expect(r.uac.sdp).toHaveLength(50);
    expect(r.uas.sdp).toHaveLength(50);
  });

  it.concurrent('flood-uac: answered calls', async ({ expect }) => {
    const r = await pair(expect, { uac: 'flood', uas: 'uas-load', transport, calls: 10, rate: 50 });
    expect(countLog(r.uac, /^result 200/)).toBe(10);
  });

  it.concurrent('flood-uac: 503 with Retry-After, ACKed', async ({ expect }) => {
    const r = await pair(expect, {
      uac: 'flood',
      uas: 'reject-503-selftest',
      transport,
      calls: 10,
      rate: 50,
    });
    expect(countLog(r.uac, /^result 503 retry-after=1/)).toBe(10);
  });
});

describe.each([
  ['UDP', 'u1', 'UDP'],
  ['TCP', 't1', 'TCP'],
] as const)(
  'register + invite-registered, UAC straight to the registered UA over %s',
  (_name, transport, upper) => {
    it('registers (registrar-selftest-uas stands in for the pbx), takes the call, unregisters', async ({
      expect,
    }) => {
      const r = await pair(expect, { uac: 'invite-registered', uas: 'register', transport });
      expectAnsweredSdp(expect, r);
      expect(r.registrar?.exitCode, describeCall(r)).toBe(0);
      expect(r.uas.logLines.filter((l) => /^(registered|incoming-done|unregistered)/.test(l))).toEqual([
        expect.stringMatching(
          new RegExp(`^registered <sip:bob@127\\.0\\.0\\.1:${r.uasPort};transport=${upper}>`),
        ),
        'incoming-done',
        'unregistered',
      ]);
    });
  },
);
