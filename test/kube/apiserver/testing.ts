// Test helpers: raw HTTPS calls and line-by-line watch streams against a running ApiServer.
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import type { ApiServer } from './server.js';

/** A decoded HTTP reply. */
export interface CallResult {
  status: number;
  headers: IncomingMessage['headers'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

function open(
  s: ApiServer,
  method: string,
  path: string,
  headers: Record<string, string>,
): ReturnType<typeof request> {
  return request(`${s.url}${path}`, {
    method,
    ca: s.caPem,
    headers: { authorization: `Bearer ${s.token}`, ...headers },
  });
}

/** One request; the body is sent as JSON unless it is a string. */
export function call(
  s: ApiServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const length: Record<string, string> =
      text === undefined ? {} : { 'content-length': String(Buffer.byteLength(text)) };
    const req = open(s, method, path, { 'content-type': 'application/json', ...length, ...headers });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    if (text !== undefined) req.write(text);
    req.end();
  });
}

/** An event read from a watch stream. */
export interface WireEvent {
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  object: any;
}

/** An open watch: read events one at a time; `ended` resolves when the server closes the stream. */
export interface WatchStream {
  status: number;
  next(timeoutMs?: number): Promise<WireEvent>;
  ended: Promise<void>;
  close(): void;
}

/** Opens a watch (the path should carry `watch=true` or the `/watch/` prefix). */
export function watchStream(
  s: ApiServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<WatchStream> {
  return new Promise((resolve, reject) => {
    const req = open(s, 'GET', path, headers);
    req.on('error', reject);
    req.on('response', (res) => {
      res.on('error', () => undefined);
      const queue: WireEvent[] = [];
      const waiters: ((e: WireEvent) => void)[] = [];
      const lines = createInterface(res);
      lines.on('error', () => undefined);
      lines.on('line', (line) => {
        const ev = JSON.parse(line) as WireEvent;
        const w = waiters.shift();
        if (w) w(ev);
        else queue.push(ev);
      });
      const ended = new Promise<void>((done) => res.on('close', () => done()));
      const next = (timeoutMs = 5000): Promise<WireEvent> => {
        const ev = queue.shift();
        if (ev) return Promise.resolve(ev);
        return new Promise((ok, fail) => {
          const timer = setTimeout(() => fail(new Error(`no watch event within ${timeoutMs} ms`)), timeoutMs);
          waiters.push((e) => {
            clearTimeout(timer);
            ok(e);
          });
        });
      };
      const close = (): void => {
        req.removeAllListeners('error');
        req.on('error', () => undefined);
        req.destroy();
      };
      resolve({ status: res.statusCode ?? 0, next, ended, close });
    });
    req.end();
  });
}
