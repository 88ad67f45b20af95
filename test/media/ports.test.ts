import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import {
  createPortPool,
  ForeignPortBlock,
  PortPoolConfigError,
  PortPoolExhausted,
} from '../../pbx/media/ports/index.js';
import type { PortBlock, PortPool, PortPoolOptions } from '../../pbx/media/ports/index.js';

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const pool4 = (extra: Partial<PortPoolOptions> = {}): PortPool =>
  createPortPool({ start: 10000, end: 10032, clock: fakeClock(), ...extra });

describe('port pool: layout and config', () => {
  it('aligns blocks to 8 inside [start, end) and reports totals in ports', () => {
    const pool = createPortPool({ start: 10001, end: 10100, maxCalls: 100 });
    expect(pool.blockCount()).toBe(11); // 10008 … 10088+8=10096 <= 10100
    expect(pool.total()).toBe(88);
    const first = pool.reserve();
    expect(first).toEqual({ index: 0, start: 10008, size: 8 });
    expect(pool.inUse()).toBe(8);
  });

  it('caps total() at maxCalls blocks', () => {
    const pool = createPortPool({ start: 10000, end: 20000, maxCalls: 10 });
    expect(pool.blockCount()).toBe(1250);
    expect(pool.total()).toBe(80);
  });

  it.each([
    [{ start: 10000, end: 10000 }, /not a valid range/],
    [{ start: 0, end: 100 }, /not a valid range/],
    [{ start: 10000, end: 70000 }, /not a valid range/],
    [{ start: 10001, end: 10008 }, /no aligned block/],
    [{ start: 10000, end: 10100, portsPerCall: 6 }, /multiple of 4/],
    [{ start: 10000, end: 10100, maxCalls: 0 }, /maxCalls/],
    [{ start: 10000, end: 10100, maxCalls: 1.5 }, /maxCalls/],
  ])('rejects %j', (options, message) => {
    const error = catchError(() => createPortPool(options));
    expect(error).toBeInstanceOf(PortPoolConfigError);
    expect(error).toMatchObject({ code: 'PBX_ERR_MEDIA_PORTS_CONFIG' });
    expect((error as Error).message).toMatch(message);
  });
});

describe('port pool: leases', () => {
  it('hands blocks out FIFO so a just-released block goes to the back', () => {
    const pool = pool4();
    const a = pool.reserve();
    const b = pool.reserve();
    pool.release(a);
    const c = pool.reserve();
    const d = pool.reserve();
    const again = pool.reserve();
    expect([a.start, b.start, c.start, d.start, again.start]).toEqual([10000, 10008, 10016, 10024, 10000]);
    expect(again).not.toBe(a);
  });

  it('throws PortPoolExhausted when every block is leased, and at maxCalls', () => {
    const pool = pool4();
    for (let i = 0; i < 4; i++) pool.reserve();
    const error = catchError(() => pool.reserve());
    expect(error).toBeInstanceOf(PortPoolExhausted);
    expect(error).toMatchObject({ code: 'PBX_ERR_MEDIA_PORTS_EXHAUSTED', limit: 'max-calls' });

    const capped = pool4({ maxCalls: 2 });
    capped.reserve();
    capped.reserve();
    expect(catchError(() => capped.reserve())).toMatchObject({ limit: 'max-calls' });
    expect(capped.freeBlocks()).toBe(2);
  });

  it('ignores a second release of the same lease, even after the block was reissued', () => {
    const pool = createPortPool({ start: 10000, end: 10008, clock: fakeClock() });
    const first = pool.reserve();
    pool.release(first);
    pool.release(first);
    expect(pool.inUse()).toBe(0);
    const second = pool.reserve();
    expect(second.start).toBe(first.start);
    pool.release(first); // stale lease: must not free the new call's block
    expect(pool.inUse()).toBe(8);
    pool.release(second);
    expect(pool.inUse()).toBe(0);
  });

  it('throws ForeignPortBlock for blocks it never issued', () => {
    const pool = pool4();
    const other = pool4();
    const forged: PortBlock = { index: 0, start: 10000, size: 8 };
    expect(catchError(() => pool.release(forged))).toBeInstanceOf(ForeignPortBlock);
    expect(catchError(() => pool.release(other.reserve()))).toMatchObject({
      code: 'PBX_ERR_MEDIA_PORTS_FOREIGN_BLOCK',
    });
    expect(catchError(() => pool.quarantine(forged))).toBeInstanceOf(ForeignPortBlock);
  });
});

