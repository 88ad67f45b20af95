/** Canonical ordering and JSON form of call entries, shared by both backends. */
import type { CallEntry } from './types.js';

/** Oldest first, ties by internal call id, so both backends list in the same order. */
export function sortCalls(calls: CallEntry[]): CallEntry[] {
  return calls.sort(
    (x, y) => x.startTime - y.startTime || (x.callId < y.callId ? -1 : x.callId > y.callId ? 1 : 0),
  );
}

/** A detached copy with exactly the CallEntry fields (extra properties of the input are dropped). */
export function copyEntry(e: CallEntry): CallEntry {
  return {
    callId: e.callId,
    legs: { a: e.legs.a, b: e.legs.b },
    owner: { pod: e.owner.pod, sipAddress: e.owner.sipAddress },
    startTime: e.startTime,
  };
}

/** The stored JSON of an entry. */
export function entryJson(e: CallEntry): string {
  return JSON.stringify(copyEntry(e));
}

/** Parses a stored entry. */
export function parseEntry(json: string): CallEntry {
  return copyEntry(JSON.parse(json) as CallEntry);
}
