/** In-process CallRegistry: Maps with clock-driven expiry; the default for a standalone pbx. */
import type { Clock } from '../core/clock.js';
import { copyEntry, sortCalls } from './entries.js';
import { resolveStoreOptions, startSweeper } from './options.js';
import type { StoreOptions } from './options.js';
import type { CallEntry, CallRegistry, PodInfo, PodState } from './types.js';

interface Stored {
  entry: CallEntry;
  expiresAt: number;
}

/** Entry counts of the memory registry, so tests can prove nothing leaks. */
export interface MemoryCallRegistrySizes {
  readonly calls: number;
  readonly sipCallIds: number;
  readonly pods: number;
  readonly podStates: number;
}

/** A CallRegistry in Maps, with `sizes()` for leak checks. */
export interface MemoryCallRegistry extends CallRegistry {
  /** Current map sizes, expired-but-unswept entries included. */
  sizes(): MemoryCallRegistrySizes;
  /** Drops expired calls and heartbeats now; returns how many went. */
  sweep(): number;
}

/** Creates an in-memory CallRegistry. */
export function memoryCallRegistry(options?: StoreOptions): MemoryCallRegistry {
  return new MemoryCalls(options);
}

class MemoryCalls implements MemoryCallRegistry {
  private readonly calls = new Map<string, Stored>();
  private readonly bySip = new Map<string, string>();
  private readonly byPod = new Map<string, Set<string>>();
  private readonly podStates = new Map<string, { state: PodState; expiresAt: number }>();
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly podTtlMs: number;
  private readonly stopSweeper: () => void;

  constructor(options?: StoreOptions) {
    const o = resolveStoreOptions(options);
    this.clock = o.clock;
    this.ttlMs = o.ttlMs;
    this.podTtlMs = o.podTtlMs;
    this.stopSweeper = startSweeper(o.clock, o.sweepIntervalMs, () => Promise.resolve(this.sweep()));
  }

  register(entry: CallEntry): Promise<void> {
    this.put(entry);
    return Promise.resolve();
  }

  lookup(sipCallId: string): Promise<CallEntry | undefined> {
    const id = this.bySip.get(sipCallId);
    return Promise.resolve(id === undefined ? undefined : this.live(id)?.entry);
  }

  remove(call: CallEntry | string): Promise<boolean> {
    return Promise.resolve(this.drop(typeof call === 'string' ? call : call.callId));
  }

  refresh(entries: readonly CallEntry[]): Promise<number> {
    const expiresAt = this.clock.now() + this.ttlMs;
    let n = 0;
    for (const e of entries) {
      const stored = this.live(e.callId);
      if (stored === undefined) continue;
      stored.expiresAt = expiresAt;
      n++;
    }
    return Promise.resolve(n);
  }

  activeCalls(pod: string): Promise<number> {
    return Promise.resolve(this.podCalls(pod).length);
  }

  listCalls(pod: string): Promise<CallEntry[]> {
    return Promise.resolve(sortCalls(this.podCalls(pod)));
  }

  resync(pod: string, live: readonly CallEntry[]): Promise<void> {
    const keep = new Set(live.map((e) => e.callId));
    for (const id of [...(this.byPod.get(pod) ?? [])]) if (!keep.has(id)) this.drop(id);
    for (const e of live) this.put(e);
    return Promise.resolve();
  }

  setPodState(pod: string, state: PodState): Promise<void> {
    this.podStates.set(pod, { state: { ...state }, expiresAt: this.clock.now() + this.podTtlMs });
    return Promise.resolve();
  }

  getPodState(pod: string): Promise<PodState | undefined> {
    const s = this.podStates.get(pod);
    return Promise.resolve(s !== undefined && s.expiresAt > this.clock.now() ? { ...s.state } : undefined);
  }

  listPods(): Promise<PodInfo[]> {
    const now = this.clock.now();
    const pods = [...this.podStates]
      .filter(([, s]) => s.expiresAt > now)
      .map(([pod, s]) => ({ pod, ...s.state }))
      .sort((x, y) => (x.pod < y.pod ? -1 : 1));
    return Promise.resolve(pods);
  }

  close(): Promise<void> {
    this.stopSweeper();
    return Promise.resolve();
  }

  sizes(): MemoryCallRegistrySizes {
    return {
      calls: this.calls.size,
      sipCallIds: this.bySip.size,
      pods: this.byPod.size,
      podStates: this.podStates.size,
    };
  }

  sweep(): number {
    const now = this.clock.now();
    let n = 0;
    for (const [id, stored] of [...this.calls]) if (stored.expiresAt <= now && this.drop(id)) n++;
    for (const [pod, s] of [...this.podStates]) {
      if (s.expiresAt <= now) {
        this.podStates.delete(pod);
        n++;
      }
    }
    return n;
  }

  private put(entry: CallEntry): void {
    this.drop(entry.callId);
    const copy = copyEntry(entry);
    this.calls.set(entry.callId, { entry: copy, expiresAt: this.clock.now() + this.ttlMs });
    this.bySip.set(entry.legs.a, entry.callId);
    this.bySip.set(entry.legs.b, entry.callId);
    let set = this.byPod.get(entry.owner.pod);
    if (set === undefined) this.byPod.set(entry.owner.pod, (set = new Set()));
    set.add(entry.callId);
  }

  /** The stored call if live; an expired one is dropped on the way (lazy expiry). */
  private live(id: string): Stored | undefined {
    const stored = this.calls.get(id);
    if (stored === undefined) return undefined;
    if (stored.expiresAt > this.clock.now()) return stored;
    this.drop(id);
    return undefined;
  }

  private drop(id: string): boolean {
    const stored = this.calls.get(id);
    if (stored === undefined) return false;
    this.calls.delete(id);
    const { legs, owner } = stored.entry;
    for (const sip of [legs.a, legs.b]) if (this.bySip.get(sip) === id) this.bySip.delete(sip);
    const set = this.byPod.get(owner.pod);
    set?.delete(id);
    if (set?.size === 0) this.byPod.delete(owner.pod);
    return true;
  }

  private podCalls(pod: string): CallEntry[] {
    const out: CallEntry[] = [];
    for (const id of [...(this.byPod.get(pod) ?? [])]) {
      const stored = this.live(id);
      if (stored !== undefined) out.push(stored.entry);
    }
    return out;
  }
}
