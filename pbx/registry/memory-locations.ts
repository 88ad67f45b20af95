/** In-process LocationStore: AOR -> contact bindings in Maps, expiry on read and by a clock-driven sweep. */
import type { Clock } from '../core/clock.js';
import { aorOf } from './aor.js';
import { assertInOrder, isLive, orderBindings, supersedes, toBinding } from './bindings.js';
import { resolveStoreOptions, startSweeper } from './options.js';
import type { StoreOptions } from './options.js';
import type { AorBindings, Binding, ContactUpdate, LocationStore } from './types.js';

/** Entry counts of the memory store, so tests can prove nothing leaks. */
export interface MemoryLocationSizes {
  readonly aors: number;
  readonly bindings: number;
}

/** A LocationStore in Maps, with `sizes()` for leak checks and `snapshot()` for a resync after an outage. */
export interface MemoryLocationStore extends LocationStore {
  /** Current map sizes, expired-but-unswept bindings included. */
  sizes(): MemoryLocationSizes;
  /** Every live binding, grouped by AOR (what `LocationStore.resync` takes). */
  snapshot(): AorBindings[];
}

/** Creates an in-memory LocationStore. */
export function memoryLocationStore(options?: StoreOptions): MemoryLocationStore {
  return new MemoryLocations(options);
}

class MemoryLocations implements MemoryLocationStore {
  private readonly aors = new Map<string, Map<string, Binding>>();
  private readonly clock: Clock;
  private readonly stopSweeper: () => void;

  constructor(options?: StoreOptions) {
    const o = resolveStoreOptions(options);
    this.clock = o.clock;
    this.stopSweeper = startSweeper(o.clock, o.sweepIntervalMs, () => this.sweep());
  }

  register(aor: string, updates: readonly ContactUpdate[], callId: string, cseq: number): Promise<Binding[]> {
    return settle(() => this.apply(aorOf(aor), updates, callId, cseq));
  }

  removeAll(aor: string, callId: string, cseq: number): Promise<void> {
    return settle(() => {
      const key = aorOf(aor);
      const live = this.liveMap(key, this.clock.now());
      assertInOrder(key, live, live.keys(), callId, cseq);
      this.aors.delete(key);
    });
  }

  lookup(aor: string): Promise<Binding[]> {
    return settle(() => {
      const key = aorOf(aor);
      const live = this.liveMap(key, this.clock.now());
      this.store(key, live);
      return orderBindings(live.values());
    });
  }

  count(): Promise<number> {
    const now = this.clock.now();
    let n = 0;
    for (const bindings of this.aors.values()) for (const b of bindings.values()) if (isLive(b, now)) n++;
    return Promise.resolve(n);
  }

  resync(entries: readonly AorBindings[]): Promise<void> {
    return settle(() => {
      const now = this.clock.now();
      for (const { aor, bindings } of entries) {
        const key = aorOf(aor);
        const live = this.liveMap(key, now);
        for (const b of bindings) if (supersedes(b, live.get(b.uri), now)) live.set(b.uri, b);
        this.store(key, live);
      }
    });
  }

  /** §10.3 steps 6-8: check every contact first, then apply all of them (all or nothing). */
  private apply(key: string, updates: readonly ContactUpdate[], callId: string, cseq: number): Binding[] {
    const now = this.clock.now();
    const live = this.liveMap(key, now);
    assertInOrder(
      key,
      live,
      updates.map((u) => u.uri),
      callId,
      cseq,
    );
    for (const u of updates) {
      if (u.expires > 0) live.set(u.uri, toBinding(u, callId, cseq, now));
      else live.delete(u.uri);
    }
    this.store(key, live);
    return orderBindings(live.values());
  }

  sweep(): Promise<number> {
    const now = this.clock.now();
    let n = 0;
    for (const [key, bindings] of [...this.aors]) {
      const before = bindings.size;
      const live = this.liveMap(key, now);
      n += before - live.size;
      this.store(key, live);
    }
    return Promise.resolve(n);
  }

  close(): Promise<void> {
    this.stopSweeper();
    return Promise.resolve();
  }

  sizes(): MemoryLocationSizes {
    let bindings = 0;
    for (const b of this.aors.values()) bindings += b.size;
    return { aors: this.aors.size, bindings };
  }

  snapshot(): AorBindings[] {
    const now = this.clock.now();
    return [...this.aors].map(([aor, b]) => ({
      aor,
      bindings: [...b.values()].filter((x) => isLive(x, now)),
    }));
  }

  /** A working copy of the AOR's live bindings (expired ones left out, so `store` drops them). */
  private liveMap(key: string, now: number): Map<string, Binding> {
    const out = new Map<string, Binding>();
    for (const [uri, b] of this.aors.get(key) ?? []) if (isLive(b, now)) out.set(uri, b);
    return out;
  }

  private store(key: string, live: Map<string, Binding>): void {
    if (live.size === 0) this.aors.delete(key);
    else this.aors.set(key, live);
  }
}

/** Runs `fn` and turns its result or throw into a promise (a typed error becomes a rejection). */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
