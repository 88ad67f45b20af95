// operator/api: spec defaults, the parser's messages, conditions bookkeeping, constants.
import { describe, expect, it } from 'vitest';
import {
  API_VERSION,
  KIND,
  RULE_MESSAGES,
  defaultImage,
  formatTime,
  getCondition,
  parseSipPbx,
  removeCondition,
  setCondition,
  sipPbxSpecSchema,
  sipPbxStatusSchema,
  type Condition,
} from '../../operator/api/index.js';

const obj = (spec: unknown) => ({
  apiVersion: API_VERSION,
  kind: KIND,
  metadata: { name: 'pbx', namespace: 'voice', uid: 'u-1' },
  spec,
});

describe('SipPbx spec', () => {
  it('fills every default from an empty spec', () => {
    expect(sipPbxSpecSchema.parse({})).toEqual({
      replicas: 1,
      sip: { port: 5060, transports: ['udp', 'tcp'], serviceType: 'ClusterIP' },
      media: {
        networkMode: 'PodIP',
        portRange: { start: 10000, end: 20000 },
        maxCallsPerPod: 1000,
        portsPerCall: 8,
      },
      drain: { timeoutSeconds: 3600, onDelete: 'Drain' },
      updateStrategy: { maxUnavailable: 1 },
      monitoring: { serviceMonitor: false },
    });
  });

  it('a missing spec is an empty one', () => {
    const r = parseSipPbx({ ...obj({}), spec: undefined });
    expect(r.ok && r.value.spec.replicas).toBe(1);
  });

  it.each([
    ['wrong kind', { ...obj({}), kind: 'Pod' }, 'kind:'],
    [
      'duplicate transport',
      obj({ sip: { transports: ['udp', 'udp'] } }),
      'sip.transports: must not repeat a transport',
    ],
    ['bad redis url', obj({ redis: { url: 'http://x' } }), 'redis.url'],
    ['rule', obj({ replicas: 5 }), `spec.media.portRange: ${RULE_MESSAGES.rangeFits}`],
    ['not an object', 42, '(root):'],
  ])('parseSipPbx names the field: %s', (_what, input, text) => {
    const r = parseSipPbx(input);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(text);
  });

  it('the pbx config pieces keep the pbx rules (a route target must be a SIP URI)', () => {
    const r = parseSipPbx(obj({ config: { routes: [{ match: '.', target: 'http://x' }] } }));
    expect(!r.ok && r.message).toContain('spec.config.routes.0.target');
  });

  it('default image follows the operator version', () => {
    expect(defaultImage('1.2.3')).toBe('ghcr.io/sippbx/sippbx:1.2.3');
  });
});

describe('status', () => {
  it('accepts what the operator writes and refuses a bad condition reason', () => {
    const status = {
      observedGeneration: 2,
      replicas: 2,
      selector: 'a=b',
      pods: [
        {
          name: 'pbx-0',
          ordinal: 0,
          portRange: { start: 1, end: 9 },
          state: 'draining',
          drainStartedAt: '2025-01-02T03:04:05Z',
          activeCalls: 3,
        },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          lastTransitionTime: '2025-01-02T03:04:05Z',
          reason: 'AllPodsReady',
          message: '',
        },
      ],
    };
    expect(sipPbxStatusSchema.parse(status)).toEqual(status);
    const bad = { conditions: [{ ...status.conditions[0], reason: 'not a reason' }] };
    expect(sipPbxStatusSchema.safeParse(bad).success).toBe(false);
  });
});

describe('setCondition', () => {
  const t0 = new Date('2025-01-02T03:04:05.678Z');
  const t1 = new Date('2025-01-02T04:00:00.000Z');
  const ready = (status: Condition['status'], reason = 'R', message = '') =>
    ({ type: 'Ready', status, reason, message, observedGeneration: 1 }) as const;

  it('formats times with second precision', () => {
    expect(formatTime(t0)).toBe('2025-01-02T03:04:05Z');
  });

  it('adds a new condition with lastTransitionTime = now', () => {
    expect(setCondition(undefined, ready('True'), t0)).toEqual([
      { ...ready('True'), lastTransitionTime: '2025-01-02T03:04:05Z' },
    ]);
  });

  it('keeps lastTransitionTime when the status is unchanged, updating reason and message', () => {
    const first = setCondition([], ready('True', 'A'), t0);
    const second = setCondition(first, { ...ready('True', 'B', 'msg'), observedGeneration: 2 }, t1);
    expect(second).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'B',
        message: 'msg',
        observedGeneration: 2,
        lastTransitionTime: '2025-01-02T03:04:05Z',
      },
    ]);
    expect(first[0]?.reason).toBe('A'); // input not mutated
  });

  it('moves lastTransitionTime when the status changes, keeping the order of others', () => {
    let list = setCondition([], ready('True'), t0);
    list = setCondition(list, { type: 'Draining', status: 'False', reason: 'Idle', message: '' }, t0);
    list = setCondition(list, ready('False'), t1);
    expect(list.map((c) => [c.type, c.status, c.lastTransitionTime])).toEqual([
      ['Ready', 'False', '2025-01-02T04:00:00Z'],
      ['Draining', 'False', '2025-01-02T03:04:05Z'],
    ]);
    expect(getCondition(list, 'Draining')?.reason).toBe('Idle');
    expect(getCondition(undefined, 'Ready')).toBeUndefined();
    expect(removeCondition(list, 'Ready').map((c) => c.type)).toEqual(['Draining']);
    expect(removeCondition(undefined, 'Ready')).toEqual([]);
  });
});
