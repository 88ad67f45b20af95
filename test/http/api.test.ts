import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import type { CallView } from '../../pbx/b2bua/call.js';
import { createLogger, pinoLevel } from '../../pbx/core/logger.js';
import type { LogLevel } from '../../pbx/core/logger.js';
import { API_BODY_LIMIT, WWW_AUTHENTICATE, registerApi } from '../../pbx/http/api.js';
import type { ApiDeps, ApiStats, DrainStatus } from '../../pbx/http/api.js';
import { loadTokens } from '../../pbx/http/auth.js';
import type { TokenSpec } from '../../pbx/http/auth.js';
import { buildHealthApp } from '../../pbx/http/servers.js';

const READ = 'read-token-0123456789';
const ADMIN = 'admin-token-0123456789';
const TOKENS: TokenSpec[] = [
  { token: READ, role: 'read' },
  { token: ADMIN, role: 'admin' },
];

const CALL: CallView = {
  id: 'c-1',
  legs: { a: 'a-callid@host', b: 'b-callid@pbx' },
  from: '<sip:alice@example.com>;tag=1',
  to: '<sip:bob@example.com>',
  state: 'answered',
  startTime: '2025-01-01T00:00:00.000Z',
  answerTime: '2025-01-01T00:00:02.000Z',
  mediaPorts: { start: 10000, end: 10008 },
};

const STATS: ApiStats = {
  activeCalls: 1,
  ports: { inUse: 8, total: 80 },
  registrations: 3,
  state: 'running',
  transactions: { client: 1, server: 2 },
};

interface Harness {
  app: FastifyInstance;
  deps: ApiDeps;
  logs: Record<string, unknown>[];
  drain: ReturnType<typeof vi.fn<(deadlineSeconds?: number) => DrainStatus>>;
  setLogLevel: ReturnType<typeof vi.fn<(level: LogLevel) => void>>;
  level(): LogLevel;
}

async function harness(specs: TokenSpec[] = TOKENS, overrides: Partial<ApiDeps> = {}): Promise<Harness> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  let level: LogLevel = 'info';
  const logger = createLogger(level, sink);
  const drain = vi.fn((deadlineSeconds?: number): DrainStatus => ({
    state: 'draining',
    activeCalls: 1,
    deadline: new Date(Date.UTC(2025, 0, 1) + (deadlineSeconds ?? 3600) * 1000).toISOString(),
  }));
  const setLogLevel = vi.fn((next: LogLevel) => {
    level = next;
    logger.level = pinoLevel(next);
  });
  const deps: ApiDeps = {
    tokens: await loadTokens(specs),
    calls: () => [CALL],
    stats: () => Promise.resolve(STATS),
    drain,
    drainStatus: () => ({ state: 'running', activeCalls: 1, deadline: null }),
    cancelDrain: () => ({ state: 'running', activeCalls: 1, deadline: null }),
    getLogLevel: () => level,
    setLogLevel,
    logger,
    ...overrides,
  };
  const app = buildHealthApp(() => ({ status: 'ok', state: 'running', activeCalls: 1 }));
  registerApi(app, deps);
  return { app, deps, logs, drain, setLogLevel, level: () => level };
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
interface Endpoint {
  method: Method;
  url: string;
  role: 'read' | 'admin';
  ok: number;
  body?: unknown;
}

const ENDPOINTS: Endpoint[] = [
  { method: 'GET', url: '/api/v1/calls', role: 'read', ok: 200 },
  { method: 'GET', url: '/api/v1/stats', role: 'read', ok: 200 },
  { method: 'GET', url: '/api/v1/drain', role: 'read', ok: 200 },
  { method: 'POST', url: '/api/v1/drain', role: 'admin', ok: 202, body: { deadlineSeconds: 30 } },
  { method: 'DELETE', url: '/api/v1/drain', role: 'admin', ok: 200 },
  { method: 'GET', url: '/api/v1/log-level', role: 'read', ok: 200 },
  { method: 'PUT', url: '/api/v1/log-level', role: 'admin', ok: 200, body: { level: 'debug' } },
];

const CALLERS = [
  { who: 'no token', header: undefined },
  { who: 'a bad token', header: 'Bearer not-a-token' },
  { who: 'an equal-length bad token', header: `Bearer ${ADMIN.replace(/9$/, '8')}` },
  { who: 'a read token', header: `Bearer ${READ}` },
  { who: 'an admin token', header: `bearer ${ADMIN}` },
] as const;

