// A real webhook receiver (node:http on 127.0.0.1) for whole-system tests of the pbx's call events: it records
// every request (raw body bytes, headers, the status it answered), answers what the test programs (e.g. 500
// twice per delivery, then 200), can go down and come back up on the same port, and wakes waiters on each request.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';

/** One request the receiver got. */
export interface ReceivedRequest {
  /** Arrival order, from 0, over the receiver's whole life (down/up included). */
  readonly index: number;
  readonly method: string;
  readonly url: string;
  /** Node's lower-cased headers. */
  readonly headers: IncomingHttpHeaders;
  /** The exact body bytes (what a signature covers). */
  readonly rawBody: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
  /** The status the receiver answered. */
  readonly status: number;
  /** `performance.now()` at arrival. */
  readonly at: number;
}

/**
 * What to answer: a status, or a status with headers and a body, optionally after `delayMs` (a receiver that hangs:
 * the request is recorded at once, with this status, and answered later unless the receiver goes down first).
 */
export type Answer =
  number | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number };

/** Decides the answer to a request; `history` holds every earlier request (not this one). */
export type Answerer = (req: Omit<ReceivedRequest, 'status'>, history: readonly ReceivedRequest[]) => Answer;

/** A running (or stopped) receiver. */
export interface Receiver {
  /** Its TCP port on 127.0.0.1 (the same after `down()`/`up()`). */
  readonly port: number;
  /** `http://127.0.0.1:<port>/hook`. */
  readonly url: string;
  /** Every request so far, in arrival order. */
  requests(): readonly ReceivedRequest[];
  /** Replaces the answering policy (default: 200 to everything). */
  answer(answerer: Answerer): void;
  /** Resolves once `check(requests)` is true (checked now and on every request); rejects after `timeoutMs`. */
  waitFor(
    check: (reqs: readonly ReceivedRequest[]) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void>;
  /** True while listening. */
  isUp(): boolean;
  /** Stops listening and drops open connections (keep-alive included): the port refuses connections. */
  down(): Promise<void>;
  /** Listens on the same port again. */
  up(): Promise<void>;
  /** Same as `down()`; for afterEach. */
  close(): Promise<void>;
}

/** 200 to everything. */
export const always200: Answerer = () => 200;

/** Answers `status` to the first `times` attempts of each delivery (by `X-Sippbx-Delivery`), then 200. */
export function failFirstAttempts(times: number, status = 500): Answerer {
  return (req, history) => {
    const id = req.headers['x-sippbx-delivery'];
    const earlier = history.filter((h) => h.headers['x-sippbx-delivery'] === id).length;
    return earlier < times ? status : 200;
  };
}

/** True when `header` is `sha256=` + hex HMAC-SHA256 of `rawBody` keyed with `secret` (docs/events.md). */
export function signatureValid(
  secret: string,
  rawBody: Buffer,
  header: string | string[] | undefined,
): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`);
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

interface Waiter {
  check: (reqs: readonly ReceivedRequest[]) => boolean;
  done: () => void;
}

const live = new Set<Receiver>();

/** Stops every receiver this worker started; use in afterEach/afterAll. */
export async function closeAllReceivers(): Promise<void> {
  await Promise.all([...live].map((r) => r.close()));
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver has no TCP address');
  return address.port;
}

/**
 * Starts a receiver on 127.0.0.1:`port` (default: an ephemeral one). To test "receiver down", pick a free port
 * first (`freeLocalPort`), point the pbx at it while nothing listens, then `startReceiver({ port })`.
 */
export async function startReceiver(opts: { port?: number; answer?: Answerer } = {}): Promise<Receiver> {
  const received: ReceivedRequest[] = [];
  const waiters = new Set<Waiter>();
  const delayed = new Set<NodeJS.Timeout>();
  let answerer: Answerer = opts.answer ?? always200;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const base = {
        index: received.length,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawBody,
        json: parseJson(rawBody),
        at: performance.now(),
      };
      const a = answerer(base, received);
      const answer = typeof a === 'number' ? { status: a } : a;
      received.push({ ...base, status: answer.status });
      const respond = (): void => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'Content-Type': 'text/plain', ...answer.headers });
        res.end(answer.body ?? '');
      };
      if (answer.delayMs === undefined) respond();
      else {
        const timer = setTimeout(() => {
          delayed.delete(timer);
          respond();
        }, answer.delayMs);
        delayed.add(timer);
      }
      for (const w of waiters) {
        if (w.check(received)) {
          waiters.delete(w);
          w.done();
        }
      }
    });
  };

  let server: Server | null = createServer(handle);
  const port = await listen(server, opts.port ?? 0);

  const down = async (): Promise<void> => {
    const s = server;
    if (s === null) return;
    server = null;
    for (const timer of delayed) clearTimeout(timer);
    delayed.clear();
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await closed;
  };

  const receiver: Receiver = {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    requests: () => received,
    answer: (next) => {
      answerer = next;
    },
    waitFor: (check, timeoutMs, what) => {
      if (check(received)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(`receiver: ${what} not reached within ${timeoutMs} ms (${received.length} requests)`),
          );
        }, timeoutMs);
        const waiter: Waiter = {
          check,
          done: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        waiters.add(waiter);
      });
    },
    isUp: () => server !== null,
    down,
    up: async () => {
      if (server !== null) return;
      const s = createServer(handle);
      await listen(s, port);
      server = s;
    },
    close: async () => {
      live.delete(receiver);
      await down();
    },
  };
  live.add(receiver);
  return receiver;
}
