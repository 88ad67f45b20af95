// Issue 8 "Done when" #1: the rendered chart applied with kubectl runs the operator as a pod (through the
// kubelet's image map); a SipPbx with 3 replicas applied with kubectl becomes 3 Ready pbx pods with
// disjoint media port ranges and Ready=True at the current observedGeneration; invalid specs are refused
// by kubectl apply with clear messages.
import { describe, expect, it } from 'vitest';
import { getCondition } from '../../operator/api/index.js';
import {
  callsTotal,
  type Env,
  kubectlApply,
  kubectlApplyResult,
  pbxApi,
  pbxPods,
  portPlanOf,
  sipPbxManifest,
  useOperatorEnv,
  waitForReady,
} from './harness.js';

let env: Env;
useOperatorEnv({ mode: 'chart', replicas: 1 }, (started) => (env = started));

describe('install', () => {
  it('a SipPbx with 3 replicas becomes 3 Ready pbx pods with disjoint port ranges', async () => {
    const out = await kubectlApply(
      env,
      sipPbxManifest({
        name: 'edge',
        replicas: 3,
        portStart: 40000,
        maxCallsPerPod: 10,
        redisUrl: env.redis.url,
      }),
    );
    expect(out).toContain('sippbx.sippbx.dev/edge created');
    const obj = await waitForReady(env, 'edge', 3);
    expect(obj.status?.replicas).toBe(3);
    const ready = getCondition(obj.status?.conditions, 'Ready');
    expect(ready?.observedGeneration).toBe(obj.metadata.generation);
    const pods = pbxPods(env, 'edge');
    expect(pods.map((p) => p.metadata.name)).toEqual(['edge-0', 'edge-1', 'edge-2']);
    // Each pod's effective range: the port plan ConfigMap entry it mounts, the status, and the real
    // process's port pool size (GET /api/v1/stats).
    const plan = portPlanOf(env, 'edge');
    const ranges = pods.map((p) => plan[p.metadata.name ?? '']);
    expect(ranges).toEqual([
      { start: 40000, end: 40080 },
      { start: 40080, end: 40160 },
      { start: 40160, end: 40240 },
    ]);
    expect(
      (obj.status?.pods ?? []).map((p) => [p.name, p.state, p.portRange.start, p.portRange.end]),
    ).toEqual([
      ['edge-0', 'running', 40000, 40080],
      ['edge-1', 'running', 40080, 40160],
      ['edge-2', 'running', 40160, 40240],
    ]);
    for (const p of pods) {
      const stats = await pbxApi<{ ports: { total: number } }>(env, p, '/api/v1/stats', 'edge');
      expect(stats.ports.total).toBe(80);
      expect(await callsTotal(p)).toBe(0);
      expect(env.cluster.logs(p.metadata.name ?? '')).not.toMatch(/EADDRINUSE/);
    }
    const table = await env.kubectl('get', 'pbx', 'edge');
    expect(table).toMatch(/edge\s+3\s+3\s+0\s+0\s+True/);
  }, 60_000);

  it('refuses invalid specs with clear messages', async () => {
    const base = (extra: Record<string, unknown>, media?: Record<string, unknown>) => {
      const m = sipPbxManifest({ name: 'bad', replicas: 3, portStart: 41000, maxCallsPerPod: 10 }) as {
        spec: Record<string, unknown> & { media: Record<string, unknown> };
      };
      if (media !== undefined) m.spec.media = { ...m.spec.media, ...media };
      Object.assign(m.spec, extra);
      return m;
    };
    const odd = await kubectlApplyResult(env, base({}, { portRange: { start: 41001, end: 42001 } }));
    expect(odd.code).not.toBe(0);
    expect(odd.stderr).toContain('media.portRange.start must be a multiple of 8');
    const small = await kubectlApplyResult(env, base({}, { portRange: { start: 41000, end: 41100 } }));
    expect(small.code).not.toBe(0);
    expect(small.stderr).toContain('media.portRange is too small');
    const twoRedis = await kubectlApplyResult(env, base({ redis: { url: env.redis.url, managed: true } }));
    expect(twoRedis.code).not.toBe(0);
    expect(twoRedis.stderr).toContain('redis needs exactly one of url, secretRef or managed: true');
    expect(await env.kubectlResult('get', 'pbx', 'bad')).toMatchObject({ code: 1 });
  }, 30_000);
});
