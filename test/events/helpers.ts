// Test helpers for pbx/events: event builders, a real node:http receiver, result recorders, a silent logger.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../pbx/core/logger.js';
import type { Logger } from '../../pbx/core/logger.js';
import type { CallEndedEvent, CallEvent, CallProgressEvent } from '../../pbx/events/index.js';

const legs = (n: number) => ({
  a: {
    callId: `a-${n}@10.0.0.1`,
    from: `sip:alice${n}@example.com`,
    to: 'sip:bob@example.com',
    source: '10.0.0.1:5060',
  },
  b: { callId: `b-${n}@pbx`, target: 'sip:bob@10.0.0.2:5060' },
});

/** A call.started or call.answered event of call `n`. */
export function progressEvent(type: CallProgressEvent['type'], n: number): CallProgressEvent {
  return {
    type,
    id: `evt-${type}-${n}`,
    timestamp: '2025-01-01T00:00:00.000Z',
    callId: `call-${n}`,
    legs: legs(n),
  };
}

/** A call.ended event of call `n`. */
export function endedEvent(n: number, overrides: Partial<CallEndedEvent> = {}): CallEndedEvent {
  return {
    type: 'call.ended',
    id: `evt-call.ended-${n}`,
    timestamp: '2025-01-01T00:01:00.000Z',
    callId: `call-${n}`,
    legs: legs(n),
    startTime: '2025-01-01T00:00:00.000Z',
    answerTime: '2025-01-01T00:00:05.000Z',
    endTime: '2025-01-01T00:01:00.000Z',
    durationSeconds: 60,
    billableSeconds: 55,
    result: 'answered',
    sipCode: 200,
    endedBy: 'caller',
    reason: 'bye',
    ...overrides,
  };
}

/** The three events of call `n`. */
export function callEvents(n: number): CallEvent[] {
  return [progressEvent('call.started', n), progressEvent('call.answered', n), endedEvent(n)];
}

/** A logger whose JSON lines land in `lines`. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

/** A fresh temporary folder. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sippbx-events-'));
}

/** A list that can be awaited until it holds `n` items. */
export function waitList<T>(): { items: T[]; push(item: T): void; until(n: number): Promise<void> } {
  const items: T[] = [];
  let waiters: { n: number; resolve: () => void }[] = [];
  return {
    items,
    push(item) {
      items.push(item);
      waiters = waiters.filter((w) => (items.length >= w.n ? (w.resolve(), false) : true));
    },
    until(n) {
      if (items.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

/** One request as the receiver saw it. */
export interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** How the receiver answers request number `n` (0-based): a status (and headers), or 'hang' (never answers). */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

/** A real HTTP receiver on 127.0.0.1, port 0. */
export async function startReceiver(answer: (req: Received, n: number) => Answer = () => ({ status: 200 })) {
  const received = waitList<Received>();
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const a = answer(r, received.items.length);
      received.push(r);
      if (a === 'hang') return void hanging.push(res);
      res.writeHead(a.status, a.headers ?? {}).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}/hook`,
    port: address.port,
    received,
    /** Ids (X-Sippbx-Delivery) seen so far. */
    ids: () => new Set(received.items.map((r) => String(r.headers['x-sippbx-delivery']))),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A URL nobody listens on (a receiver started and stopped). */
export async function deadUrl(): Promise<string> {
  const r = await startReceiver();
  await r.close();
  return r.url;
}

/** A webhook config with test defaults. */
export function hook(
  url: string,
  extra: Partial<{
    events: CallEvent['type'][];
    secret: string | null;
    timeoutMs: number;
    maxAttempts: number;
  }> = {},
) {
  return {
    url,
    events: ['call.started', 'call.answered', 'call.ended'] as CallEvent['type'][],
    secret: null,
    timeoutMs: 5000,
    maxAttempts: 8,
    ...extra,
  };
}
