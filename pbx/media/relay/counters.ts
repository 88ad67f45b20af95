import { DROP_REASONS } from './types.js';
import type { DirectionCounts, DropCounts, RelayCounters } from './types.js';

const directions = (): DirectionCounts => ({ 'a-to-b': 0, 'b-to-a': 0 });

/** Fresh zeroed relay counters; share one instance across sessions for the process-wide metrics. */
export function createRelayCounters(): RelayCounters {
  const dropped = {} as DropCounts;
  for (const reason of DROP_REASONS) dropped[reason] = 0;
  return {
    rtpPackets: directions(),
    rtpBytes: directions(),
    rtcpPackets: directions(),
    rtcpBytes: directions(),
    dropped,
  };
}

/** Adds every counter of `from` into `into` (summing lines into a session snapshot). */
export function addCounters(into: RelayCounters, from: RelayCounters): void {
  addDirections(into.rtpPackets, from.rtpPackets);
  addDirections(into.rtpBytes, from.rtpBytes);
  addDirections(into.rtcpPackets, from.rtcpPackets);
  addDirections(into.rtcpBytes, from.rtcpBytes);
  for (const reason of DROP_REASONS) into.dropped[reason] += from.dropped[reason];
}

function addDirections(into: DirectionCounts, from: DirectionCounts): void {
  into['a-to-b'] += from['a-to-b'];
  into['b-to-a'] += from['b-to-a'];
}

/** Counters kept outside the JS heap (native relay lines), read on demand. */
const liveSources = new WeakMap<RelayCounters, Set<() => RelayCounters>>();

/**
 * Adds a live source to an aggregate: `relayTotals(aggregate)` includes what `read` returns until the
 * returned detach runs, which folds the source's last reading into the aggregate's own numbers.
 */
export function attachLive(aggregate: RelayCounters, read: () => RelayCounters): () => void {
  let sources = liveSources.get(aggregate);
  if (sources === undefined) {
    sources = new Set();
    liveSources.set(aggregate, sources);
  }
  const set = sources;
  set.add(read);
  return () => {
    if (!set.delete(read)) return;
    addCounters(aggregate, read());
  };
}

/** An aggregate's totals: its own numbers (Node relay lines, closed native lines) plus its live sources. */
export function relayTotals(aggregate: RelayCounters): RelayCounters {
  const sources = liveSources.get(aggregate);
  if (sources === undefined || sources.size === 0) return aggregate;
  const sum = createRelayCounters();
  addCounters(sum, aggregate);
  for (const read of sources) addCounters(sum, read());
  return sum;
}