describe('port pool: quarantine', () => {
  it('keeps a quarantined block out of circulation until the delay passes, then queues it last', () => {
    const clock = fakeClock();
    const pool = createPortPool({ start: 10000, end: 10016, clock, quarantineMs: 5000 });
    const a = pool.reserve();
    pool.quarantine(a);
    expect(pool.inUse()).toBe(0);
    expect(pool.quarantined()).toBe(8);
    const b = pool.reserve();
    const error = catchError(() => pool.reserve());
    expect(error).toMatchObject({ limit: 'no-free-block', retryAfterMs: 5000 });
    clock.advance(4999);
    expect(catchError(() => pool.reserve())).toMatchObject({ retryAfterMs: 1 });
    clock.advance(1);
    expect(pool.quarantined()).toBe(0);
    expect(clock.pending()).toBe(0);
    pool.release(b);
    expect(pool.reserve().start).toBe(a.start); // a came back before b was released
    expect(pool.reserve().start).toBe(b.start);
    pool.release(a); // the quarantined lease is stale: no-op
    expect(pool.inUse()).toBe(16);
  });

  it('readmits quarantined blocks in order with one timer', () => {
    const clock = fakeClock();
    const pool = createPortPool({ start: 10000, end: 10032, clock, quarantineMs: 1000 });
    const a = pool.reserve();
    const b = pool.reserve();
    pool.quarantine(a);
    clock.advance(400);
    pool.quarantine(b);
    expect(clock.pending()).toBe(1);
    clock.advance(600);
    expect(pool.quarantined()).toBe(8);
    clock.advance(400);
    expect(pool.quarantined()).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('acquire() quarantines blocks that fail canBind (false or throwing) and returns a bindable one', async () => {
    const clock = fakeClock();
    const bad = new Set([10000, 10008]);
    const pool = createPortPool({
      start: 10000,
      end: 10032,
      clock,
      canBind: (block) => {
        if (block.start === 10008) throw new Error('EADDRINUSE');
        return Promise.resolve(!bad.has(block.start));
      },
    });
    const block = await pool.acquire();
    expect(block.start).toBe(10016);
    expect(pool.quarantined()).toBe(16);
    bad.clear();
    pool.close(); // readmits at once
    expect(pool.quarantined()).toBe(0);
    expect(clock.pending()).toBe(0);
    expect(pool.freeBlocks()).toBe(3);
  });

  it('acquire() throws PortPoolExhausted when no block can be bound', async () => {
    const pool = createPortPool({ start: 10000, end: 10024, clock: fakeClock(), canBind: () => false });
    await expect(pool.acquire()).rejects.toBeInstanceOf(PortPoolExhausted);
    expect(pool.quarantined()).toBe(24);
    expect(pool.inUse()).toBe(0);
  });

  it('acquire() does not return a block released while its probe was pending', async () => {
    let pending: PortBlock | undefined;
    const pool = createPortPool({
      start: 10000,
      end: 10016,
      clock: fakeClock(),
      canBind: (block) => {
        if (pending === undefined) {
          pending = block;
          pool.release(block);
        }
        return true;
      },
    });
    const block = await pool.acquire();
    expect(block.start).toBe(10008);
    expect(pool.inUse()).toBe(8);
  });
});

describe('port pool: 100,000 random operations with bind failures', () => {
  it('never hands a block out twice and ends with every port free', async () => {
    const random = prng(0x5eed);
    const clock = fakeClock();
    const quarantineMs = 2000;
    const pool = createPortPool({
      start: 20001,
      end: 20264,
      maxCalls: 24,
      clock,
      quarantineMs,
      canBind: () => (random() < 0.5 ? random() >= 0.1 : Promise.resolve(random() >= 0.1)),
    });
    const count = pool.blockCount();
    expect(count).toBe(32);
    const held = new Map<number, PortBlock>();
    const list: PortBlock[] = [];
    const stale: PortBlock[] = [];
    let exhausted = 0;
    let ops = 0;

    const take = (block: PortBlock): void => {
      expect(held.has(block.index)).toBe(false);
      if (block.start % 8 !== 0 || block.start < 20001 || block.start + 8 > 20264)
        throw new Error('bad block');
      held.set(block.index, block);
      list.push(block);
    };
    const drop = (): PortBlock | undefined => {
      if (list.length === 0) return undefined;
      const i = Math.floor(random() * list.length);
      const block = list[i] as PortBlock;
      list[i] = list[list.length - 1] as PortBlock;
      list.pop();
      held.delete(block.index);
      stale.push(block);
      if (stale.length > 64) stale.shift();
      return block;
    };
    const check = (): void => {
      if (pool.inUse() !== held.size * 8) throw new Error(`inUse ${pool.inUse()} != ${held.size * 8}`);
      const blocks = pool.freeBlocks() + held.size + pool.quarantined() / 8;
      if (blocks !== count) throw new Error(`blocks ${blocks} != ${count}`);
      if (held.size > 24) throw new Error('maxCalls exceeded');
    };

    while (ops < 100_000) {
      const r = random();
      ops++;
      try {
        if (r < 0.3) take(pool.reserve());
        else if (r < 0.45) take(await pool.acquire());
        else if (r < 0.85) {
          const block = drop();
          if (block !== undefined) pool.release(block);
        } else if (r < 0.9) {
          const block = drop();
          if (block !== undefined) pool.quarantine(block);
        } else if (r < 0.95) {
          const block = stale[Math.floor(random() * stale.length)];
          if (block !== undefined) pool.release(block); // double release: no-op
        } else clock.advance(Math.floor(random() * 500));
      } catch (error) {
        if (!(error instanceof PortPoolExhausted)) throw error;
        exhausted++;
      }
      check();
    }

    for (const block of [...held.values()]) pool.release(block);
    held.clear();
    clock.advance(quarantineMs);
    check();
    expect(exhausted).toBeGreaterThan(0);
    expect(pool.inUse()).toBe(0);
    expect(pool.quarantined()).toBe(0);
    expect(pool.freeBlocks()).toBe(count);
    expect(clock.pending()).toBe(0);
    // Every block can be leased once more and all are distinct.
    const all = new Set<number>();
    const wide = createPortPool({ start: 20001, end: 20264, clock });
    for (let i = 0; i < count; i++) all.add(wide.reserve().start);
    expect(all.size).toBe(count);
  });
});
