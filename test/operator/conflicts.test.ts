import { describe, expect, it } from 'vitest';
import { parseSipPbx } from '../../operator/api/index.js';
import type { SipPbx } from '../../operator/api/index.js';
import { portRangeConflicts } from '../../operator/controller/sippbx/conflicts.js';
import { buildStatus } from '../../operator/controller/sippbx/status.js';
import { portPlan } from '../../operator/desired/index.js';

function raw(name: string, start: number, networkMode: 'HostNetwork' | 'PodIP', namespace = 'voice') {
  return {
    apiVersion: 'sippbx.dev/v1alpha1',
    kind: 'SipPbx',
    metadata: { name, namespace, uid: `uid-${name}`, generation: 1 },
    spec: { media: { networkMode, portRange: { start, end: start + 8000 } } },
  };
}

function pbx(value: ReturnType<typeof raw>): SipPbx {
  const parsed = parseSipPbx(value);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

describe('PortRangeConflict', () => {
  const a = raw('a', 10000, 'HostNetwork');

  it('lists other HostNetwork SipPbx whose ranges overlap, in any namespace', () => {
    const others = [
      a,
      raw('b', 16000, 'HostNetwork'),
      raw('c', 18000, 'HostNetwork'),
      raw('d', 12000, 'PodIP'),
      raw('e', 8000, 'HostNetwork', 'other'),
    ];
    expect(portRangeConflicts(pbx(a), others)).toEqual(['other/e', 'voice/b']);
  });

  it('never reports a PodIP SipPbx, whose pods have their own network namespaces', () => {
    const podIp = raw('p', 10000, 'PodIP');
    expect(portRangeConflicts(pbx(podIp), [a, raw('q', 10000, 'HostNetwork')])).toEqual([]);
  });

  it('becomes a condition in the status', () => {
    const p = pbx(a);
    const base = {
      pbx: p,
      plan: portPlan(p.spec, 'a'),
      pods: [],
      sts: undefined,
      drains: [],
      rollout: undefined,
      calls: new Map<string, number>(),
      now: new Date('2026-11-29T00:00:00Z'),
    };
    const conflict = buildStatus({ ...base, conflicts: ['voice/b'] }).conditions?.find(
      (c) => c.type === 'PortRangeConflict',
    );
    expect(conflict).toMatchObject({ status: 'True', reason: 'OverlappingRange' });
    expect(conflict?.message).toContain('voice/b');
    const clear = buildStatus(base).conditions?.find((c) => c.type === 'PortRangeConflict');
    expect(clear).toMatchObject({ status: 'False', reason: 'NoOverlap' });
  });
});