function expected(endpoint: Endpoint, who: (typeof CALLERS)[number]['who']): number {
  if (who === 'an admin token') return endpoint.ok;
  if (who === 'a read token') return endpoint.role === 'read' ? endpoint.ok : 403;
  return 401;
}

function inject(app: FastifyInstance, endpoint: Endpoint, header: string | undefined) {
  return app.inject({
    method: endpoint.method,
    url: endpoint.url,
    headers: header === undefined ? {} : { authorization: header },
    ...(endpoint.body === undefined ? {} : { payload: endpoint.body as object }),
  });
}

describe('auth matrix', () => {
  for (const endpoint of ENDPOINTS) {
    for (const caller of CALLERS) {
      const status = expected(endpoint, caller.who);
      it(`${endpoint.method} ${endpoint.url} with ${caller.who} -> ${status}`, async () => {
        const h = await harness();
        const res = await inject(h.app, endpoint, caller.header);
        expect(res.statusCode).toBe(status);
        expect(res.headers['content-type']).toContain('application/json');
        expect(res.headers['cache-control']).toBe('no-store');
        if (status === 401) {
          expect(res.headers['www-authenticate']).toBe(WWW_AUTHENTICATE);
          expect(res.json()).toEqual({
            error: {
              code: 'unauthorized',
              message: 'a valid bearer token is required (Authorization: Bearer <token>)',
            },
          });
        } else {
          expect(res.headers['www-authenticate']).toBeUndefined();
        }
        if (status === 403) {
          expect(res.json()).toEqual({
            error: { code: 'forbidden', message: `${endpoint.method} ${endpoint.url} needs an admin token` },
          });
        }
        if (status >= 400) {
          expect(h.drain).not.toHaveBeenCalled();
          expect(h.setLogLevel).not.toHaveBeenCalled();
        }
      });
    }
  }

  it('refuses every API request, whatever the token, when no tokens are configured', async () => {
    const h = await harness([]);
    for (const endpoint of ENDPOINTS) {
      for (const caller of CALLERS) {
        const res = await inject(h.app, endpoint, caller.header);
        expect(res.statusCode).toBe(401);
        expect(res.headers['www-authenticate']).toBe(WWW_AUTHENTICATE);
      }
    }
    expect((await h.app.inject({ url: '/api/v1/nothing-here' })).statusCode).toBe(401);
    expect(h.drain).not.toHaveBeenCalled();
  });

  it('leaves the health endpoints unauthenticated', async () => {
    const h = await harness([]);
    expect((await h.app.inject({ url: '/health' })).statusCode).toBe(200);
    expect((await h.app.inject({ url: '/health/live' })).statusCode).toBe(200);
    expect((await h.app.inject({ url: '/health/ready' })).statusCode).toBe(200);
  });

  it('refuses other authorization schemes', async () => {
    const h = await harness();
    const res = await h.app.inject({ url: '/api/v1/calls', headers: { authorization: `Basic ${READ}` } });
    expect(res.statusCode).toBe(401);
  });
});

describe('read endpoints', () => {
  const get = (h: Harness, url: string) =>
    h.app.inject({ url, headers: { authorization: `Bearer ${READ}` } });

  it('GET /api/v1/calls lists the active calls', async () => {
    const h = await harness();
    expect((await get(h, '/api/v1/calls')).json()).toEqual({ calls: [CALL] });
  });

  it('GET /api/v1/stats reports the stats', async () => {
    const h = await harness();
    expect((await get(h, '/api/v1/stats')).json()).toEqual(STATS);
  });

  it('GET /api/v1/drain reports the drain status', async () => {
    const h = await harness();
    expect((await get(h, '/api/v1/drain')).json()).toEqual({
      state: 'running',
      activeCalls: 1,
      deadline: null,
    });
  });

  it('GET /api/v1/log-level reports the level', async () => {
    const h = await harness();
    expect((await get(h, '/api/v1/log-level')).json()).toEqual({ level: 'info' });
  });

  it('a failing source is a 500 whose detail stays in the log', async () => {
    const h = await harness(TOKENS, { stats: () => Promise.reject(new Error('redis down: secret detail')) });
    const res = await get(h, '/api/v1/stats?x=1');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
    const failure = h.logs.find((l) => l.msg === 'api request failed');
    expect(failure).toMatchObject({ level: 'error', method: 'GET', url: '/api/v1/stats' });
    expect(JSON.stringify(failure)).toContain('redis down');
  });
});

