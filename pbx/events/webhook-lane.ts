/**
 * One webhook's delivery lane: a bounded in-memory queue, at most `concurrency` requests in flight,
 * retries on their own timers, an endpoint-wide pause after Retry-After, and the spool behind it all.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { postEvent } from './http-post.js';
import type { FetchLike, PostOutcome } from './http-post.js';
import { backoffDelay } from './retry-policy.js';
import type { BackoffPolicy } from './retry-policy.js';
import { signBody } from './signature.js';
import type { Spool, SpoolEntry } from './spool.js';
import type { CallEvent, CallEventType } from './types.js';

/** One webhook as configured (`events.webhooks[]`). */
export interface WebhookConfig {
  readonly url: string;
  readonly events: readonly CallEventType[];
  readonly secret: string | null;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
}

/** How a delivery attempt ended, as counted in `sippbx_webhook_deliveries_total{result}`. */
export type WebhookResult = 'delivered' | 'retry' | 'failed' | 'dead-letter';

/** A delivery that will not be tried again: rejected (4xx) or out of attempts. */
export interface DeadLetter {
  readonly webhook: number;
  readonly url: string;
  readonly reason: 'rejected' | 'exhausted';
  readonly attempts: number;
  readonly lastError: string;
  readonly event: CallEvent;
}

/** What a lane needs from its dispatcher. */
export interface LaneOptions {
  readonly index: number;
  readonly config: WebhookConfig;
  readonly spool: Spool | null;
  readonly clock: Clock;
  readonly wallNow: () => number;
  readonly random: () => number;
  readonly fetch: FetchLike;
  readonly logger: Logger;
  readonly backoff: BackoffPolicy;
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly onResult: (result: WebhookResult) => void;
  readonly deadLetter: (letter: DeadLetter) => void;
}

/** A webhook's lane. */
export interface Lane {
  readonly config: WebhookConfig;
  /** Spools and queues one event (body = its exact JSON); returns at once. */
  offer(event: CallEvent, body: string): void;
  /** Stops timers, waits up to `flushTimeoutMs` for requests in flight, aborts the rest, closes the spool. */
  close(flushTimeoutMs: number): Promise<void>;
}

interface Delivery {
  readonly id: string;
  readonly event: CallEvent;
  readonly body: string;
  attempts: number;
  nextAt: number;
}

interface InFlight {
  readonly controller: AbortController;
  done: Promise<void>;
}

// The request headers of one attempt; receivers de-duplicate on X-Sippbx-Delivery.
function deliveryHeaders(config: WebhookConfig, d: Delivery): Record<string, string> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-Sippbx-Event': d.event.type,
    'X-Sippbx-Delivery': d.id,
    'X-Sippbx-Attempt': String(d.attempts),
  };
  if (config.secret !== null) headers['X-Sippbx-Signature'] = signBody(config.secret, d.body);
  return headers;
}

