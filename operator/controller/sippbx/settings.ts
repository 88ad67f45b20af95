// What the SipPbx reconciler and its finalizer share: resolved options, status writes, and the observed
// world of one reconcile. Its own module so that reconciler.ts and finalize.ts do not import each other.
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { sipPbxStatusSchema, type SipPbx, type SipPbxStatus } from '../../api/index.js';
import { existingToken, objectNames, randomToken, selectorString } from '../../desired/index.js';
import { createEventRecorder, type EventRecorder } from '../events.js';
import type { KubeClient, NamedObject, RawSipPbx } from '../kube.js';
import { createPbxClient, type PbxClient } from '../pbx-client.js';
import { deleteKeysWithPrefix } from '../redis-cleanup.js';
import type { ReconcileContext } from './context.js';
import { viewPods, type PodView } from './pods.js';

/** Options of createSipPbxReconciler. */
export interface SipPbxReconcilerOptions {
  readonly kube: KubeClient;
  readonly logger: Logger;
  /** Tag of the default pbx image and `app.kubernetes.io/version` of owned objects. */
  readonly operatorVersion: string;
  /** Image for a SipPbx without spec.image (SIPPBX_OPERATOR_PBX_IMAGE). */
  readonly defaultImage?: string;
  /** Whether `spec.redis.managed` is served (SIPPBX_OPERATOR_MANAGED_REDIS; default true). */
  readonly managedRedis?: boolean;
  readonly pbxApi?: PbxClient;
  readonly events?: EventRecorder;
  readonly now?: () => Date;
  /** Requeue delay while pods drain or a rollout waits (default 2000 ms). */
  readonly drainPollMs?: number;
  /** Requeue delay of a settled SipPbx, to refresh call counts (default 30,000 ms). */
  readonly resyncMs?: number;
  /** Requeue delay after a 409 (default 250 ms). */
  readonly conflictRequeueMs?: number;
  readonly generateToken?: () => string;
  /** Deletes a SipPbx's Redis keys (default SCAN + UNLINK with ioredis). */
  readonly cleanRedis?: (url: string, prefix: string) => Promise<number>;
  /** After this long in deletion, an unreachable Redis no longer holds the finalizer (default 5 min). */
  readonly redisGiveUpMs?: number;
}

/** Resolved options. */
export interface Settings {
  readonly kube: KubeClient;
  readonly log: Logger;
  readonly operatorVersion: string;
  readonly defaultImage: string | undefined;
  readonly managedRedis: boolean;
  readonly pbxApi: PbxClient;
  readonly events: EventRecorder;
  readonly now: () => Date;
  readonly drainPollMs: number;
  readonly resyncMs: number;
  readonly generateToken: () => string;
  readonly cleanRedis: (url: string, prefix: string) => Promise<number>;
  readonly redisGiveUpMs: number;
}

/** Options with their defaults filled in. */
export function settings(o: SipPbxReconcilerOptions): Settings {
  return {
    kube: o.kube,
    log: o.logger,
    operatorVersion: o.operatorVersion,
    defaultImage: o.defaultImage,
    managedRedis: o.managedRedis ?? true,
    pbxApi: o.pbxApi ?? createPbxClient(),
    events: o.events ?? createEventRecorder(o.kube, { logger: o.logger }),
    now: o.now ?? (() => new Date()),
    drainPollMs: o.drainPollMs ?? 2000,
    resyncMs: o.resyncMs ?? 30_000,
    generateToken: o.generateToken ?? randomToken,
    cleanRedis: o.cleanRedis ?? ((url, prefix) => deleteKeysWithPrefix(url, prefix)),
    redisGiveUpMs: o.redisGiveUpMs ?? 5 * 60_000,
  };
}

/** The current status of a raw SipPbx, if it parses. */
export function currentStatus(raw: RawSipPbx): SipPbxStatus | undefined {
  const parsed = sipPbxStatusSchema.safeParse(raw.status);
  return parsed.success ? parsed.data : undefined;
}

/** Writes `status` through the status subresource unless it is what the object already has. */
export async function writeStatus(s: Settings, raw: RawSipPbx, status: SipPbxStatus): Promise<void> {
  const next = JSON.parse(JSON.stringify(status)) as SipPbxStatus;
  if (JSON.stringify(sortKeys(raw.status)) === JSON.stringify(sortKeys(next))) return;
  await s.kube.replaceSipPbxStatus({ ...raw, status: next });
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
  );
}

/** The world one reconcile starts from. */
export interface Observed {
  readonly sts: V1StatefulSet | undefined;
  readonly pods: PodView[];
  readonly token: string;
}

/** Reads the StatefulSet, the pods and the admin token of `pbx`. */
export async function observe(s: Settings, pbx: SipPbx, namespace: string): Promise<Observed> {
  const names = objectNames(pbx.metadata.name);
  const stsRef: NamedObject = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: names.statefulSet, namespace },
  };
  const [sts, podList, secret] = await Promise.all([
    s.kube.read<V1StatefulSet>(stsRef),
    s.kube.listPods(namespace, selectorString(pbx.metadata.name)),
    s.kube.readSecret(namespace, names.adminTokenSecret),
  ]);
  return {
    sts,
    pods: viewPods(podList, names.statefulSet),
    token: existingToken(secret) ?? s.generateToken(),
  };
}

/** Builds the per-reconcile context. */
export function contextFor(s: Settings, pbx: SipPbx, namespace: string, token: string): ReconcileContext {
  return {
    kube: s.kube,
    pbxApi: s.pbxApi,
    events: s.events,
    log: s.log.child({ sippbx: `${namespace}/${pbx.metadata.name}` }),
    now: s.now,
    pbx,
    namespace,
    token,
  };
}
