/** A fixed-capacity FIFO of small integers on a ring buffer: O(1) push and shift, no allocation after creation. */
export class IndexFifo {
  readonly #ring: Int32Array;
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#ring = new Int32Array(Math.max(1, capacity));
  }

  /** Number of queued indices. */
  get size(): number {
    return this.#size;
  }

  /** Appends `index` at the tail; the caller guarantees each index is queued at most once, so it never overflows. */
  push(index: number): void {
    const ring = this.#ring;
    if (this.#size === ring.length) throw new RangeError('IndexFifo overflow');
    ring[(this.#head + this.#size) % ring.length] = index;
    this.#size++;
  }

  /** Returns the head without removing it, or -1 when empty. */
  peek(): number {
    return this.#size === 0 ? -1 : (this.#ring[this.#head] ?? -1);
  }

  /** Removes and returns the head, or -1 when empty. */
  shift(): number {
    if (this.#size === 0) return -1;
    const ring = this.#ring;
    const index = ring[this.#head] ?? -1;
    this.#head = (this.#head + 1) % ring.length;
    this.#size--;
    return index;
  }
}
