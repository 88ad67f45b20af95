/** The event pipeline app.ts wires in: one bus feeding the log, the CDR writer and the webhook dispatcher. */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { createEventBus } from './bus.js';
import { createCdrWriter } from './cdr.js';
import type { FetchLike } from './http-post.js';
import { eventLogger } from './log.js';
import type { EventSink } from './types.js';
import type { WebhookConfig, WebhookResult } from './webhook-lane.js';
import { createWebhookDispatcher } from './webhooks.js';

/** The `events` section of the pbx config (CONTRACTS.md); a whole `PbxConfig` fits `{ events }`. */
export interface EventsConfig {
  readonly cdr: { readonly path: string | null };
  readonly webhooks: readonly WebhookConfig[];
  readonly spoolDir: string | null;
}

/** How the pipeline is built. */
export interface EventPipelineOptions {
  readonly config: { readonly events: EventsConfig };
  readonly logger: Logger;
  readonly clock: Clock;
  /** Overrides `config.events.spoolDir` when given. */
  readonly spoolDir?: string | null;
  /** Called per webhook attempt outcome; feed `sippbx_webhook_deliveries_total{result}` from it. */
  readonly onWebhookResult?: (result: WebhookResult) => void;
  readonly fetch?: FetchLike;
}

/** A running pipeline. */
export interface EventPipeline {
  /** Hand this to the B2BUA. */
  readonly sink: EventSink;
  /** Closes webhooks (pending deliveries stay spooled) and fsyncs and closes the CDR file. Idempotent. */
  close(opts?: { readonly flushTimeoutMs?: number }): Promise<void>;
}

/** Builds bus + log subscriber + CDR writer + webhook dispatcher. */
export function createEventPipeline(opts: EventPipelineOptions): EventPipeline {
  const { config, logger, clock } = opts;
  const bus = createEventBus({ logger });
  const cdr = createCdrWriter({ path: config.events.cdr.path, logger, clock });
  const webhooks = createWebhookDispatcher({
    webhooks: config.events.webhooks,
    spoolDir: opts.spoolDir === undefined ? config.events.spoolDir : opts.spoolDir,
    clock,
    logger,
    ...(opts.onWebhookResult === undefined ? {} : { onResult: opts.onWebhookResult }),
    ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
  });
  bus.subscribe('log', eventLogger(logger));
  bus.subscribe('cdr', (event) => cdr.write(event));
  bus.subscribe('webhooks', (event) => webhooks.enqueue(event));
  let closing: Promise<void> | null = null;
  return {
    sink: { emit: (event) => bus.emit(event) },
    close(closeOpts = {}) {
      closing ??= Promise.all([webhooks.close(closeOpts), cdr.close()]).then(() => undefined);
      return closing;
    },
  };
}
