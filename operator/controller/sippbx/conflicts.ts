// PortRangeConflict: with media.networkMode HostNetwork, pods of different SipPbx can share a node,
// so their media port ranges must not overlap (ARCHITECTURE.md "Port plan": disjoint ranges let
// several pods share a node). Overlaps are reported as a condition; nothing is refused.
import { parseSipPbx, type SipPbx } from '../../api/index.js';
import type { RawSipPbx } from '../kube.js';

/** `namespace/name` of every other HostNetwork SipPbx whose media port range overlaps this one's. */
export function portRangeConflicts(pbx: SipPbx, others: readonly RawSipPbx[]): string[] {
  if (pbx.spec.media.networkMode !== 'HostNetwork') return [];
  const { start, end } = pbx.spec.media.portRange;
  const self = `${pbx.metadata.namespace ?? ''}/${pbx.metadata.name}`;
  const out: string[] = [];
  for (const raw of others) {
    const parsed = parseSipPbx(raw);
    if (!parsed.ok || parsed.value.spec.media.networkMode !== 'HostNetwork') continue;
    const other = parsed.value;
    const id = `${other.metadata.namespace ?? ''}/${other.metadata.name}`;
    if (id === self || other.metadata.deletionTimestamp !== undefined) continue;
    const range = other.spec.media.portRange;
    if (range.start < end && start < range.end) out.push(id);
  }
  return out.sort();
}
