// Prometheus metrics of the real pbx process (issue 5, CONTRACTS.md "Metrics"): /metrics parsed by a strict
// text-format parser holds every contract metric (from the first scrape, before any traffic) and the default
// Node.js process metrics; the call and media-port gauges follow the live calls of a SIPp run and return to 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCall, pollWhileRunning, routeAllTo, runCall } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { PbxProcess } from './harness/pbx.js';
import { PromParseError, parsePrometheusText, sampleSum } from './harness/prometheus.js';
import type { MetricFamily, MetricType } from './harness/prometheus.js';
import { freeLocalPort } from './harness/sipp.js';

/** CONTRACTS.md "Metrics": name, type, the label its samples carry (none: unlabelled). */
const CONTRACT: readonly [string, MetricType, string?][] = [
  ['sippbx_calls_active', 'gauge'],
  ['sippbx_calls_total', 'counter', 'result'],
  ['sippbx_sip_requests_total', 'counter', 'method'],
  ['sippbx_sip_responses_total', 'counter', 'code'],
  ['sippbx_sip_malformed_total', 'counter'],
  ['sippbx_rate_limited_total', 'counter'],
  ['sippbx_media_ports_in_use', 'gauge'],
  ['sippbx_media_ports_total', 'gauge'],
  ['sippbx_rtp_packets_total', 'counter', 'direction'],
  ['sippbx_rtp_dropped_total', 'counter', 'reason'],
  ['sippbx_registrations_active', 'gauge'],
  ['sippbx_webhook_deliveries_total', 'counter', 'result'],
  ['sippbx_invite_to_100_seconds', 'histogram'],
  ['sippbx_registry_errors_total', 'counter'],
  ['sippbx_draining', 'gauge'],
];
/** Default prom-client process metrics the contract promises ("plus the default Node.js process metrics"). */
const DEFAULTS: readonly [string, MetricType][] = [
  ['process_cpu_user_seconds_total', 'counter'],
  ['process_resident_memory_bytes', 'gauge'],
  ['nodejs_heap_size_used_bytes', 'gauge'],
  ['nodejs_eventloop_lag_seconds', 'gauge'],
];
const HELD = 10;

let pbx: PbxProcess;
let uasPort: number;

beforeAll(async () => {
  uasPort = await freeLocalPort();
  pbx = await startPbx(
    routeAllTo(uasPort, {
      limits: { invitesPerSecondPerIp: 10_000 },
      events: { webhooks: [] },
    }),
  );
});

afterAll(stopAllPbx);

