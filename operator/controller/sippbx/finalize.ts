// Deleting a SipPbx: the finalizer `sippbx.dev/cleanup` holds the object (and so its children, which
// go by ownerReference GC) until the pods have drained (spec.drain.onDelete: Drain, bounded by the
// drain deadline) and the instance's Redis keys are gone. Managed Redis goes with the GC anyway.
import { objectNames, redisKeyPrefix, portPlan, selectorString } from '../../desired/index.js';
import type { SipPbx } from '../../api/index.js';
import type { ReconcileResult } from '../runtime/index.js';
import type { RawSipPbx } from '../kube.js';
import { notify, type ReconcileContext } from './context.js';
import { driveDrain } from './drain.js';
import { parseForReconcile } from './parse.js';
import { contextFor, observe, writeStatus, type Settings } from './settings.js';
import { buildStatus } from './status.js';

/** The finalizer the operator puts on every SipPbx. */
export const FINALIZER = 'sippbx.dev/cleanup';

/** True when the SipPbx carries the operator's finalizer. */
export function hasFinalizer(raw: RawSipPbx): boolean {
  return (raw.metadata?.finalizers ?? []).includes(FINALIZER);
}

/** Drains every pod; true while some pod still drains. */
async function drainAll(s: Settings, raw: RawSipPbx, pbx: SipPbx, namespace: string): Promise<boolean> {
  const world = await observe(s, pbx, namespace);
  const c = contextFor(s, pbx, namespace, world.token);
  const live = world.pods.filter((v) => !v.terminating);
  const drains = await Promise.all(live.map((v) => driveDrain(c, v, 'delete')));
  const plan = portPlan(pbx.spec, pbx.metadata.name);
  const status = buildStatus({
    pbx,
    plan,
    pods: world.pods,
    sts: world.sts,
    drains,
    rollout: undefined,
    calls: new Map(),
    now: s.now(),
  });
  await writeStatus(s, raw, status);
  return drains.some((d) => !d.done);
}

/** The Redis URL of a SipPbx with its own Redis (url or secretRef); undefined for none or managed. */
async function redisUrl(s: Settings, pbx: SipPbx, namespace: string): Promise<string | undefined> {
  const redis = pbx.spec.redis;
  if (redis?.url !== undefined) return redis.url;
  if (redis?.secretRef === undefined) return undefined;
  const secret = await s.kube.readSecret(namespace, redis.secretRef.name);
  const value = secret?.data?.[redis.secretRef.key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

async function cleanRedis(s: Settings, raw: RawSipPbx, pbx: SipPbx, c: ReconcileContext): Promise<void> {
  const url = await redisUrl(s, pbx, c.namespace);
  if (url === undefined) return;
  const prefix = redisKeyPrefix(pbx);
  try {
    const n = await s.cleanRedis(url, prefix);
    await notify(c, 'RedisCleaned', `deleted ${n} Redis key(s) under ${prefix}`);
  } catch (err) {
    const since = Date.parse(String(raw.metadata?.deletionTimestamp ?? ''));
    if (Number.isNaN(since) || s.now().getTime() - since < s.redisGiveUpMs) throw err;
    await c.events.record(
      {
        apiVersion: String(raw.apiVersion),
        kind: String(raw.kind),
        name: pbx.metadata.name,
        namespace: c.namespace,
      },
      'Warning',
      'RedisCleanupFailed',
      `gave up deleting Redis keys under ${prefix}: ${String(err)}`,
    );
  }
}

/**
 * Stops the pods before the instance's Redis keys go: a live pbx writes its heartbeat and calls
 * again. The StatefulSet is deleted; with onDelete Immediate its pods are deleted at once (grace 0),
 * otherwise they have drained already and stop on their own. True while some pod is still there.
 */
async function stopPods(s: Settings, pbx: SipPbx, namespace: string): Promise<boolean> {
  const names = objectNames(pbx.metadata.name);
  await s.kube.remove({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: names.statefulSet, namespace },
  });
  const pods = await s.kube.listPods(namespace, selectorString(pbx.metadata.name));
  if (pbx.spec.drain.onDelete === 'Immediate') {
    for (const pod of pods) {
      const name = pod.metadata?.name ?? '';
      await s.kube.remove(
        { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace } },
        { gracePeriodSeconds: 0 },
      );
    }
  }
  return pods.length > 0;
}

async function removeFinalizer(s: Settings, raw: RawSipPbx, namespace: string): Promise<void> {
  const finalizers = (raw.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER);
  await s.kube.patchSipPbx(namespace, raw.metadata?.name ?? '', {
    metadata: { finalizers, resourceVersion: raw.metadata?.resourceVersion },
  });
}

/** One reconcile of a SipPbx being deleted. */
export async function finalize(
  s: Settings,
  raw: RawSipPbx,
  namespace: string,
): Promise<ReconcileResult | void> {
  if (!hasFinalizer(raw)) return;
  const input = parseForReconcile(raw);
  if (input.ok) {
    const pbx = input.pbx;
    if (pbx.spec.drain.onDelete === 'Drain' && (await drainAll(s, raw, pbx, namespace)))
      return { requeueAfterMs: s.drainPollMs };
    if (await stopPods(s, pbx, namespace)) return { requeueAfterMs: s.drainPollMs };
    const c = contextFor(s, pbx, namespace, '');
    await cleanRedis(s, raw, pbx, c);
  } else
    s.log.warn(
      { namespace, message: input.message },
      'deleting a SipPbx with an invalid spec: no drain, no cleanup',
    );
  await removeFinalizer(s, raw, namespace);
}
