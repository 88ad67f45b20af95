/** Call events, CDRs and webhook delivery. */
export type {
  CallEndedEvent,
  CallEvent,
  CallEventBase,
  CallEventType,
  CallProgressEvent,
  CallResult,
  CdrFields,
  EndedBy,
  EventLegs,
  EventSink,
} from './types.js';
export { createEventBus } from './bus.js';
export type { EventBus, EventSubscriber } from './bus.js';
export { eventLogger } from './log.js';
export { cdrRecord, createCdrWriter } from './cdr.js';
export type { CdrRecord, CdrWriter, CdrWriterOptions } from './cdr.js';
export { createWebhookDispatcher, deadLetterPath, spoolPath } from './webhooks.js';
export type { WebhookDispatcher, WebhookDispatcherOptions } from './webhooks.js';
export type { DeadLetter, WebhookConfig, WebhookResult } from './webhook-lane.js';
export type { FetchLike, PostOutcome } from './http-post.js';
export { signBody, verifySignature } from './signature.js';
export { backoffDelay, parseRetryAfter, DEFAULT_BACKOFF } from './retry-policy.js';
export type { BackoffPolicy } from './retry-policy.js';
export { readSpool } from './spool.js';
export type { SpoolEntry } from './spool.js';
export { readJsonLines } from './line-file.js';
export { createEventPipeline } from './pipeline.js';
export type { EventPipeline, EventPipelineOptions, EventsConfig } from './pipeline.js';