/** Creates a lane and schedules the deliveries its spool recovered. */
export function createLane(o: LaneOptions): Lane {
  const { clock, config, logger } = o;
  const ready: Delivery[] = [];
  const waiting = new Map<string, { delivery: Delivery; timer: TimerHandle }>();
  const inFlight = new Map<string, InFlight>();
  let overflow = false;
  let stopping = false;
  let pausedUntil = 0;
  let pauseTimer: TimerHandle | null = null;
  let closing: Promise<void> | null = null;
  const held = (): number => ready.length + waiting.size + inFlight.size;
  const log = (d: Delivery): Record<string, unknown> => ({
    webhook: o.index,
    url: config.url,
    callId: d.event.callId,
    eventId: d.id,
    attempts: d.attempts,
  });

  const paused = (): boolean => {
    const wait = pausedUntil - clock.now();
    if (wait <= 0) return false;
    pauseTimer ??= clock.setTimer(wait, () => {
      pauseTimer = null;
      pump();
    });
    return true;
  };

  const pump = (): void => {
    while (!stopping && inFlight.size < o.concurrency && ready.length > 0 && !paused()) {
      const d = ready.shift();
      if (d !== undefined) start(d);
    }
  };

  const schedule = (d: Delivery, delayMs: number): void => {
    if (delayMs <= 0) {
      ready.push(d);
      return pump();
    }
    const timer = clock.setTimer(delayMs, () => {
      waiting.delete(d.id);
      ready.push(d);
      pump();
    });
    waiting.set(d.id, { delivery: d, timer });
  };

  const admit = (e: SpoolEntry): void => {
    const d: Delivery = {
      id: e.id,
      event: e.event,
      body: JSON.stringify(e.event),
      attempts: e.attempts,
      nextAt: e.nextAt,
    };
    schedule(d, Math.min(Math.max(0, e.nextAt - o.wallNow()), o.backoff.maxMs));
  };

  const refill = (): void => {
    if (!overflow || stopping || o.spool === null) return;
    const room = o.maxQueue - held();
    if (room < Math.ceil(o.maxQueue / 2)) return;
    const ids = new Set([...ready.map((d) => d.id), ...waiting.keys(), ...inFlight.keys()]);
    const entries = o.spool.load(ids, room);
    if (entries.length < room) overflow = false;
    for (const e of entries) admit(e);
  };

  const finish = (d: Delivery, reason: DeadLetter['reason'], lastError: string): void => {
    o.deadLetter({
      webhook: o.index,
      url: config.url,
      reason,
      attempts: d.attempts,
      lastError,
      event: d.event,
    });
    o.spool?.ack(d.id);
    o.onResult(reason === 'rejected' ? 'failed' : 'dead-letter');
  };

  const retry = (d: Delivery, error: string, retryAfterMs: number | null): void => {
    if (d.attempts >= config.maxAttempts) return finish(d, 'exhausted', error);
    const delay =
      retryAfterMs === null
        ? backoffDelay(d.attempts, o.backoff, o.random)
        : Math.min(retryAfterMs, o.backoff.maxMs);
    // Retry-After speaks for the endpoint, not just this delivery: hold every request until then.
    if (retryAfterMs !== null) pausedUntil = Math.max(pausedUntil, clock.now() + delay);
    d.nextAt = o.wallNow() + delay;
    o.spool?.attempt(d.id, d.attempts, d.nextAt, error);
    o.onResult('retry');
    logger.warn({ ...log(d), error, retryInMs: delay }, 'webhook delivery failed, will retry');
    if (!stopping) schedule(d, delay);
  };

  const settle = (d: Delivery, outcome: PostOutcome): void => {
    switch (outcome.kind) {
      case 'delivered':
        o.spool?.ack(d.id);
        o.onResult('delivered');
        logger.debug({ ...log(d), status: outcome.status }, 'webhook delivered');
        return;
      case 'failed':
        return finish(d, 'rejected', outcome.error);
      case 'retry':
        return retry(d, outcome.error, outcome.retryAfterMs);
    }
  };

  const run = async (d: Delivery, signal: AbortSignal): Promise<void> => {
    d.attempts += 1;
    const outcome = await postEvent({
      fetch: o.fetch,
      url: config.url,
      body: d.body,
      headers: deliveryHeaders(config, d),
      timeoutMs: config.timeoutMs,
      clock,
      wallNow: o.wallNow,
      signal,
    });
    inFlight.delete(d.id);
    // Aborted by close(): the delivery stays pending in the spool for the next start.
    if (signal.aborted) return;
    settle(d, outcome);
    refill();
    pump();
  };

  function start(d: Delivery): void {
    const flight: InFlight = { controller: new AbortController(), done: Promise.resolve() };
    inFlight.set(d.id, flight);
    flight.done = run(d, flight.controller.signal).catch((err: unknown) => {
      logger.error({ ...log(d), err }, 'webhook delivery crashed');
    });
  }

  const waitInFlight = async (flushTimeoutMs: number): Promise<void> => {
    const flights = [...inFlight.values()];
    if (flights.length === 0) return;
    if (flushTimeoutMs > 0) {
      let timer: TimerHandle | null = null;
      const timeout = new Promise<void>((resolve) => {
        timer = clock.setTimer(flushTimeoutMs, resolve);
      });
      await Promise.race([Promise.all(flights.map((f) => f.done)), timeout]);
      if (timer !== null) clock.clearTimer(timer);
    }
    for (const f of inFlight.values()) f.controller.abort();
    await Promise.all(flights.map((f) => f.done));
  };

  for (const e of (o.spool?.recovered ?? []).slice(0, o.maxQueue)) admit(e);
  overflow = (o.spool?.recovered.length ?? 0) > o.maxQueue;

  return {
    config,
    offer(event, body) {
      const d: Delivery = { id: event.id, event, body, attempts: 0, nextAt: o.wallNow() };
      o.spool?.add({ id: d.id, event, attempts: 0, nextAt: d.nextAt });
      if (stopping) return void logger.warn(log(d), 'webhook event after close: not delivered');
      if (held() < o.maxQueue) return schedule(d, 0);
      if (o.spool !== null) {
        overflow = true;
        return;
      }
      logger.error(log(d), 'webhook queue full and no spool: event dropped');
      o.onResult('failed');
    },
    close(flushTimeoutMs) {
      if (closing !== null) return closing;
      stopping = true;
      for (const w of waiting.values()) clock.clearTimer(w.timer);
      waiting.clear();
      ready.length = 0;
      if (pauseTimer !== null) clock.clearTimer(pauseTimer);
      closing = waitInFlight(flushTimeoutMs).then(() => o.spool?.close());
      return closing;
    },
  };
}
