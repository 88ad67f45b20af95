// The management API of the real pbx process (issue 5, CONTRACTS.md "HTTP", docs/api.md): bearer tokens from
// the config and from a token file, the 401/403/200 matrix of every endpoint, a live call listed with both legs'
// Call-IDs, unauthenticated health endpoints; POST /api/v1/drain last (it drains the idle pbx, which stays up,
// not ready, until SIGTERM).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCall, routeAllTo, runCall } from './harness/calls.js';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { PbxProcess } from './harness/pbx.js';
import { freeLocalPort } from './harness/sipp.js';

const READ = 'r';
const ADMIN = 'admin-token-from-a-file';

let pbx: PbxProcess;
let uasPort: number;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sippbx-api-'));
  const tokenFile = join(dir, 'admin-token');
  await writeFile(tokenFile, `${ADMIN}\n`); // a trailing newline, as `echo` or a Secret leaves it
  uasPort = await freeLocalPort();
  pbx = await startPbx(
    routeAllTo(uasPort, {
      limits: { invitesPerSecondPerIp: 10_000 },
      events: { webhooks: [] },
      http: {
        auth: {
          tokens: [
            { token: READ, role: 'read' },
            { tokenFile, role: 'admin' },
          ],
        },
      },
    }),
  );
});

afterAll(async () => {
  await stopAllPbx();
  await rm(dir, { recursive: true, force: true });
});

type Who = 'none' | 'bad' | 'basic' | 'read' | 'admin';

const AUTH: Record<Who, string | undefined> = {
  none: undefined,
  bad: 'Bearer not-a-token',
  basic: `Basic ${Buffer.from(`x:${READ}`).toString('base64')}`,
  read: `Bearer ${READ}`,
  admin: `bearer ${ADMIN}`, // the scheme is case-insensitive
};

async function call(
  method: 'GET' | 'POST',
  path: string,
  who: Who,
  body?: unknown,
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const headers: Record<string, string> = {};
  const auth = AUTH[who];
  if (auth !== undefined) headers['Authorization'] = auth;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${pbx.httpPort}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}

interface CallEntry {
  id: string;
  legs: { a: string; b: string };
  from: string;
  to: string;
  state: string;
  startTime: string;
  answerTime: string | null;
  mediaPorts: { start: number; end: number };
}

describe('management API', () => {
  it('health endpoints answer without a token', async () => {
    for (const path of ['/health', '/health/live', '/health/ready']) {
      const r = await call('GET', path, 'none');
      expect(r.status, path).toBe(200);
    }
    const health = await call('GET', '/health', 'none');
    expect(health.json).toMatchObject({ state: 'running', activeCalls: 0 });
  });

  it('GET endpoints: 401 without or with a bad token, 200 for read and admin', async () => {
    for (const path of ['/api/v1/calls', '/api/v1/stats', '/api/v1/drain']) {
      const seen: Record<string, number> = {};
      for (const who of ['none', 'bad', 'basic', 'read', 'admin'] as const) {
        const r = await call('GET', path, who);
        seen[who] = r.status;
        if (r.status === 401) {
          expect(r.headers.get('www-authenticate'), `${path} ${who}`).toBe('Bearer realm="sippbx"');
          expect(r.json, `${path} ${who}`).toMatchObject({ error: { code: 'unauthorized' } });
        }
      }
      expect(seen, path).toEqual({ none: 401, bad: 401, basic: 401, read: 200, admin: 200 });
    }
    expect((await call('GET', '/api/v1/drain', 'read')).json).toEqual({
      state: 'running',
      activeCalls: 0,
      deadline: null,
    });
  });

  it('lists a live call with both legs’ Call-IDs, and stats count it', async () => {
    const running = runCall({
      uac: 'basic',
      uas: 'basic',
      pbx,
      uasPort,
      calls: 1,
      pauseMs: 3000,
      timeoutS: 15,
    });
    let ended = false;
    void running.then(
      () => (ended = true),
      () => (ended = true),
    );
    let listed: CallEntry[] = [];
    const until = Date.now() + 8000;
    while (Date.now() < until) {
      if (ended) throw new Error(`the call ended before it was listed\n${describeCall(await running)}`);
      listed = ((await call('GET', '/api/v1/calls', 'read')).json as { calls: CallEntry[] }).calls;
      if (listed.length === 1 && listed[0]?.state === 'answered') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(listed).toHaveLength(1);
    const live = listed[0] as CallEntry;
    expect(live.state).toBe('answered');
    expect(live.from).toContain('sip:caller@127.0.0.1');
    expect(live.to).toContain('sip:bob@');
    expect(new Date(live.startTime).toISOString()).toBe(live.startTime);
    expect(typeof live.answerTime).toBe('string');
    expect(live.mediaPorts.end - live.mediaPorts.start).toBe(8);
    expect(live.mediaPorts.start).toBeGreaterThanOrEqual(pbx.mediaPorts.start);
    expect(live.mediaPorts.end).toBeLessThanOrEqual(pbx.mediaPorts.end);
    const stats = (await call('GET', '/api/v1/stats', 'read')).json;
    expect(stats).toMatchObject({
      activeCalls: 1,
      ports: { inUse: 8, total: pbx.mediaPorts.end - pbx.mediaPorts.start },
      registrations: 0,
      state: 'running',
    });

    const r = await running;
    expect(r.ok, describeCall(r)).toBe(true);
    const callId = (messages: string): string | undefined => /^Call-ID:\s*(\S+)/im.exec(messages)?.[1];
    expect(live.legs.a).toBe(callId(r.uac.messages));
    expect(live.legs.b).toBe(callId(r.uas.messages));
    expect(live.legs.a).not.toBe(live.legs.b);
  }, 30_000);

  it('POST /api/v1/drain: 401, 401, 403 for read, then 202 for admin; the idle pbx drains, stays up not ready, SIGTERM exits 0', async () => {
    expect((await call('POST', '/api/v1/drain', 'none', { deadlineSeconds: 5 })).status).toBe(401);
    expect((await call('POST', '/api/v1/drain', 'bad', { deadlineSeconds: 5 })).status).toBe(401);
    const forbidden = await call('POST', '/api/v1/drain', 'read', { deadlineSeconds: 5 });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json).toMatchObject({ error: { code: 'forbidden' } });
    // None of the refused requests started a drain.
    expect((await call('GET', '/api/v1/drain', 'read')).json).toMatchObject({ state: 'running' });
    expect((await call('GET', '/health/ready', 'none')).status).toBe(200);

    const accepted = await call('POST', '/api/v1/drain', 'admin', { deadlineSeconds: 5 });
    expect(accepted.status).toBe(202);
    expect(accepted.json).toMatchObject({ activeCalls: 0 });
    expect(['draining', 'drained']).toContain((accepted.json as { state: string }).state);
    const until = Date.now() + 10_000;
    while (((await call('GET', '/api/v1/drain', 'read')).json as { state?: string }).state !== 'drained') {
      if (Date.now() > until) throw new Error('the idle pbx never reported drained');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await call('GET', '/health/ready', 'none')).status).toBe(503);
    // Drained over the API it stays up (under Kubernetes an exit would restart it as a fresh ready pbx)
    const code = await Promise.race([
      pbx.exited(),
      new Promise<string>((r) => setTimeout(() => r('still running after 2 s'), 2000)),
    ]);
    expect(code).toBe('still running after 2 s');
    expect(await pbx.stop('SIGTERM', 10_000)).toBe(0);
  }, 20_000);
});
