// Reliability of calls through the pbx (issue 4): retransmissions under packet loss, concurrent calls with media
// and the 100 Trying delay, and the per-source INVITE rate limit under a flood. The real pbx between SIPp peers.
import { afterEach, describe, expect, it } from 'vitest';
import { countLog, describeCall, routeAllTo, runCall } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { PbxProcess } from './harness/pbx.js';
import { freeLocalPort } from './harness/sipp.js';

afterEach(stopAllPbx);

async function pbxRoutingTo(uasPort: number, extra: Record<string, unknown> = {}): Promise<PbxProcess> {
  return startPbx(
    routeAllTo(uasPort, {
      limits: { invitesPerSecondPerIp: 100_000 },
      ...extra,
    }),
  );
}

/** The fraction of observations at or below `le` seconds in a Prometheus histogram. */
async function fractionBelow(pbx: PbxProcess, name: string, le: string): Promise<number> {
  const text = await pbx.metrics();
  const bucket = new RegExp(`^${name}_bucket\\{le="${le.replace('.', '\\.')}"\\} (\\d+)`, 'm').exec(text);
  const count = new RegExp(`^${name}_count (\\d+)`, 'm').exec(text);
  return Number(bucket?.[1] ?? 0) / Math.max(1, Number(count?.[1] ?? 0));
}

describe('reliability', () => {
  it('1,000 calls with 10% of the caller packets lost complete at >= 99%', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxRoutingTo(uasPort);
    const r = await runCall({
      uac: 'uac-load',
      uas: 'uas-load',
      pbx,
      uasPort,
      calls: 1000,
      rate: 100,
      limit: 300,
      pauseMs: 100,
      uacArgs: ['-lost', '10'],
      timeoutS: 45,
    });
    const ok = r.uac.stats?.successful ?? 0;
    expect(ok, describeCall(r)).toBeGreaterThanOrEqual(990);
    expect(await pbx.metricValue('sippbx_calls_total', { result: 'answered' })).toBeGreaterThanOrEqual(990);
  }, 150_000);

  it('100 concurrent 30 s calls with media all succeed, 100 Trying p99 < 100 ms', async () => {
    const uasPort = await freeLocalPort();
    const pbx = await pbxRoutingTo(uasPort);
    const running = runCall({
      uac: 'media',
      uas: 'uas-load',
      pbx,
      uasPort,
      calls: 100,
      rate: 50,
      limit: 100,
      pauseMs: 30_000,
      uasArgs: ['-rtp_echo'],
      timeoutS: 60,
    });
    // While the calls are held: all 100 are up at once and media flows through the relay both ways.
    const until = Date.now() + 20_000;
    while ((await pbx.metricValue('sippbx_calls_active')) < 100 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await pbx.metricValue('sippbx_calls_active')).toBe(100);
    expect(await pbx.metricValue('sippbx_media_ports_in_use')).toBe(800);
    const r = await running;
    expect(r.ok, describeCall(r)).toBe(true);
    expect(r.uac.stats?.successful).toBe(100);
    expect(await pbx.metricValue('sippbx_rtp_packets_total', { direction: 'a-to-b' })).toBeGreaterThan(
      10_000,
    );
    expect(await pbx.metricValue('sippbx_rtp_packets_total', { direction: 'b-to-a' })).toBeGreaterThan(
      10_000,
    );
    expect(await pbx.metricValue('sippbx_rtp_dropped_total', { reason: 'foreign-source' })).toBe(0);
    expect(await fractionBelow(pbx, 'sippbx_invite_to_100_seconds', '0.1')).toBeGreaterThanOrEqual(0.99);
    expect(await pbx.metricValue('sippbx_calls_active')).toBe(0);
    expect(await pbx.metricValue('sippbx_media_ports_in_use')).toBe(0);
  }, 120_000);

  it('a flood of 50 INVITE/s from one address is held to 10/s while another address calls normally', async () => {
    const floodUas = await freeLocalPort();
    const legitUas = await freeLocalPort();
    const pbx = await startPbx({
      limits: { invitesPerSecondPerIp: 10 },
      routing: {
        routes: [
          { match: '^flood$', target: `sip:127.0.0.1:${floodUas}` },
          { match: '^legit$', target: `sip:127.0.0.1:${legitUas}` },
        ],
      },
    });
    const common = { uas: 'uas-load', pbx, pauseMs: 100, timeoutS: 12 } as const;
    const [flood, legit] = await Promise.all([
      runCall({ ...common, uac: 'flood', uasPort: floodUas, service: 'flood', calls: 200, rate: 50 }),
      runCall({
        ...common,
        uac: 'uac-load',
        uasPort: legitUas,
        service: 'legit',
        uacIp: '127.0.0.3',
        calls: 20,
        rate: 5,
      }),
    ]);
    expect(legit.uac.stats?.successful, describeCall(legit)).toBe(20);
    const accepted = countLog(flood.uac, /^result 200/);
    const refused = countLog(flood.uac, /^result 503/);
    expect(accepted + refused, describeCall(flood)).toBe(200);
    // 4 s at 10/s plus a burst of 10: about 50 of the 200 get through, the rest get 503 + Retry-After.
    expect(accepted).toBeGreaterThanOrEqual(40);
    expect(accepted).toBeLessThanOrEqual(60);
    expect(await pbx.metricValue('sippbx_rate_limited_total')).toBe(refused);
  }, 90_000);
});
