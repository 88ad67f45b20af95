import { describe, expect, it } from 'vitest';
import { createEventBus, eventLogger } from '../../pbx/events/index.js';
import type { Logger } from '../../pbx/core/logger.js';
import type { CallEvent } from '../../pbx/events/index.js';
import { captureLogger, endedEvent, progressEvent, waitList } from './helpers.js';

describe('event bus', () => {
  it('fans every event out to every subscriber', () => {
    const bus = createEventBus();
    const a: CallEvent[] = [];
    const b: CallEvent[] = [];
    bus.subscribe('a', (e) => void a.push(e));
    const off = bus.subscribe('b', (e) => void b.push(e));
    bus.emit(progressEvent('call.started', 1));
    off();
    bus.emit(endedEvent(1));
    expect(a.map((e) => e.type)).toEqual(['call.started', 'call.ended']);
    expect(b.map((e) => e.type)).toEqual(['call.started']);
  });

  it('contains a throwing or rejecting subscriber: others still get the event, emit does not throw', async () => {
    const { logger, lines } = captureLogger();
    const bus = createEventBus({ logger });
    const got: string[] = [];
    const failures = waitList<unknown>();
    bus.subscribe('throws', () => {
      throw new Error('boom');
    });
    bus.subscribe('rejects', () => Promise.reject(new Error('later boom')).finally(() => failures.push(1)));
    bus.subscribe('ok', (e) => void got.push(e.id));
    expect(() => bus.emit(endedEvent(1))).not.toThrow();
    expect(got).toEqual([endedEvent(1).id]);
    await failures.until(1);
    await new Promise((resolve) => setImmediate(resolve)); // the bus's catch handler runs after the finally
    const failed = lines.filter((l) => l.msg === 'event subscriber failed');
    expect(failed.map((l) => l.subscriber).sort()).toEqual(['rejects', 'throws']);
    expect(failed[0]).toMatchObject({ callId: 'call-1' });
  });

  it('survives a logger that throws too', () => {
    const broken = {
      error: () => {
        throw new Error('logger down');
      },
    } as unknown as Logger;
    const bus = createEventBus({ logger: broken });
    bus.subscribe('throws', () => {
      throw new Error('boom');
    });
    expect(() => bus.emit(endedEvent(1))).not.toThrow();
  });

  it('logs each event with its call id', () => {
    const { logger, lines } = captureLogger();
    eventLogger(logger)(progressEvent('call.answered', 3)) as void;
    expect(lines[0]).toMatchObject({
      msg: 'call.answered',
      callId: 'call-3',
      event: { type: 'call.answered' },
    });
  });
});
