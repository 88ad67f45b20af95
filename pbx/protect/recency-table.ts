/** No slot: the end of the recency list. */
const NIL = -1;

/**
 * A string -> number table ordered by last write, with O(1) get, set (which makes the entry the newest) and
 * drop-oldest. The order lives in an explicit doubly linked list over slot arrays, not in Map iteration order:
 * V8 leaves deleted Map entries in place until a rehash, so reading a Map's first key after many front deletions
 * costs O(deleted) — quadratic under a flood of new sources.
 */
export interface RecencyTable {
  /** Number of entries. */
  readonly size: number;
  /** The value stored for `key`, if any; does not change the order. */
  get(key: string): number | undefined;
  /** Stores `value` for `key` and makes the entry the most recently written. */
  set(key: string, value: number): void;
  /** The value of the least recently written entry, if any. */
  oldestValue(): number | undefined;
  /** Removes the least recently written entry (no-op when empty). */
  dropOldest(): void;
}

/** Creates an empty RecencyTable; slots are reused after drops, so its arrays never outgrow the peak size. */
export function createRecencyTable(): RecencyTable {
  const slotOf = new Map<string, number>();
  const keys: string[] = [];
  const values: number[] = [];
  const prev: number[] = [];
  const next: number[] = [];
  const free: number[] = [];
  let head = NIL;
  let tail = NIL;

  const unlink = (slot: number): void => {
    const p = prev[slot] ?? NIL;
    const n = next[slot] ?? NIL;
    if (p === NIL) head = n;
    else next[p] = n;
    if (n === NIL) tail = p;
    else prev[n] = p;
  };
  const append = (slot: number): void => {
    prev[slot] = tail;
    next[slot] = NIL;
    if (tail === NIL) head = slot;
    else next[tail] = slot;
    tail = slot;
  };

  return {
    get size() {
      return slotOf.size;
    },
    get(key) {
      const slot = slotOf.get(key);
      return slot === undefined ? undefined : values[slot];
    },
    set(key, value) {
      let slot = slotOf.get(key);
      if (slot === undefined) {
        slot = free.pop() ?? keys.length;
        slotOf.set(key, slot);
        keys[slot] = key;
      } else {
        unlink(slot);
      }
      values[slot] = value;
      append(slot);
    },
    oldestValue: () => (head === NIL ? undefined : values[head]),
    dropOldest() {
      const slot = head;
      if (slot === NIL) return;
      unlink(slot);
      slotOf.delete(keys[slot] ?? '');
      keys[slot] = '';
      free.push(slot);
    },
  };
}