describe('POST /api/v1/drain', () => {
  const post = (h: Harness, payload?: unknown, headers: Record<string, string> = {}) =>
    h.app.inject({
      method: 'POST',
      url: '/api/v1/drain',
      headers: { authorization: `Bearer ${ADMIN}`, ...headers },
      ...(payload === undefined ? {} : { payload: payload as string }),
    });

  it('starts draining with the requested deadline and answers 202 with the status', async () => {
    const h = await harness();
    const res = await post(h, { deadlineSeconds: 30 });
    expect(res.statusCode).toBe(202);
    expect(h.drain).toHaveBeenCalledExactlyOnceWith(30);
    expect(res.json()).toEqual({ state: 'draining', activeCalls: 1, deadline: '2025-01-01T00:00:30.000Z' });
    expect(h.logs.find((l) => l.msg === 'drain requested through the API')).toMatchObject({
      level: 'warning',
      deadlineSeconds: 30,
      role: 'admin',
    });
  });

  it.each([
    ['no body', undefined],
    ['an empty object', {}],
  ])('with %s uses the configured deadline', async (_name, payload) => {
    const h = await harness();
    const res = await post(h, payload);
    expect(res.statusCode).toBe(202);
    expect(h.drain).toHaveBeenCalledExactlyOnceWith(undefined);
  });

  it('accepts the largest deadline, 86400 s', async () => {
    const h = await harness();
    expect((await post(h, { deadlineSeconds: 86400 })).statusCode).toBe(202);
  });

  it.each([
    [{ deadlineSeconds: 0 }, 'deadlineSeconds: must be at least 1'],
    [{ deadlineSeconds: -5 }, 'deadlineSeconds: must be at least 1'],
    [{ deadlineSeconds: 86401 }, 'deadlineSeconds: must be at most 86400'],
    [{ deadlineSeconds: 1.5 }, 'deadlineSeconds: must be a whole number of seconds'],
    [{ deadlineSeconds: '30' }, 'deadlineSeconds: must be a whole number of seconds'],
    [{ deadlineSeconds: null }, 'deadlineSeconds: must be a whole number of seconds'],
    [{ deadline: 30 }, 'body: unknown field(s) deadline'],
    [[30], 'body: must be a JSON object'],
    ['null', 'body: must be a JSON object'],
  ])('refuses %j with 400: %s', async (payload, message) => {
    const h = await harness();
    const res = await post(h, typeof payload === 'string' ? payload : JSON.stringify(payload), {
      'content-type': 'application/json',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'invalid_body', message } });
    expect(h.drain).not.toHaveBeenCalled();
  });

  it('refuses malformed JSON and an empty JSON body with 400', async () => {
    const h = await harness();
    for (const payload of ['{"deadlineSeconds":', '']) {
      const res = await post(h, payload, { 'content-type': 'application/json' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'invalid_body' } });
    }
    expect(h.drain).not.toHaveBeenCalled();
  });

  it('refuses a body above the limit with 413 and an unsupported content type with 415', async () => {
    const h = await harness();
    const big = JSON.stringify({ deadlineSeconds: 30, pad: 'x'.repeat(API_BODY_LIMIT) });
    const tooLarge = await post(h, big, { 'content-type': 'application/json' });
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json()).toMatchObject({ error: { code: 'body_too_large' } });
    const text = await post(h, 'deadlineSeconds=30', { 'content-type': 'text/csv' });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
    expect(h.drain).not.toHaveBeenCalled();
  });

  it('checks the token before reading the body', async () => {
    const h = await harness();
    const big = 'x'.repeat(API_BODY_LIMIT * 2);
    const res = await post(h, big, { authorization: `Bearer ${READ}`, 'content-type': 'application/json' });
    expect(res.statusCode).toBe(403);
    const anon = await h.app.inject({ method: 'POST', url: '/api/v1/drain', payload: big });
    expect(anon.statusCode).toBe(401);
  });
});

