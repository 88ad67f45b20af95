// Port plan (ARCHITECTURE.md "Port plan"): pod i gets [start + i*portsPerPod, start + (i+1)*portsPerPod).
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { sipPbxSpecObject } from '../../operator/api/index.js';
import { portPlan, podsThatFit, renderPortPlan } from '../../operator/desired/index.js';

const spec = (replicas: number, start: number, end: number, maxCallsPerPod = 1000) =>
  sipPbxSpecObject.parse({ replicas, media: { portRange: { start, end }, maxCallsPerPod } });

describe('portPlan', () => {
  it.each([
    // replicas, start, end, maxCalls -> pods [start,end], fits, exhausted
    [1, 10000, 20000, 1000, [[10000, 18000]], 1, false],
    [
      3,
      10000,
      34000,
      1000,
      [
        [10000, 18000],
        [18000, 26000],
        [26000, 34000],
      ],
      3,
      false,
    ],
    [
      3,
      10000,
      33999,
      1000,
      [
        [10000, 18000],
        [18000, 26000],
      ],
      2,
      true,
    ],
    [0, 10000, 20000, 1000, [], 1, false],
    [
      2,
      10000,
      10016,
      1,
      [
        [10000, 10008],
        [10008, 10016],
      ],
      2,
      false,
    ],
    [5, 10000, 10007, 1, [], 0, true],
    [1, 20000, 10000, 1, [], 0, true],
    [
      4,
      40000,
      60000,
      500,
      [
        [40000, 44000],
        [44000, 48000],
        [48000, 52000],
        [52000, 56000],
      ],
      5,
      false,
    ],
  ] as const)(
    '%i replicas in [%i, %i) at %i calls/pod',
    (replicas, start, end, calls, pods, fits, exhausted) => {
      const plan = portPlan(spec(replicas, start, end, calls), 'pbx');
      expect(plan.pods.map((p) => [p.start, p.end])).toEqual(pods);
      expect(plan.pods.map((p) => p.name)).toEqual(pods.map((_, i) => `pbx-${i}`));
      expect(plan.pods.map((p) => p.ordinal)).toEqual(pods.map((_, i) => i));
      expect(plan.fits).toBe(fits);
      expect(plan.exhausted).toBe(exhausted);
      expect(plan.portsPerPod).toBe(calls * 8);
    },
  );

  it('pod ranges are disjoint, adjacent and aligned to 8', () => {
    const plan = portPlan(spec(6, 10000, 60000, 1000), 'x');
    for (const [i, p] of plan.pods.entries()) {
      expect(p.start % 8).toBe(0);
      expect(p.end - p.start).toBe(8000);
      if (i > 0) expect(p.start).toBe(plan.pods[i - 1]?.end);
    }
  });
});

describe('renderPortPlan', () => {
  it('maps every pod name the range holds to {start, end}, independent of replicas', () => {
    const media = spec(1, 10000, 34000).media;
    expect(parse(renderPortPlan(media, 'pbx'))).toEqual({
      'pbx-0': { start: 10000, end: 18000 },
      'pbx-1': { start: 18000, end: 26000 },
      'pbx-2': { start: 26000, end: 34000 },
    });
    expect(renderPortPlan(spec(3, 10000, 34000).media, 'pbx')).toBe(renderPortPlan(media, 'pbx'));
  });

  it('is an empty map when nothing fits', () => {
    const media = spec(0, 10000, 10004).media;
    expect(podsThatFit(media)).toBe(0);
    expect(parse(renderPortPlan(media, 'pbx'))).toEqual({});
  });
});
