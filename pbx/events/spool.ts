/**
 * The webhook spool: an append-only JSON-lines file of pending deliveries. `enqueue` lines add one,
 * `attempt` lines update its attempt count and next-attempt time, `ack` lines end it; pending =
 * enqueued minus acked. Compacted when everything is acked, when it grows large, and on open.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { openLineFile, readJsonLines } from './line-file.js';
import type { CallEvent } from './types.js';

/** One pending delivery. */
export interface SpoolEntry {
  /** The event id (also the `X-Sippbx-Delivery` header). */
  readonly id: string;
  readonly event: CallEvent;
  /** Attempts made so far. */
  readonly attempts: number;
  /** Wall-clock time (ms since the epoch) of the next attempt. */
  readonly nextAt: number;
}

/** An open spool. */
export interface Spool {
  /** Pending entries found on open, oldest first. */
  readonly recovered: readonly SpoolEntry[];
  /** Records a new pending delivery (one whole line, written before the delivery starts). */
  add(entry: SpoolEntry): void;
  /** Records a failed attempt and when the next one is due. */
  attempt(id: string, attempts: number, nextAt: number, error: string): void;
  /** Ends a delivery (delivered or dead-lettered). */
  ack(id: string): void;
  /** Number of pending deliveries. */
  pending(): number;
  /** Pending entries whose id is not in `held`, oldest first, at most `limit` (read back from disk). */
  load(held: ReadonlySet<string>, limit: number): SpoolEntry[];
  /** Fsyncs and closes. Idempotent. */
  close(): Promise<void>;
}

/** How a spool is opened. */
export interface SpoolOptions {
  readonly path: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Rewrite the file once it has this many lines and four times more lines than pending entries (default 10 000). */
  readonly compactAfterLines?: number;
}

type Line = Record<string, unknown>;

function isLine(value: unknown): value is Line & { op: string; id: string } {
  if (typeof value !== 'object' || value === null) return false;
  const line = value as Line;
  return typeof line.op === 'string' && typeof line.id === 'string';
}

function applyLine(pending: Map<string, SpoolEntry>, line: Line & { op: string; id: string }): void {
  const known = pending.get(line.id);
  const attempts = typeof line.attempts === 'number' ? line.attempts : 0;
  const nextAt = typeof line.nextAt === 'number' ? line.nextAt : 0;
  if (line.op === 'enqueue' && known === undefined && typeof line.event === 'object' && line.event !== null) {
    pending.set(line.id, { id: line.id, event: line.event as CallEvent, attempts, nextAt });
  } else if (line.op === 'attempt' && known !== undefined) {
    pending.set(line.id, { ...known, attempts, nextAt });
  } else if (line.op === 'ack') {
    pending.delete(line.id);
  }
}

/** Folds spool lines into the pending deliveries, oldest first; lines that do not parse are counted. */
export function readSpool(path: string): { pending: SpoolEntry[]; lines: number; skipped: number } {
  const { records, skipped } = readJsonLines(path);
  const pending = new Map<string, SpoolEntry>();
  for (const record of records) if (isLine(record)) applyLine(pending, record);
  return { pending: [...pending.values()], lines: records.length + skipped, skipped };
}

function enqueueLine(entry: SpoolEntry): string {
  return JSON.stringify({
    op: 'enqueue',
    id: entry.id,
    attempts: entry.attempts,
    nextAt: entry.nextAt,
    event: entry.event,
  });
}

/** Opens a spool, recovers its pending deliveries and compacts it to just those. */
export function openSpool(opts: SpoolOptions): Spool {
  const { path, logger } = opts;
  const compactAfter = opts.compactAfterLines ?? 10_000;
  const found = readSpool(path);
  if (found.skipped > 0)
    logger.warn({ path, skipped: found.skipped }, 'spool lines skipped (partial or corrupt)');
  const file = openLineFile({ path, clock: opts.clock, logger });
  if (found.lines > found.pending.length) file.replace(found.pending.map(enqueueLine));
  const ids = new Set(found.pending.map((e) => e.id));
  let lines = found.pending.length;

  const compact = (): void => {
    const current = readSpool(path).pending.filter((e) => ids.has(e.id));
    file.replace(current.map(enqueueLine));
    lines = current.length;
  };
  const write = (line: string): void => {
    if (file.append(line)) lines += 1;
  };

  return {
    recovered: found.pending,
    add(entry) {
      if (ids.has(entry.id)) return;
      ids.add(entry.id);
      write(enqueueLine(entry));
    },
    attempt(id, attempts, nextAt, error) {
      if (ids.has(id)) write(JSON.stringify({ op: 'attempt', id, attempts, nextAt, error }));
    },
    ack(id) {
      if (!ids.delete(id)) return;
      if (ids.size === 0) {
        file.truncate();
        lines = 0;
        return;
      }
      write(JSON.stringify({ op: 'ack', id }));
      if (lines >= compactAfter && lines > 4 * ids.size) compact();
    },
    pending: () => ids.size,
    load(held, limit) {
      return readSpool(path)
        .pending.filter((e) => ids.has(e.id) && !held.has(e.id))
        .slice(0, limit);
    },
    close: () => file.close(),
  };
}
