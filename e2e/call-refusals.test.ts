/**
 * A call the pbx refuses itself answers the caller exactly once, and that answer is what the CDR and the
 * metrics record (issue 14: an INVITE with bad SDP used to get 488, then a 503 the transaction dropped,
 * counted in sippbx_sip_responses_total and written to the CDR as sipCode 503).
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { LogLine } from './harness/pbx.js';
import { UdpSipClient, buildRequest } from './harness/sip-client.js';

const closers: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await stopAllPbx();
});

describe('refused calls', () => {
  it('an INVITE with unusable SDP gets one final response, 488, and its CDR says 488', async () => {
    // The route's target counts what reaches it: nothing should (no B-leg for a refused offer).
    const callee = createSocket('udp4');
    let calleeReceived = 0;
    callee.on('message', () => (calleeReceived += 1));
    callee.bind(0, '127.0.0.1');
    await once(callee, 'listening');
    closers.push(() => new Promise<void>((done) => callee.close(() => done())));
    const pbx = await startPbx({
      routing: { routes: [{ match: '^.*$', target: `sip:127.0.0.1:${callee.address().port}` }] },
      events: { webhooks: [] },
    });
    const caller = await UdpSipClient.open();
    closers.push(() => caller.close());
    const branch = 'z9hG4bK-bad-sdp-1';
    const callId = `bad-sdp-${process.pid}@e2e`;
    const invite = buildRequest({
      method: 'INVITE',
      target: { host: '127.0.0.1', port: pbx.sipPort },
      local: caller.local,
      transport: 'UDP',
      branch,
      callId,
      body: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio seven RTP/AVP 0\r\n',
    });
    const final = await caller.request(invite, branch, pbx.sipPort);
    expect(final.status).toBe(488);
    const cdr = await pbx.waitForLog((l: LogLine) => l['msg'] === 'cdr', 5000);
    expect(cdr['cdr']).toMatchObject({ sipCode: 488, result: 'rejected', endedBy: 'system' });
    // One final response was sent and counted: no 503 behind it.
    expect(await pbx.metricValue('sippbx_sip_responses_total', { code: '488' })).toBe(1);
    expect(await pbx.metricValue('sippbx_sip_responses_total', { code: '503' })).toBe(0);
    expect(await pbx.metricValue('sippbx_calls_total', { result: 'rejected' })).toBe(1);
    expect(await pbx.metricValue('sippbx_calls_active')).toBe(0);
    expect(calleeReceived).toBe(0);
  });
});
