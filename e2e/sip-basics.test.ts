// Whole-system SIP basics: the real pbx process driven by real SIPp over UDP and TCP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PbxStartError, startPbx, stopAllPbx } from './harness/pbx.js';
import type { PbxProcess } from './harness/pbx.js';
import { UdpSipClient, buildRequest } from './harness/sip-client.js';
import { describeSipp, runSipp } from './harness/sipp.js';
import type { SippOptions, SippResult } from './harness/sipp.js';

let pbx: PbxProcess;

beforeAll(async () => {
  // INVITEs from SIPp all come from 127.0.0.1; lift the per-IP INVITE limit so it cannot turn 404s into 503s.
  // No static routes: an INVITE to an unregistered user has nowhere to go.
  pbx = await startPbx({ limits: { invitesPerSecondPerIp: 1000 }, routing: { routes: [] } });
});

afterAll(stopAllPbx);

/** Runs a scenario against the shared pbx and requires every call to succeed. */
async function sippOk(
  scenario: string,
  transport: 'u1' | 't1',
  calls: number,
  extra: Partial<SippOptions> = {},
): Promise<SippResult> {
  const result = await runSipp({
    scenario,
    target: `127.0.0.1:${pbx.sipPort}`,
    transport,
    calls,
    rate: 100,
    timeoutS: 15,
    ...extra,
  });
  expect(result.exitCode, describeSipp(result)).toBe(0);
  expect(result.stats?.successful, describeSipp(result)).toBe(calls);
  expect(result.stats?.failed, describeSipp(result)).toBe(0);
  return result;
}

describe.each([
  ['UDP', 'u1'],
  ['TCP', 't1'],
] as const)('over %s', (_name, transport) => {
  it('OPTIONS gets 200 with an Allow header (10 calls)', async () => {
    const before = await pbx.metricValue('sippbx_sip_requests_total', { method: 'OPTIONS' });
    await sippOk('e2e/scenarios/options.xml', transport, 10);
    expect(await pbx.metricValue('sippbx_sip_requests_total', { method: 'OPTIONS' })).toBe(before + 10);
  });

  it('REGISTER gets 200 echoing the Contact with its expires (10 calls)', async () => {
    const before = await pbx.metricValue('sippbx_sip_requests_total', { method: 'REGISTER' });
    await sippOk('e2e/scenarios/register.xml', transport, 10);
    expect(await pbx.metricValue('sippbx_sip_requests_total', { method: 'REGISTER' })).toBe(before + 10);
  });

  it('MESSAGE gets 501 Not Implemented', async () => {
    const before = await pbx.metricValue('sippbx_sip_responses_total', { code: '501' });
    await sippOk('e2e/scenarios/message-501.xml', transport, 5);
    expect(await pbx.metricValue('sippbx_sip_responses_total', { code: '501' })).toBeGreaterThanOrEqual(
      before + 5,
    );
  });

  it('INVITE to an unknown user gets 404 and the ACK completes the INVITE transaction', async () => {
    await sippOk('e2e/scenarios/invite-404.xml', transport, 5);
  });
});

describe('retransmissions (UDP)', () => {
  it('a retransmitted OPTIONS gets the identical response and counts as one request', async () => {
    const labels = { method: 'OPTIONS' };
    const before = await pbx.metricValue('sippbx_sip_requests_total', labels);
    // -nr: see the comment in options-retransmit.xml (SIPp would otherwise resend the copy in a loop).
    await sippOk('e2e/scenarios/options-retransmit.xml', 'u1', 10, { extraArgs: ['-nr'] });
    // 20 datagrams, 10 transactions: the copies are absorbed by the transaction layer (RFC 3261 §17.2.2).
    expect(await pbx.metricValue('sippbx_sip_requests_total', labels)).toBe(before + 10);
  });

  it('answers a retransmission with byte-identical bytes', async () => {
    const client = await UdpSipClient.open();
    try {
      const branch = `z9hG4bK-bytes-${process.pid}`;
      const request = buildRequest({
        method: 'OPTIONS',
        target: { host: '127.0.0.1', port: pbx.sipPort },
        local: client.local,
        transport: 'UDP',
        branch,
        callId: `bytes-${process.pid}@e2e`,
      });
      const first = await client.request(request, branch, pbx.sipPort);
      const second = await client.request(request, branch, pbx.sipPort);
      expect(first.status).toBe(200);
      expect(first.toTag).not.toBe('');
      expect(second.raw).toBe(first.raw);
    } finally {
      await client.close();
    }
  });
});

describe('process lifecycle', () => {
  it('exits non-zero on a bad config and names the offending key on stderr', async () => {
    const error: unknown = await startPbx({ media: { portRange: { start: 10001, end: 20000 } } }).then(
      (p) => p,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PbxStartError);
    const failure = error as PbxStartError;
    expect(failure.exitCode).not.toBe(0);
    expect(failure.exitCode).not.toBeNull();
    expect(failure.stderr).toContain('media.portRange.start');
  });

  it('exits 0 on SIGTERM', async () => {
    const other = await startPbx();
    expect(await other.stop('SIGTERM')).toBe(0);
  });
});
