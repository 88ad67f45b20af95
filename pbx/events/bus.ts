/** The one event stream: fans each call event out to its subscribers (log, CDR, webhooks). */
import type { Logger } from '../core/logger.js';
import type { CallEvent, EventSink } from './types.js';

/** Receives every event; must be cheap (queue, don't wait). A throw or a rejected promise is logged and contained. */
export type EventSubscriber = (event: CallEvent) => void | Promise<void>;

/** An EventSink that subscribers can attach to. */
export interface EventBus extends EventSink {
  /** Adds a subscriber under `name` (used in logs); returns a function that removes it. */
  subscribe(name: string, subscriber: EventSubscriber): () => void;
}

/** Creates a bus; `emit` never throws and never waits, whatever the subscribers do. */
export function createEventBus(opts: { readonly logger?: Logger } = {}): EventBus {
  const subscribers = new Map<symbol, { name: string; fn: EventSubscriber }>();
  const failed = (name: string, event: CallEvent, err: unknown): void => {
    try {
      opts.logger?.error(
        { err, subscriber: name, callId: event.callId, eventId: event.id },
        'event subscriber failed',
      );
    } catch {
      // A broken logger must not reach the B2BUA either.
    }
  };
  return {
    subscribe(name, fn) {
      const key = Symbol(name);
      subscribers.set(key, { name, fn });
      return () => void subscribers.delete(key);
    },
    emit(event) {
      for (const { name, fn } of subscribers.values()) {
        try {
          const result = fn(event);
          if (result instanceof Promise) result.catch((err: unknown) => failed(name, event, err));
        } catch (err) {
          failed(name, event, err);
        }
      }
    },
  };
}
