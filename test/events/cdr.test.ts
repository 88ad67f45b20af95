import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createCdrWriter, readJsonLines } from '../../pbx/events/index.js';
import type { CallResult } from '../../pbx/events/index.js';
import { captureLogger, endedEvent, progressEvent, tempDir } from './helpers.js';

const CDR_FIELDS = [
  'callId',
  'legs',
  'startTime',
  'answerTime',
  'endTime',
  'durationSeconds',
  'billableSeconds',
  'result',
  'sipCode',
  'endedBy',
  'reason',
];

describe('CDR writer', () => {
  it('writes one valid JSON line with every field per call.ended, nothing for other events', async () => {
    const path = join(tempDir(), 'cdr', 'cdr.jsonl');
    const { logger, lines } = captureLogger();
    const clock = fakeClock();
    const cdr = createCdrWriter({ path, logger, clock, syncEveryLines: 3, syncIntervalMs: 50 });
    const results: CallResult[] = [
      'answered',
      'busy',
      'no-answer',
      'cancelled',
      'failed',
      'rejected',
      'answered',
    ];
    results.forEach((result, i) => {
      cdr.write(progressEvent('call.started', i));
      cdr.write(progressEvent('call.answered', i));
      cdr.write(
        endedEvent(i, { result, answerTime: result === 'answered' ? '2025-01-01T00:00:05.000Z' : null }),
      );
    });
    clock.advance(50); // the batched fsync of the last line
    await cdr.flush();
    await cdr.close();
    await cdr.close();
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const { records, skipped } = readJsonLines(path);
    expect(skipped).toBe(0);
    expect(records).toHaveLength(results.length);
    for (const [i, record] of records.entries()) {
      expect(Object.keys(record as object)).toEqual(CDR_FIELDS);
      expect(record).toMatchObject({ callId: `call-${i}`, result: results[i] });
    }
    expect(records[1]).toMatchObject({ answerTime: null });
    const logged = lines.filter((l) => l.msg === 'cdr');
    expect(logged).toHaveLength(results.length);
    expect(logged[0]).toMatchObject({ callId: 'call-0', cdr: { result: 'answered', sipCode: 200 } });
  });

  it('starts on a new line when the file ends with a partial line from a crash', async () => {
    const path = join(tempDir(), 'cdr.jsonl');
    writeFileSync(path, '{"callId":"call-0"}\n{"callId":"cut sh');
    const cdr = createCdrWriter({ path, logger: captureLogger().logger, clock: fakeClock() });
    cdr.write(endedEvent(1));
    await cdr.close();
    const { records, skipped } = readJsonLines(path);
    expect(skipped).toBe(1);
    expect(records).toMatchObject([{ callId: 'call-0' }, { callId: 'call-1' }]);
  });

  it('only logs when no path is configured', async () => {
    const { logger, lines } = captureLogger();
    const cdr = createCdrWriter({ path: null, logger });
    cdr.write(endedEvent(1));
    await cdr.flush();
    await cdr.close();
    expect(lines.filter((l) => l.msg === 'cdr')).toHaveLength(1);
  });

  it('logs, and does not throw, when a line cannot be written after close', async () => {
    const path = join(tempDir(), 'cdr.jsonl');
    const { logger, lines } = captureLogger();
    const cdr = createCdrWriter({ path, logger });
    await cdr.close();
    expect(() => cdr.write(endedEvent(1))).not.toThrow();
    expect(lines.some((l) => l.msg === 'cdr not written to file')).toBe(true);
  });
});
