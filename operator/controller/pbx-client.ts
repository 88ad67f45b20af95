// A small client of the pbx management API (docs/api.md) for the operator: drain, cancel, status and
// stats of one pod. Every call has a short timeout so a hung pod never blocks a reconcile worker; a
// refused connection means the process is gone (exited after draining, or not started).
import { HTTP_PORT } from '../api/index.js';

/** `GET /api/v1/drain` (also the answer of POST and DELETE). */
export interface DrainStatus {
  readonly state: 'running' | 'draining' | 'drained';
  readonly activeCalls: number;
  readonly deadline: string | null;
}

/** Where a pbx listens and the admin token it accepts. */
export interface PbxTarget {
  readonly host: string;
  readonly token: string;
}

/** The pbx did not answer in time or answered something unexpected: retry later. */
export class PbxRequestError extends Error {
  /** Stable code, as every sippbx error carries one. */
  readonly code = 'PBX_ERR_OPERATOR_PBX_REQUEST';

  /** `status` is the HTTP status when there was an answer. */
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PbxRequestError';
  }
}

/** The management API calls the operator makes. `'gone'`: nothing listens (the process exited). */
export interface PbxClient {
  drainStatus(target: PbxTarget): Promise<DrainStatus | 'gone'>;
  /** POST /api/v1/drain; calling it while draining does not restart the drain. */
  startDrain(target: PbxTarget, deadlineSeconds: number): Promise<DrainStatus | 'gone'>;
  /** DELETE /api/v1/drain: `'drained'` when it is too late (409). */
  cancelDrain(target: PbxTarget): Promise<'canceled' | 'drained' | 'gone'>;
  /** activeCalls of GET /api/v1/stats, undefined when the pod does not answer. */
  activeCalls(target: PbxTarget): Promise<number | undefined>;
}

/** Options of createPbxClient. */
export interface PbxClientOptions {
  /** Management API port (default 8080; tests point it at a fake). */
  readonly port?: number;
  /** Per-request timeout in ms (default 1500). */
  readonly timeoutMs?: number;
}

const GONE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

function causeCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function isDrainStatus(v: unknown): v is DrainStatus {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    (o['state'] === 'running' || o['state'] === 'draining' || o['state'] === 'drained') &&
    typeof o['activeCalls'] === 'number'
  );
}

/** Creates a client over fetch with a timeout per request. */
export function createPbxClient(opts: PbxClientOptions = {}): PbxClient {
  const port = opts.port ?? HTTP_PORT;
  const timeoutMs = opts.timeoutMs ?? 1500;
  const send = async (
    t: PbxTarget,
    method: string,
    path: string,
    body?: object,
  ): Promise<{ status: number; json: unknown } | 'gone'> => {
    const host = t.host.includes(':') ? `[${t.host}]` : t.host;
    try {
      const res = await fetch(`http://${host}:${port}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${t.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
    } catch (err) {
      const code = causeCode(err);
      if (code !== undefined && GONE_CODES.has(code)) return 'gone';
      throw new PbxRequestError(`${method} ${path} on ${t.host}: ${String(err)}`, undefined, { cause: err });
    }
  };
  const drainAnswer = (
    r: { status: number; json: unknown } | 'gone',
    what: string,
    ok: number,
  ): DrainStatus | 'gone' => {
    if (r === 'gone') return r;
    if (r.status !== ok || !isDrainStatus(r.json))
      throw new PbxRequestError(`${what}: unexpected answer ${r.status}`, r.status);
    return r.json;
  };
  return {
    drainStatus: async (t) => drainAnswer(await send(t, 'GET', '/api/v1/drain'), 'GET /api/v1/drain', 200),
    startDrain: async (t, deadlineSeconds) =>
      drainAnswer(
        await send(t, 'POST', '/api/v1/drain', {
          deadlineSeconds: Math.min(86400, Math.max(1, Math.round(deadlineSeconds))),
        }),
        'POST /api/v1/drain',
        202,
      ),
    async cancelDrain(t) {
      const r = await send(t, 'DELETE', '/api/v1/drain');
      if (r === 'gone') return r;
      if (r.status === 409) return 'drained';
      if (r.status !== 200) throw new PbxRequestError(`DELETE /api/v1/drain: answer ${r.status}`, r.status);
      return 'canceled';
    },
    async activeCalls(t) {
      try {
        const r = await send(t, 'GET', '/api/v1/stats');
        if (r === 'gone' || r.status !== 200) return undefined;
        const calls = (r.json as { activeCalls?: unknown } | undefined)?.activeCalls;
        return typeof calls === 'number' ? calls : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
