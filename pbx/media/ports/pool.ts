import { systemClock } from '../../core/clock.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { ForeignPortBlock, PortPoolExhausted } from './errors.js';
import { IndexFifo } from './fifo.js';
import { blockLayout } from './layout.js';
import type { BlockLayout } from './layout.js';
import type { CanBind, PortBlock, PortPool, PortPoolOptions } from './types.js';

const alwaysBindable: CanBind = () => true;

/** Creates a pool of aligned port blocks over [start, end) (ARCHITECTURE.md "Media" and "Port plan"). */
export function createPortPool(options: PortPoolOptions): PortPool {
  return new BlockPool(options);
}

/**
 * Blocks cycle free -> leased -> free (or -> quarantined -> free). The free list is FIFO so a released block
 * goes to the back of the line: late packets of an ended call then find closed ports, not a new call.
 * Quarantine uses one fixed delay, so blocks leave it in the order they entered: one FIFO, one timer.
 */
class BlockPool implements PortPool {
  readonly #layout: BlockLayout;
  readonly #clock: Clock;
  readonly #canBind: CanBind;
  readonly #quarantineMs: number;
  readonly #leases: (PortBlock | undefined)[];
  readonly #issued = new WeakSet<PortBlock>();
  readonly #free: IndexFifo;
  readonly #quarantine: IndexFifo;
  readonly #until: Float64Array;
  #leased = 0;
  #timer: TimerHandle | undefined;

  constructor(options: PortPoolOptions) {
    this.#layout = blockLayout(options);
    this.#clock = options.clock ?? systemClock();
    this.#canBind = options.canBind ?? alwaysBindable;
    this.#quarantineMs = Math.max(0, options.quarantineMs ?? 30_000);
    const n = this.#layout.count;
    this.#leases = new Array<PortBlock | undefined>(n).fill(undefined);
    this.#free = new IndexFifo(n);
    this.#quarantine = new IndexFifo(n);
    this.#until = new Float64Array(n);
    for (let i = 0; i < n; i++) this.#free.push(i);
  }

  reserve(): PortBlock {
    if (this.#leased >= this.#layout.maxLeased) throw new PortPoolExhausted('max-calls', undefined);
    const index = this.#free.shift();
    if (index < 0) throw new PortPoolExhausted('no-free-block', this.#retryAfterMs());
    const { first, size } = this.#layout;
    const block: PortBlock = Object.freeze({ index, start: first + index * size, size });
    this.#leases[index] = block;
    this.#issued.add(block);
    this.#leased++;
    return block;
  }

  async acquire(): Promise<PortBlock> {
    // Each failing block leaves circulation, so at most `count` probes happen before reserve() throws.
    for (let attempt = 0; attempt <= this.#layout.count; attempt++) {
      const block = this.reserve();
      if (await this.#probe(block)) {
        if (this.#leases[block.index] === block) return block;
        continue; // released or quarantined by someone else while probing: not ours any more
      }
      this.quarantine(block);
    }
    throw new PortPoolExhausted('no-free-block', this.#retryAfterMs());
  }

  release(block: PortBlock): void {
    if (!this.#isCurrent(block)) return;
    this.#unlease(block.index);
    this.#free.push(block.index);
  }

  quarantine(block: PortBlock): void {
    if (!this.#isCurrent(block)) return;
    const index = block.index;
    this.#unlease(index);
    this.#until[index] = this.#clock.now() + this.#quarantineMs;
    this.#quarantine.push(index);
    if (this.#timer === undefined) this.#arm();
  }

  inUse(): number {
    return this.#leased * this.#layout.size;
  }

  total(): number {
    return this.#layout.maxLeased * this.#layout.size;
  }

  quarantined(): number {
    return this.#quarantine.size * this.#layout.size;
  }

  freeBlocks(): number {
    return this.#free.size;
  }

  blockCount(): number {
    return this.#layout.count;
  }

  close(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#readmit(Number.POSITIVE_INFINITY);
  }

  async #probe(block: PortBlock): Promise<boolean> {
    try {
      return (await this.#canBind(block)) === true;
    } catch {
      return false;
    }
  }

  /** True when `block` is this pool's live lease; false for a stale (already released) one; throws if foreign. */
  #isCurrent(block: PortBlock): boolean {
    if (!this.#issued.has(block)) {
      throw new ForeignPortBlock(`port block at ${block.start} was not leased from this pool`);
    }
    return this.#leases[block.index] === block;
  }

  #unlease(index: number): void {
    this.#leases[index] = undefined;
    this.#leased--;
  }

  /** Moves every quarantined block due by `now` to the free list. */
  #readmit(now: number): void {
    const q = this.#quarantine;
    while (q.size > 0 && (this.#until[q.peek()] ?? 0) <= now) this.#free.push(q.shift());
  }

  #arm(): void {
    const delay = this.#retryAfterMs();
    if (delay === undefined) return;
    this.#timer = this.#clock.setTimer(delay, this.#onTimer);
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    this.#readmit(this.#clock.now());
    this.#arm();
  };

  /** Time until the oldest quarantined block returns, or undefined when none is quarantined. */
  #retryAfterMs(): number | undefined {
    const head = this.#quarantine.peek();
    if (head < 0) return undefined;
    return Math.max(0, (this.#until[head] ?? 0) - this.#clock.now());
  }
}
