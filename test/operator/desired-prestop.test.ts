// The preStop script really drains: run with Node against a fake pbx management API.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HTTP_PORT } from '../../operator/api/index.js';
import { PATHS, preStopScript } from '../../operator/desired/index.js';

/** Runs the script with the token file and pbx port redirected to test doubles. */
function runScript(port: number, tokenFile: string): Promise<number> {
  const script = preStopScript()
    .replace(PATHS.adminTokenFile, tokenFile)
    .replace(`:${HTTP_PORT}/`, `:${port}/`);
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], { env: { POD_IP: '127.0.0.1' }, timeout: 20_000 }, (err) =>
      resolve(err === null ? 0 : typeof err.code === 'number' ? err.code : 1),
    );
  });
}

describe('preStop drain script', () => {
  it('POSTs /api/v1/drain with the admin token, polls until drained, exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prestop-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'sekret\n');
    const seen: string[] = [];
    let polls = 0;
    const server = createServer((req: IncomingMessage, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      const state = req.method === 'POST' ? 'draining' : ++polls >= 2 ? 'drained' : 'draining';
      res.writeHead(req.method === 'POST' ? 202 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ state, activeCalls: 0 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const code = await runScript((server.address() as AddressInfo).port, tokenFile);
    server.close();
    expect(code).toBe(0);
    expect(seen).toEqual([
      'POST /api/v1/drain Bearer sekret',
      'GET /api/v1/drain Bearer sekret',
      'GET /api/v1/drain Bearer sekret',
    ]);
  });

  it('exits 0 when the pbx is already gone (never blocks termination)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prestop-'));
    writeFileSync(join(dir, 'token'), 't');
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    expect(await runScript(port, join(dir, 'token'))).toBe(0);
  });
});

describe('preStop drain script on an API error', () => {
  it('exits 0 at once when the drain request is refused (e.g. 401)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prestop-'));
    writeFileSync(join(dir, 'token'), 'wrong');
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(401).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const code = await runScript((server.address() as AddressInfo).port, join(dir, 'token'));
    server.close();
    expect(code).toBe(0);
    expect(requests).toBe(1);
  });
});
