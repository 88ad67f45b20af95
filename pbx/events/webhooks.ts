/**
 * Webhook dispatcher: POSTs each subscribed call event to every webhook, signed, with timeouts,
 * retries and a durable spool (when `spoolDir` is set), without ever blocking the caller.
 */
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { FetchLike } from './http-post.js';
import { openLineFile } from './line-file.js';
import type { LineFile } from './line-file.js';
import { DEFAULT_BACKOFF } from './retry-policy.js';
import type { BackoffPolicy } from './retry-policy.js';
import { openSpool } from './spool.js';
import { createLane } from './webhook-lane.js';
import type { DeadLetter, Lane, WebhookConfig, WebhookResult } from './webhook-lane.js';
import type { CallEvent } from './types.js';

/** How the dispatcher is set up; everything after `logger` has a default and exists for tests. */
export interface WebhookDispatcherOptions {
  readonly webhooks: readonly WebhookConfig[];
  /** Folder of the spool and dead-letter files; null: pending events live in memory only (lost on restart). */
  readonly spoolDir: string | null;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called once per attempt outcome (feeds `sippbx_webhook_deliveries_total{result}`). */
  readonly onResult?: (result: WebhookResult) => void;
  readonly fetch?: FetchLike;
  /** Uniform random in [0, 1) for backoff jitter. */
  readonly random?: () => number;
  /** Wall-clock ms since the epoch (spool times, Retry-After dates). */
  readonly wallNow?: () => number;
  readonly backoff?: BackoffPolicy;
  /** Requests in flight per webhook (default 4). */
  readonly concurrency?: number;
  /** Deliveries held in memory per webhook (default 1000); beyond it they wait in the spool only. */
  readonly maxQueue?: number;
}

/** Delivers call events to the configured webhooks. */
export interface WebhookDispatcher {
  /** Spools and queues `event` for every webhook subscribed to its type; returns at once, never throws. */
  enqueue(event: CallEvent): void;
  /** Stops timers, waits up to `flushTimeoutMs` (default 1000) for requests in flight; the rest stays spooled. */
  close(opts?: { readonly flushTimeoutMs?: number }): Promise<void>;
}

/** The spool file of webhook number `index` (its position in `events.webhooks`). */
export function spoolPath(spoolDir: string, index: number): string {
  return join(spoolDir, `spool-${index}.jsonl`);
}

/** The dead-letter file: deliveries rejected by the receiver or out of attempts. */
export function deadLetterPath(spoolDir: string): string {
  return join(spoolDir, 'dead-letter.jsonl');
}

function deadLetterSink(
  file: LineFile | null,
  logger: Logger,
  wallNow: () => number,
): (letter: DeadLetter) => void {
  return (letter) => {
    const { event, ...rest } = letter;
    logger.error({ ...rest, callId: event.callId, eventId: event.id }, 'webhook delivery dead-lettered');
    const record = {
      deadAt: new Date(wallNow()).toISOString(),
      ...rest,
      id: event.id,
      type: event.type,
      event,
    };
    file?.append(JSON.stringify(record));
  };
}

/** Creates the dispatcher and replays whatever the spool still holds from an earlier run. */
export function createWebhookDispatcher(opts: WebhookDispatcherOptions): WebhookDispatcher {
  const { clock, logger, spoolDir } = opts;
  const wallNow = opts.wallNow ?? Date.now;
  const onResult = opts.onResult ?? ((): void => undefined);
  const deadLetters =
    spoolDir === null ? null : openLineFile({ path: deadLetterPath(spoolDir), clock, logger });
  const lanes: Lane[] = opts.webhooks.map((config, index) =>
    createLane({
      index,
      config,
      spool: spoolDir === null ? null : openSpool({ path: spoolPath(spoolDir, index), clock, logger }),
      clock,
      wallNow,
      random: opts.random ?? Math.random,
      fetch: opts.fetch ?? fetch,
      logger,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      concurrency: opts.concurrency ?? 4,
      maxQueue: opts.maxQueue ?? 1000,
      onResult: (result) => {
        try {
          onResult(result);
        } catch (err) {
          logger.error({ err }, 'webhook result callback failed');
        }
      },
      deadLetter: deadLetterSink(deadLetters, logger, wallNow),
    }),
  );
  return {
    enqueue(event) {
      let body: string | null = null;
      for (const lane of lanes) {
        if (!lane.config.events.includes(event.type)) continue;
        body ??= JSON.stringify(event);
        lane.offer(event, body);
      }
    },
    async close(closeOpts = {}) {
      await Promise.all(lanes.map((lane) => lane.close(closeOpts.flushTimeoutMs ?? 1000)));
      await deadLetters?.close();
    },
  };
}