async function scrape(): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`http://127.0.0.1:${pbx.metricsPort}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

/** Every family listed is there with HELP, the right TYPE and at least one sample carrying its label. */
function missingOrWrong(families: Map<string, MetricFamily>): string[] {
  const problems: string[] = [];
  for (const [name, type, label] of [...CONTRACT, ...DEFAULTS]) {
    const f = families.get(name);
    if (f === undefined) {
      problems.push(`${name}: absent`);
      continue;
    }
    if (f.type !== type) problems.push(`${name}: TYPE ${String(f.type)}, want ${type}`);
    if (f.help === undefined || f.help.trim() === '') problems.push(`${name}: no HELP`);
    if (f.samples.length === 0) problems.push(`${name}: HELP/TYPE but no sample`);
    if (label !== undefined && f.samples.some((s) => !(label in s.labels)))
      problems.push(`${name}: a sample without label ${label}`);
  }
  return problems;
}

/** Reads both gauges from one parsed scrape. */
async function gauges(): Promise<{ calls: number; ports: number }> {
  const families = await scrape();
  return {
    calls: sampleSum(families, 'sippbx_calls_active'),
    ports: sampleSum(families, 'sippbx_media_ports_in_use'),
  };
}

describe('the Prometheus parser (harness self-check)', () => {
  it('accepts escapes, timestamps and special values, and rejects what Prometheus would', () => {
    const good = [
      '# HELP a_total A \\\\ help\\nline',
      '# TYPE a_total counter',
      'a_total{x="q\\"uo\\\\te\\n",y="2"} 1.5e3 1700000000000',
      '# TYPE h histogram',
      'h_bucket{le="0.1"} 1',
      'h_bucket{le="+Inf"} 2',
      'h_sum NaN',
      'h_count 2',
      'g +Inf',
      '',
    ].join('\n');
    const families = parsePrometheusText(good);
    expect(families.get('a_total')?.help).toBe('A \\ help\nline');
    expect(families.get('a_total')?.samples[0]?.labels).toEqual({ x: 'q"uo\\te\n', y: '2' });
    expect(families.get('a_total')?.samples[0]?.value).toBe(1500);
    expect(families.get('g')?.type).toBeUndefined();
    for (const bad of [
      'a{x="1"} 1\na{x="1"} 2\n', // duplicate series
      'a{x="1\\t"} 1\n', // invalid escape
      'a{x=1} 1\n', // unquoted value
      'a{x="1",x="2"} 1\n', // duplicate label
      'a 1x\n', // bad value
      'a 1\nb 1\na 2\n', // family not contiguous
      'a 1\n# TYPE a gauge\n', // TYPE after samples
      '# TYPE a gauge\n# TYPE a gauge\n', // second TYPE
      '# TYPE a sometype\n', // unknown type
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // not cumulative
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', // +Inf != count
      '# TYPE h histogram\nh 1\n', // wrong sample name
      'a 1', // no final newline
    ]) {
      expect(() => parsePrometheusText(bad), bad).toThrow(PromParseError);
    }
  });
});

describe('/metrics of the real pbx', () => {
  it('has every CONTRACTS.md metric (type, HELP, a sample) and the process metrics from the first scrape', async () => {
    // Before any SIP traffic: a dashboard or an alert on rate(...) must find every series from the start.
    const families = await scrape();
    expect(missingOrWrong(families)).toEqual([]);
    expect(sampleSum(families, 'sippbx_media_ports_total')).toBe(pbx.mediaPorts.end - pbx.mediaPorts.start);
    expect(sampleSum(families, 'sippbx_draining')).toBe(0);
    expect(sampleSum(families, 'sippbx_calls_active')).toBe(0);
  });

  it(`follows ${HELD} held calls: calls_active = ${HELD}, media_ports_in_use = ${8 * HELD}, then both 0`, async () => {
    const running = runCall({
      uac: 'uac-load',
      uas: 'uas-load',
      pbx,
      uasPort,
      calls: HELD,
      rate: 100,
      pauseMs: 3000,
      timeoutS: 20,
    });
    const during = await pollWhileRunning(gauges, (g) => g.calls === HELD, {
      timeoutMs: 10_000,
      what: `calls_active = ${HELD}`,
      running,
    });
    expect(during).toEqual({ calls: HELD, ports: 8 * HELD });
    const r = await running;
    expect(r.ok, describeCall(r)).toBe(true);
    const after = await pollWhileRunning(gauges, (g) => g.calls === 0 && g.ports === 0, {
      timeoutMs: 5_000,
      what: 'both gauges 0',
    });
    expect(after).toEqual({
      calls: 0,
      ports: 0,
    });

    const families = await scrape();
    expect(missingOrWrong(families)).toEqual([]);
    expect(sampleSum(families, 'sippbx_calls_total', { result: 'answered' })).toBe(HELD);
    expect(sampleSum(families, 'sippbx_sip_requests_total', { method: 'INVITE' })).toBe(HELD);
    expect(sampleSum(families, 'sippbx_sip_responses_total', { code: '100' })).toBeGreaterThanOrEqual(HELD);
    expect(
      sampleSum(families, 'sippbx_invite_to_100_seconds', {}, 'sippbx_invite_to_100_seconds_count'),
    ).toBe(HELD);
  }, 40_000);
});
