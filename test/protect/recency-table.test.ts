import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRecencyTable } from '../../pbx/protect/recency-table.js';

describe('createRecencyTable', () => {
  it('is empty at first; dropOldest on empty is a no-op', () => {
    const table = createRecencyTable();
    expect(table.size).toBe(0);
    expect(table.oldestValue()).toBeUndefined();
    table.dropOldest();
    expect(table.size).toBe(0);
  });

  it('orders by last write and reuses dropped slots', () => {
    const table = createRecencyTable();
    table.set('a', 1);
    table.set('b', 2);
    table.set('c', 3);
    table.set('a', 4); // a becomes the newest
    expect(table.oldestValue()).toBe(2);
    table.dropOldest();
    expect(table.get('b')).toBeUndefined();
    table.set('d', 5);
    table.set('c', 6); // refresh the tail's neighbour
    expect([table.size, table.oldestValue(), table.get('c'), table.get('d')]).toEqual([3, 4, 6, 5]);
    table.dropOldest();
    table.dropOldest();
    table.dropOldest();
    expect([table.size, table.oldestValue()]).toEqual([0, undefined]);
    table.set('e', 7);
    expect([table.size, table.oldestValue(), table.get('e')]).toEqual([1, 7, 7]);
  });

  it('behaves like an insertion-ordered Map with delete-then-set (model check)', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        key: fc.integer({ min: 0, max: 8 }),
        value: fc.integer(),
      }),
      fc.record({ kind: fc.constant('drop' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const table = createRecencyTable();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            model.delete(String(o.key));
            model.set(String(o.key), o.value);
            table.set(String(o.key), o.value);
          } else {
            const oldest = model.keys().next();
            if (oldest.done !== true) model.delete(oldest.value);
            table.dropOldest();
          }
          expect(table.size).toBe(model.size);
          expect(table.oldestValue()).toBe(model.values().next().value);
        }
        for (const [key, value] of model) expect(table.get(key)).toBe(value);
      }),
      { numRuns: 300 },
    );
  });
});
