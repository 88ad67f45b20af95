import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import { createEventPipeline, readJsonLines } from '../../pbx/events/index.js';
import type { WebhookResult } from '../../pbx/events/index.js';
import { callEvents, captureLogger, hook, startReceiver, tempDir, waitList } from './helpers.js';

describe('event pipeline', () => {
  it('feeds the log, the CDR file and the webhooks from one sink', async () => {
    const r = await startReceiver();
    const dir = tempDir();
    const { logger, lines } = captureLogger();
    const results = waitList<WebhookResult>();
    const pipeline = createEventPipeline({
      config: {
        events: {
          cdr: { path: join(dir, 'cdr.jsonl') },
          webhooks: [hook(r.url, { secret: 'x' })],
          spoolDir: null,
        },
      },
      logger,
      clock: fakeClock(),
      spoolDir: join(dir, 'spool'),
      onWebhookResult: (x) => results.push(x),
    });
    for (const e of [...callEvents(1), ...callEvents(2)]) pipeline.sink.emit(e);
    await results.until(6);
    await pipeline.close();
    await pipeline.close();
    await r.close();
    expect(readJsonLines(join(dir, 'cdr.jsonl')).records).toHaveLength(2);
    expect(r.ids().size).toBe(6);
    expect(lines.filter((l) => l.msg === 'call.started')).toHaveLength(2);
    expect(lines.filter((l) => l.msg === 'cdr')).toHaveLength(2);
  });

  it('uses config.events.spoolDir and works without webhooks or CDR file', async () => {
    const pipeline = createEventPipeline({
      config: { events: { cdr: { path: null }, webhooks: [], spoolDir: tempDir() } },
      logger: captureLogger().logger,
      clock: fakeClock(),
    });
    for (const e of callEvents(1)) pipeline.sink.emit(e);
    await pipeline.close({ flushTimeoutMs: 0 });
  });
});
