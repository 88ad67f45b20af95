/** An append-only file of whole JSON lines with batched fsync; shared by the CDR writer and the webhook spool. */
import {
  closeSync,
  existsSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';

/** How an append-only line file is opened. */
export interface LineFileOptions {
  readonly path: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Longest time an appended line waits for its fsync (default 200 ms). */
  readonly syncIntervalMs?: number;
  /** Lines appended before an fsync is started at once (default 100). */
  readonly syncEveryLines?: number;
}

/** An open append-only line file. */
export interface LineFile {
  readonly path: string;
  /** Appends `line` plus a newline with one write (never a partial line on purpose); false when the write failed. */
  append(line: string): boolean;
  /** Truncates the file to nothing (every record in it is done with). */
  truncate(): void;
  /** Atomically replaces the contents with `lines`: temp file, fsync, rename, reopen. */
  replace(lines: readonly string[]): void;
  /** Resolves when every line appended so far is fsynced. */
  flush(): Promise<void>;
  /** Flushes, fsyncs and closes; later appends are ignored. Idempotent. */
  close(): Promise<void>;
}

/** Reads a JSON-lines file; lines that do not parse (a partial line left by a crash) are skipped and counted. */
export function readJsonLines(path: string): { records: unknown[]; skipped: number } {
  if (!existsSync(path)) return { records: [], skipped: 0 };
  const records: unknown[] = [];
  let skipped = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      skipped += 1;
    }
  }
  return { records, skipped };
}

// A crash may have cut the last line short; the next line must start on a line of its own.
function endsWithPartialLine(path: string): boolean {
  const size = statSync(path).size;
  if (size === 0) return false;
  const fd = openSync(path, 'r');
  try {
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}

function openForAppend(path: string): number {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a');
  if (endsWithPartialLine(path)) writeSync(fd, '\n');
  return fd;
}

function writeWhole(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

/** Opens (creating it and its folder when missing) an append-only line file. */
export function openLineFile(opts: LineFileOptions): LineFile {
  const { path, clock, logger } = opts;
  const intervalMs = opts.syncIntervalMs ?? 200;
  const everyLines = opts.syncEveryLines ?? 100;
  let fd: number | null = openForAppend(path);
  let unsynced = 0;
  let timer: TimerHandle | null = null;
  let chain: Promise<void> = Promise.resolve();
  let closing: Promise<void> | null = null;

  const fsyncNow = (): Promise<void> => {
    if (timer !== null) clock.clearTimer(timer);
    timer = null;
    if (unsynced === 0 || fd === null) return chain;
    unsynced = 0;
    const target = fd;
    chain = chain.then(
      () =>
        new Promise<void>((resolve) => {
          fsync(target, (err) => {
            // A descriptor replaced meanwhile (replace()) was already fsynced through its temp file.
            if (err !== null && target === fd) logger.error({ err, path }, 'fsync failed');
            resolve();
          });
        }),
    );
    return chain;
  };

  return {
    path,
    append(line) {
      if (fd === null) return false;
      try {
        writeWhole(fd, Buffer.from(`${line}\n`));
      } catch (err) {
        logger.error({ err, path }, 'append failed');
        return false;
      }
      unsynced += 1;
      if (unsynced >= everyLines) void fsyncNow();
      else timer ??= clock.setTimer(intervalMs, () => void fsyncNow());
      return true;
    },
    truncate() {
      if (fd === null) return;
      ftruncateSync(fd);
      unsynced += 1;
      void fsyncNow();
    },
    replace(lines) {
      if (fd === null) return;
      const tmp = `${path}.tmp`;
      const out = openSync(tmp, 'w');
      try {
        if (lines.length > 0) writeWhole(out, Buffer.from(`${lines.join('\n')}\n`));
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
      renameSync(tmp, path);
      closeSync(fd);
      fd = openSync(path, 'a');
      unsynced = 0;
    },
    flush: fsyncNow,
    close() {
      closing ??= (async () => {
        // Lines appended while an fsync runs need one more.
        do await fsyncNow();
        while (unsynced > 0);
        if (fd !== null) closeSync(fd);
        fd = null;
      })();
      return closing;
    },
  };
}
