/** Pure RFC 3261 §10.3 binding rules shared by the memory store (the Redis Lua script mirrors them). */
import { RegisterOutOfOrder } from './errors.js';
import type { Binding, ContactUpdate } from './types.js';

/** A binding is live until its `expiresAt` instant. */
export function isLive(binding: Binding, now: number): boolean {
  return binding.expiresAt > now;
}

/** Highest q first (absent q counts as 1.0), then most recently registered, then by URI for a stable order. */
export function orderBindings(bindings: Iterable<Binding>): Binding[] {
  return [...bindings].sort(
    (x, y) =>
      (y.q ?? 1) - (x.q ?? 1) ||
      y.registeredAt - x.registeredAt ||
      (x.uri < y.uri ? -1 : x.uri > y.uri ? 1 : 0),
  );
}

/** The binding a contact update writes at `now`; `expires` <= 0 yields an already-expired binding. */
export function toBinding(update: ContactUpdate, callId: string, cseq: number, now: number): Binding {
  const base = {
    uri: update.uri,
    expiresAt: update.expires > 0 ? now + Math.round(update.expires * 1000) : now,
    callId,
    cseq,
    registeredAt: now,
  };
  return {
    ...base,
    ...(update.q === undefined ? {} : { q: update.q }),
    ...(update.received === undefined ? {} : { received: update.received }),
    ...(update.instance === undefined ? {} : { instance: update.instance }),
    ...(update.path === undefined ? {} : { path: [...update.path] }),
  };
}

/** §10.3 steps 6-7: throws when a stored binding of `uris` has the same Call-ID and a CSeq >= `cseq`. */
export function assertInOrder(
  aor: string,
  live: ReadonlyMap<string, Binding>,
  uris: Iterable<string>,
  callId: string,
  cseq: number,
): void {
  for (const uri of uris) {
    const stored = live.get(uri);
    if (stored !== undefined && stored.callId === callId && cseq <= stored.cseq) {
      throw new RegisterOutOfOrder(aor, uri, stored.cseq, cseq);
    }
  }
}

/** Resync rule: the incoming (locally known) binding replaces the stored one unless the stored one is newer. */
export function supersedes(incoming: Binding, stored: Binding | undefined, now: number): boolean {
  if (!isLive(incoming, now)) return false;
  if (stored === undefined || !isLive(stored, now)) return true;
  if (stored.callId === incoming.callId) return incoming.cseq > stored.cseq;
  return incoming.registeredAt > stored.registeredAt;
}
