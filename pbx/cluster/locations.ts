/**
 * A LocationStore that writes to the shared store and keeps a local copy of what this pod accepted, so
 * routing and registration go on from local state while Redis is down and the copy can be re-published
 * when it returns (ARCHITECTURE.md "Shared state": "new calls are still served from local state").
 */
import { memoryLocationStore, RegistryUnavailable } from '../registry/index.js';
import type {
  AorBindings,
  Binding,
  ContactUpdate,
  LocationStore,
  MemoryLocationStore,
} from '../registry/index.js';

/** The shared store plus its local mirror. */
export interface MirroredLocationStore extends LocationStore {
  /** The bindings this pod accepted (or saw accepted through it), for `resync` after an outage. */
  snapshot(): AorBindings[];
}

/**
 * Wraps `shared` (Redis) with a memory mirror. `isUp()` says whether the shared store answered last:
 * while it is down reads go to the mirror at once (no round trip on the call setup path); writes are
 * still attempted (they fail fast and are counted by the link) and always applied to the mirror.
 */
export function mirroredLocationStore(shared: LocationStore, isUp: () => boolean): MirroredLocationStore {
  const local: MemoryLocationStore = memoryLocationStore();

  /** Applies the same change to the mirror; a mirror that disagrees (out of order) is left as it is. */
  const mirror = async (fn: (store: LocationStore) => Promise<unknown>): Promise<void> => {
    await fn(local).catch(() => undefined);
  };

  /** The shared result, or the mirror's when the shared store is unavailable. */
  async function sharedOr<T>(op: (store: LocationStore) => Promise<T>, always = false): Promise<T> {
    if (!always && !isUp()) return op(local);
    try {
      return await op(shared);
    } catch (err) {
      if (err instanceof RegistryUnavailable) return op(local);
      throw err;
    }
  }

  return {
    async register(aor: string, updates: readonly ContactUpdate[], callId: string, cseq: number) {
      // The shared store decides (its CSeq check spans every pod); the mirror follows.
      let result: Binding[];
      try {
        result = await shared.register(aor, updates, callId, cseq);
      } catch (err) {
        if (!(err instanceof RegistryUnavailable)) throw err;
        return local.register(aor, updates, callId, cseq);
      }
      await mirror((s) => s.register(aor, updates, callId, cseq));
      return result;
    },
    async removeAll(aor: string, callId: string, cseq: number) {
      try {
        await shared.removeAll(aor, callId, cseq);
      } catch (err) {
        if (!(err instanceof RegistryUnavailable)) throw err;
        return local.removeAll(aor, callId, cseq);
      }
      await mirror((s) => s.removeAll(aor, callId, cseq));
    },
    lookup: (aor) => sharedOr((s) => s.lookup(aor)),
    count: () => sharedOr((s) => s.count()),
    resync: (entries) => shared.resync(entries),
    async sweep() {
      await local.sweep();
      return sharedOr((s) => s.sweep(), true);
    },
    snapshot: () => local.snapshot(),
    async close() {
      await local.close();
      await shared.close();
    },
  };
}
