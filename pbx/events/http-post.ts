/** One webhook attempt: POST the body with a timeout and classify the answer (delivered, retry, failed). */
import type { Clock } from '../core/clock.js';
import { parseRetryAfter } from './retry-policy.js';

/** The slice of `fetch` the dispatcher uses; global `fetch` fits, tests may inject their own. */
export type FetchLike = (
  url: string,
  init: {
    method: 'POST';
    headers: Record<string, string>;
    body: string;
    signal: AbortSignal;
    redirect: 'manual';
  },
) => Promise<{
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

/** What one attempt came to. */
export type PostOutcome =
  | { readonly kind: 'delivered'; readonly status: number }
  | { readonly kind: 'retry'; readonly error: string; readonly retryAfterMs: number | null }
  | { readonly kind: 'failed'; readonly error: string };

/** One attempt's inputs. */
export interface PostRequest {
  readonly fetch: FetchLike;
  readonly url: string;
  readonly body: string;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Wall-clock milliseconds since the epoch (for Retry-After dates). */
  readonly wallNow: () => number;
  /** Aborts the attempt from outside (dispatcher close). */
  readonly signal: AbortSignal;
}

/** Classifies an HTTP status: 2xx delivered; 5xx and 429 retried (Retry-After honoured on 429/503); else failed. */
export function classifyStatus(status: number, retryAfter: string | null, wallNow: number): PostOutcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const error = `HTTP ${status}`;
  if (status === 429 || status === 503) {
    return { kind: 'retry', error, retryAfterMs: parseRetryAfter(retryAfter, wallNow) };
  }
  if (status >= 500) return { kind: 'retry', error, retryAfterMs: null };
  return { kind: 'failed', error };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === 'string' ? cause.code : cause?.message;
  return typeof detail === 'string' ? `${err.message}: ${detail}` : err.message;
}

/** Sends one attempt; never throws (network errors and timeouts come back as `retry`). */
export async function postEvent(req: PostRequest): Promise<PostOutcome> {
  const timeout = new AbortController();
  const timer = req.clock.setTimer(req.timeoutMs, () => timeout.abort());
  const signal = AbortSignal.any([req.signal, timeout.signal]);
  // A fetch that ignores its signal must not outlive the timeout either.
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const res = await Promise.race([
      req.fetch(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal,
        redirect: 'manual',
      }),
      aborted,
    ]);
    const outcome = classifyStatus(res.status, res.headers.get('retry-after'), req.wallNow());
    // Read the answer to the end so the connection can be reused; its content does not matter.
    await res.arrayBuffer().catch(() => undefined);
    return outcome;
  } catch (err) {
    const error = timeout.signal.aborted ? `timeout after ${req.timeoutMs} ms` : describe(err);
    return { kind: 'retry', error, retryAfterMs: null };
  } finally {
    signal.removeEventListener('abort', onAbort);
    req.clock.clearTimer(timer);
  }
}
