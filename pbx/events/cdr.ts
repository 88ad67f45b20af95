/** CDR writer: one JSON line per call attempt (from `call.ended`), appended durably and logged. */
import { systemClock } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { openLineFile } from './line-file.js';
import type { LineFile } from './line-file.js';
import type { CallEndedEvent, CallEvent, CdrFields, EventLegs } from './types.js';

/** One CDR line: every CONTRACTS.md CDR field plus the call id and the legs. */
export interface CdrRecord extends CdrFields {
  readonly callId: string;
  readonly legs: EventLegs;
}

/** How the CDR writer is set up. */
export interface CdrWriterOptions {
  /** JSON-lines file; null: CDRs only as log lines. */
  readonly path: string | null;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Longest time a CDR line waits for its fsync (default 200 ms). */
  readonly syncIntervalMs?: number;
  /** CDR lines written before an fsync is started at once (default 100). */
  readonly syncEveryLines?: number;
}

/** Writes CDRs from call events. */
export interface CdrWriter {
  /** Takes any event; only `call.ended` produces a record. Never throws. */
  write(event: CallEvent): void;
  /** Resolves when every CDR written so far is fsynced. */
  flush(): Promise<void>;
  /** Flushes, fsyncs and closes the file. Idempotent. */
  close(): Promise<void>;
}

/** The CDR record of a `call.ended` event, fields in a stable order. */
export function cdrRecord(event: CallEndedEvent): CdrRecord {
  return {
    callId: event.callId,
    legs: event.legs,
    startTime: event.startTime,
    answerTime: event.answerTime,
    endTime: event.endTime,
    durationSeconds: event.durationSeconds,
    billableSeconds: event.billableSeconds,
    result: event.result,
    sipCode: event.sipCode,
    endedBy: event.endedBy,
    reason: event.reason,
  };
}

/** Opens the CDR file (when `path` is set); a partial last line from a crash is closed off first. */
export function createCdrWriter(opts: CdrWriterOptions): CdrWriter {
  const { logger } = opts;
  const file: LineFile | null =
    opts.path === null
      ? null
      : openLineFile({
          path: opts.path,
          clock: opts.clock ?? systemClock(),
          logger,
          ...(opts.syncIntervalMs === undefined ? {} : { syncIntervalMs: opts.syncIntervalMs }),
          ...(opts.syncEveryLines === undefined ? {} : { syncEveryLines: opts.syncEveryLines }),
        });
  return {
    write(event) {
      if (event.type !== 'call.ended') return;
      const record = cdrRecord(event);
      logger.info({ callId: record.callId, cdr: record }, 'cdr');
      if (file !== null && !file.append(JSON.stringify(record))) {
        logger.error({ callId: record.callId }, 'cdr not written to file');
      }
    },
    flush: () => file?.flush() ?? Promise.resolve(),
    close: () => file?.close() ?? Promise.resolve(),
  };
}