describe('log level', () => {
  const put = (h: Harness, payload: unknown) =>
    h.app.inject({
      method: 'PUT',
      url: '/api/v1/log-level',
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: payload as object,
    });

  it('PUT changes the level at runtime and GET reports it', async () => {
    const h = await harness();
    const res = await put(h, { level: 'debug' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ level: 'debug' });
    expect(h.setLogLevel).toHaveBeenCalledExactlyOnceWith('debug');
    const get = await h.app.inject({
      url: '/api/v1/log-level',
      headers: { authorization: `Bearer ${READ}` },
    });
    expect(get.json()).toEqual({ level: 'debug' });
  });

  it('logs the change whether the new level is quieter or louder', async () => {
    const h = await harness();
    await put(h, { level: 'error' });
    await put(h, { level: 'warning' });
    await put(h, { level: 'debug' });
    const changes = h.logs.filter((l) => l.msg === 'log level changed');
    expect(changes).toEqual([
      expect.objectContaining({ from: 'info', to: 'error', role: 'admin' }),
      expect.objectContaining({ from: 'warning', to: 'debug', role: 'admin' }),
    ]);
    expect(h.level()).toBe('debug');
  });

  it.each([
    [{ level: 'verbose' }, 'level: must be debug, info, warning or error'],
    [{ level: 'warn' }, 'level: must be debug, info, warning or error'],
    [{}, 'level: is required (debug, info, warning or error)'],
    [{ level: 'info', extra: 1 }, 'body: unknown field(s) extra'],
  ])('refuses %j with 400: %s', async (payload, message) => {
    const h = await harness();
    const res = await put(h, payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'invalid_body', message } });
    expect(h.setLogLevel).not.toHaveBeenCalled();
  });

  it('refuses a missing body with 400', async () => {
    const h = await harness();
    const res = await h.app.inject({
      method: 'PUT',
      url: '/api/v1/log-level',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'invalid_body', message: 'body: must be a JSON object' } });
  });
});

describe('unknown API routes', () => {
  it.each([
    ['GET', '/api/v1/unknown'],
    ['GET', '/api/v2/calls'],
    ['DELETE', '/api/v1/calls'],
    ['GET', '/api'],
  ] as const)('%s %s -> 404 JSON for an authenticated caller, 401 otherwise', async (method, url) => {
    const h = await harness();
    const res = await h.app.inject({ method, url, headers: { authorization: `Bearer ${READ}` } });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'not_found', message: `no endpoint ${method} ${url}` } });
    expect((await h.app.inject({ method, url })).statusCode).toBe(401);
  });

  it('leaves 404s outside /api to the app', async () => {
    const h = await harness();
    const res = await h.app.inject({ url: '/apiary' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).not.toHaveProperty('error.code');
  });
});

describe('request logging', () => {
  it('logs method, path, status, duration and role, never the token', async () => {
    const h = await harness();
    await h.app.inject({ url: '/api/v1/calls?verbose=1', headers: { authorization: `Bearer ${READ}` } });
    await h.app.inject({ url: '/api/v1/calls', headers: { authorization: 'Bearer wrong-secret' } });
    await h.app.inject({
      method: 'PUT',
      url: '/api/v1/log-level',
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { level: 'info' },
    });
    const requests = h.logs.filter((l) => l.msg === 'api request');
    expect(requests).toEqual([
      expect.objectContaining({ method: 'GET', url: '/api/v1/calls', status: 200, role: 'read' }),
      expect.objectContaining({ method: 'GET', url: '/api/v1/calls', status: 401, role: 'none' }),
      expect.objectContaining({ method: 'PUT', url: '/api/v1/log-level', status: 200, role: 'admin' }),
    ]);
    for (const line of requests) expect(line.durationMs).toEqual(expect.any(Number));
    const all = JSON.stringify(h.logs);
    expect(all).not.toContain(READ);
    expect(all).not.toContain(ADMIN);
    expect(all).not.toContain('wrong-secret');
    expect(all.toLowerCase()).not.toContain('authorization');
  });
});

describe('DELETE /api/v1/drain', () => {
  it('answers 409 once the pbx has drained', async () => {
    const h = await harness(TOKENS, { cancelDrain: () => undefined });
    const res = await h.app.inject({
      method: 'DELETE',
      url: '/api/v1/drain',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'drained' } });
  });
});
