/** The authenticated management API (`/api/v1/...`, CONTRACTS.md "HTTP"), mounted on the health app. */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { LogLevel, Logger } from '../core/logger.js';
import { LOG_LEVELS, drainBody, logLevelBody, parseBody } from './api-bodies.js';
import { apiErrorHandler, sendError } from './api-errors.js';
import type { Role, TokenStore } from './auth.js';
import type { HealthReport } from './servers.js';

/** Largest request body the API reads; anything bigger is a 413 before it is parsed. */
export const API_BODY_LIMIT = 16 * 1024;

/** `GET /api/v1/stats`. */
export interface ApiStats {
  readonly activeCalls: number;
  readonly ports: { readonly inUse: number; readonly total: number };
  readonly registrations: number;
  readonly state: HealthReport['state'];
  readonly transactions?: { readonly client: number; readonly server: number };
}

/** One entry of `GET /api/v1/calls` (docs/api.md); the B2BUA's call view satisfies it. */
export interface ApiCall {
  readonly id: string;
  readonly legs: { readonly a: string; readonly b: string };
  readonly from: string;
  readonly to: string;
  readonly state: string;
  readonly startTime: string;
  readonly answerTime: string | null;
  readonly mediaPorts: { readonly start: number; readonly end: number } | null;
}

/** `GET /api/v1/drain` and the answer to `POST /api/v1/drain` (ARCHITECTURE.md "Drain"). */
export interface DrainStatus {
  readonly state: 'running' | 'draining' | 'drained';
  readonly activeCalls: number;
  /** ISO 8601 time at which remaining calls are ended, or null while running. */
  readonly deadline: string | null;
}

/** What the API reads and drives; main.ts wires these to the pbx. */
export interface ApiDeps {
  readonly tokens: Pick<TokenStore, 'authenticate'>;
  calls(): readonly ApiCall[];
  stats(): Promise<ApiStats>;
  /** Starts (or continues) draining; `deadlineSeconds` absent means `shutdown.drainTimeoutSeconds`. */
  drain(deadlineSeconds?: number): DrainStatus;
  drainStatus(): DrainStatus;
  /** Stops a drain that has not completed (the operator keeps this pod after all); 409 when drained. */
  cancelDrain(): DrainStatus | undefined;
  getLogLevel(): LogLevel;
  setLogLevel(level: LogLevel): void;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** RFC 6750 §3 challenge sent with every 401. */
export const WWW_AUTHENTICATE = 'Bearer realm="sippbx"';

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

/** Authenticates every request under /api (known route or not); the role is kept for logs and 403s. */
function authenticateHook(deps: ApiDeps, roles: WeakMap<FastifyRequest, Role>): Hook {
  return (request, reply, done) => {
    void reply.header('cache-control', 'no-store');
    const role = deps.tokens.authenticate(request.headers.authorization);
    if (role === undefined) {
      void reply.header('www-authenticate', WWW_AUTHENTICATE);
      sendError(
        reply,
        401,
        'unauthorized',
        'a valid bearer token is required (Authorization: Bearer <token>)',
      );
      return;
    }
    roles.set(request, role);
    done();
  };
}

function requireAdmin(roles: WeakMap<FastifyRequest, Role>): Hook {
  return (request, reply, done) => {
    if (roles.get(request) !== 'admin') {
      sendError(reply, 403, 'forbidden', `${request.method} ${pathOf(request)} needs an admin token`);
      return;
    }
    done();
  };
}

/** Request log line: method, path, status, duration and role, never the Authorization header. */
function logHook(deps: ApiDeps, roles: WeakMap<FastifyRequest, Role>): Hook {
  return (request, reply, done) => {
    const line = {
      method: request.method,
      url: pathOf(request),
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      role: roles.get(request) ?? 'none',
    };
    deps.logger.info(line, 'api request');
    done();
  };
}

function changeLogLevel(deps: ApiDeps, level: LogLevel, role: Role | undefined): void {
  const from = deps.getLogLevel();
  // Log at info on whichever side of the change still prints info lines.
  const quieter = LOG_LEVELS.indexOf(level) > LOG_LEVELS.indexOf(from);
  const note = (): void => deps.logger.info({ from, to: level, role }, 'log level changed');
  if (quieter) note();
  deps.setLogLevel(level);
  if (!quieter) note();
}

function routes(api: FastifyInstance, deps: ApiDeps, roles: WeakMap<FastifyRequest, Role>): void {
  const read = { bodyLimit: API_BODY_LIMIT };
  const admin = { bodyLimit: API_BODY_LIMIT, onRequest: requireAdmin(roles) };
  api.get('/v1/calls', read, (_request, reply) => reply.send({ calls: deps.calls() }));
  api.get('/v1/stats', read, async () => deps.stats());
  api.get('/v1/drain', read, (_request, reply) => reply.send(deps.drainStatus()));
  api.post('/v1/drain', admin, (request, reply) => {
    const body = parseBody(drainBody, request.body, true);
    if (!body.ok) return sendError(reply, 400, 'invalid_body', body.message);
    const { deadlineSeconds } = body.value;
    deps.logger.warn({ deadlineSeconds, role: roles.get(request) }, 'drain requested through the API');
    return reply.code(202).send(deps.drain(deadlineSeconds));
  });
  api.delete('/v1/drain', admin, (request, reply) => {
    const status = deps.cancelDrain();
    if (status === undefined)
      return sendError(reply, 409, 'drained', 'the pbx has drained; it cannot take calls again');
    deps.logger.warn({ role: roles.get(request) }, 'drain cancelled through the API');
    return reply.send(status);
  });
  api.get('/v1/log-level', read, (_request, reply) => reply.send({ level: deps.getLogLevel() }));
  api.put('/v1/log-level', admin, (request, reply) => {
    const body = parseBody(logLevelBody, request.body);
    if (!body.ok) return sendError(reply, 400, 'invalid_body', body.message);
    changeLogLevel(deps, body.value.level, roles.get(request));
    return reply.send({ level: deps.getLogLevel() });
  });
}

/**
 * Mounts the management API under `/api` in its own fastify context: bearer auth on every request
 * (no tokens configured -> every request 401), admin checks, JSON errors, 404 for unknown `/api` paths,
 * request logging and a 16 KiB body limit. Health routes of `app` are untouched.
 */
export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  const roles = new WeakMap<FastifyRequest, Role>();
  void app.register(
    (api, _options, done) => {
      api.addHook('onRequest', authenticateHook(deps, roles));
      api.addHook('onResponse', logHook(deps, roles));
      api.setErrorHandler(apiErrorHandler(deps.logger));
      api.setNotFoundHandler((request, reply) =>
        sendError(reply, 404, 'not_found', `no endpoint ${request.method} ${pathOf(request)}`),
      );
      routes(api, deps, roles);
      done();
    },
    { prefix: '/api' },
  );
}
