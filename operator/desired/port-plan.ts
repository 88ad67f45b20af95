// The per-pod media port plan (ARCHITECTURE.md "Port plan"): pod ordinal i gets
// [start + i*portsPerPod, start + (i+1)*portsPerPod) with portsPerPod = maxCallsPerPod * portsPerCall.
import { stringify } from 'yaml';
import type { MediaSpec, SipPbxSpec } from '../api/index.js';
import { podName } from './names.js';

/** One pod's share of the range: ports [start, end). */
export interface PodPorts {
  readonly ordinal: number;
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** The plan for the desired replicas. */
export interface PortPlan {
  /** Pods that fit, ordinal 0 up: at most `replicas`, at most `fits`. */
  readonly pods: PodPorts[];
  /** How many pods the range holds. */
  readonly fits: number;
  /** True when `replicas` > `fits`: the pods beyond `fits` are not created (PortRangeExhausted). */
  readonly exhausted: boolean;
  /** Ports per pod (`maxCallsPerPod * portsPerCall`). */
  readonly portsPerPod: number;
}

/** Ports each pod owns. */
export function portsPerPod(media: MediaSpec): number {
  return media.maxCallsPerPod * media.portsPerCall;
}

/** How many pods `media.portRange` holds. */
export function podsThatFit(media: MediaSpec): number {
  const size = media.portRange.end - media.portRange.start;
  return size > 0 ? Math.floor(size / portsPerPod(media)) : 0;
}

/** The ports of `count` consecutive ordinals from 0, for the StatefulSet named `statefulSet`. */
export function portSlots(media: MediaSpec, statefulSet: string, count: number): PodPorts[] {
  const per = portsPerPod(media);
  return Array.from({ length: count }, (_, ordinal) => ({
    ordinal,
    name: podName(statefulSet, ordinal),
    start: media.portRange.start + ordinal * per,
    end: media.portRange.start + (ordinal + 1) * per,
  }));
}

/** The port plan of `spec` for the StatefulSet `statefulSet` (the SipPbx name). */
export function portPlan(spec: Pick<SipPbxSpec, 'replicas' | 'media'>, statefulSet: string): PortPlan {
  const fits = podsThatFit(spec.media);
  const count = Math.min(spec.replicas, fits);
  return {
    pods: portSlots(spec.media, statefulSet, count),
    fits,
    exhausted: spec.replicas > fits,
    portsPerPod: portsPerPod(spec.media),
  };
}

/**
 * The port-plan file every pod mounts: a YAML map `podName: {start, end}` (end exclusive) with an
 * entry for every ordinal the range holds, not only the current replicas, so scaling never has to
 * rewrite it first and a restarted draining pod still finds its entry. The pbx reads the file named by
 * `SIPPBX_PORT_PLAN_FILE` and takes the entry of `POD_NAME` as its media.portRange.
 */
export function renderPortPlan(media: MediaSpec, statefulSet: string): string {
  const plan: Record<string, { start: number; end: number }> = {};
  for (const slot of portSlots(media, statefulSet, podsThatFit(media)))
    plan[slot.name] = { start: slot.start, end: slot.end };
  return stringify(plan, { flow: false });
}
