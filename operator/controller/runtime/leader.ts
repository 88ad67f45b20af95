// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does it:
// a candidate takes the lease when it is free or when its record has not changed for a whole lease
// duration *as observed on the candidate's own clock* (no trust in other clocks), writes with the
// lease's resourceVersion (a 409 means someone else won the race), renews every retry period, and
// gives up leadership when it cannot renew within the renew deadline.
import { hostname } from 'node:os';
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { operatorClock } from './clock.js';
import type { Clock, TimerHandle } from '../../../pbx/core/clock.js';
import type { Logger } from '../../../pbx/core/logger.js';
import type { LeaderElectionMetrics } from './metrics.js';

/** Why leadership ended. */
export type StoppedLeadingReason = 'lost' | 'stopped';

/** Options of createLeaderElector. */
export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  /** Lease name (also the `name` label of leader_election_master_status). */
  leaseName: string;
  namespace: string;
  /** This candidate's identity (default defaultIdentity()). */
  identity?: string;
  /** How long a lease is valid after its last observed change (default 15,000 ms). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up (default 10,000 ms). */
  renewDeadlineMs?: number;
  /** Interval between attempts to acquire or renew (default 2,000 ms). */
  retryPeriodMs?: number;
  /** Called when this candidate becomes the leader: start the controllers here. */
  onStartedLeading?: () => void;
  /** Called when leadership ends (lost, or stop() while leading): stop the controllers here. */
  onStoppedLeading?: (reason: StoppedLeadingReason) => void;
  /** Called when the observed holder changes (including to this candidate). */
  onNewLeader?: (identity: string) => void;
  logger?: Logger;
  metrics?: LeaderElectionMetrics;
  clock?: Clock;
}

/** A running candidate. */
export interface LeaderElector {
  readonly identity: string;
  /** Starts campaigning; a stopped or lost elector does not start again (create a new one). */
  start(): void;
  /** Stops campaigning; a leader first releases the lease (holderIdentity unset) unless `release` is false. */
  stop(opts?: { release?: boolean }): Promise<void>;
  /** True while this candidate holds the lease. */
  isLeader(): boolean;
  /** The holder last observed ('' when free or unknown). */
  leader(): string;
  /** Resolves when the elector ends: stopped, or leadership lost (client-go's Run returning). */
  readonly done: Promise<void>;
}

/** POD_NAME (set from the downward API by the chart), else hostname and pid. */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  const pod = env['POD_NAME'];
  return pod !== undefined && pod !== '' ? pod : `${hostname()}_${process.pid}`;
}

const statusCode = (err: unknown): number | undefined =>
  typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number'
    ? err.code
    : undefined;

/** Creates a leader elector (not started). */
export function createLeaderElector(opts: LeaderElectorOptions): LeaderElector {
  const api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
  const clock = opts.clock ?? operatorClock();
  const identity = opts.identity ?? defaultIdentity();
  const leaseDuration = opts.leaseDurationMs ?? 15_000;
  const renewDeadline = opts.renewDeadlineMs ?? 10_000;
  const retryPeriod = opts.retryPeriodMs ?? 2_000;
  const { leaseName: name, namespace } = opts;
  const log = opts.logger?.child({ lease: `${namespace}/${name}`, identity });
  let started = false;
  let stopped = false;
  let leading = false;
  let holder = '';
  let observedRv: string | undefined;
  let observedAt = 0;
  let announced = false;
  let wake: (() => void) | undefined;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));

  /** Waits `ms` or until stop() wakes the loop; client-go jitters the retry period by up to 20%. */
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      let timer: TimerHandle | undefined = undefined;
      wake = () => {
        if (timer !== undefined) clock.clearTimer(timer);
        resolve();
      };
      timer = clock.setTimer(ms, resolve);
    });
  const jittered = (): number => retryPeriod * (1 + Math.random() * 0.2);

  const observe = (lease: V1Lease): void => {
    const rv = lease.metadata?.resourceVersion;
    if (rv !== observedRv) {
      observedRv = rv;
      observedAt = clock.now();
    }
    const next = lease.spec?.holderIdentity ?? '';
    if (next !== holder) {
      holder = next;
      if (next !== '') opts.onNewLeader?.(next);
    }
  };
  const record = (prev: V1LeaseSpec | undefined): V1LeaseSpec => {
    const now = new V1MicroTime();
    const mine = (prev?.holderIdentity ?? '') === identity;
    const transitions = prev?.leaseTransitions ?? 0;
    return {
      holderIdentity: identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(leaseDuration / 1000)),
      acquireTime: mine && prev?.acquireTime !== undefined ? prev.acquireTime : now,
      renewTime: now,
      leaseTransitions: mine || prev === undefined ? transitions : transitions + 1,
    };
  };
  const create = async (): Promise<boolean> => {
    const body: V1Lease = { metadata: { name, namespace }, spec: record(undefined) };
    observe(await api.createNamespacedLease({ namespace, body }));
    return true;
  };
  const heldByOther = (lease: V1Lease): boolean => {
    const current = lease.spec?.holderIdentity ?? '';
    return current !== '' && current !== identity && clock.now() < observedAt + leaseDuration;
  };
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    try {
      const lease = await api.readNamespacedLease({ name, namespace });
      observe(lease);
      if (heldByOther(lease)) return false;
      const body: V1Lease = { ...lease, spec: record(lease.spec) };
      observe(await api.replaceNamespacedLease({ name, namespace, body }));
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return create().catch(() => false);
      if (statusCode(err) !== 409) log?.warn({ err }, 'lease read/write failed');
      return false;
    }
  };
  /** Renews until stopped or until no renewal succeeded within the renew deadline. */
  const renewLoop = async (): Promise<void> => {
    let lastRenew = clock.now();
    while (!stopped) {
      await sleep(retryPeriod);
      if (stopped) return;
      const remaining = lastRenew + renewDeadline - clock.now();
      const ok = remaining > 0 && (await withTimeout(tryAcquireOrRenew(), remaining));
      if (ok) lastRenew = clock.now();
      else if (holder !== identity || clock.now() >= lastRenew + renewDeadline) return;
    }
  };
  const withTimeout = (p: Promise<boolean>, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = clock.setTimer(ms, () => resolve(false));
      void p.then((ok) => {
        clock.clearTimer(timer);
        resolve(ok);
      });
    });
  const observedHolderIsMe = (): boolean => holder === identity;
  const setLeading = (value: boolean): void => {
    leading = value;
    opts.metrics?.leading(value);
  };
  const release = async (): Promise<void> => {
    try {
      const lease = await api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      const now = new V1MicroTime();
      const spec: V1LeaseSpec = {
        leaseDurationSeconds: 1,
        leaseTransitions: lease.spec.leaseTransitions ?? 0,
        renewTime: now,
        acquireTime: now,
      };
      await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } });
      log?.info('lease released');
    } catch (err) {
      log?.warn({ err }, 'could not release the lease');
    }
  };
  const campaign = async (): Promise<void> => {
    while (!stopped && !(await tryAcquireOrRenew())) await sleep(jittered());
    if (stopped && observedHolderIsMe()) setLeading(true); // won just as stop() came: stop() releases
    if (stopped) return;
    setLeading(true);
    announced = true;
    log?.info('became leader');
    opts.onStartedLeading?.();
    await renewLoop();
    if (stopped) return; // stop() reports the end of leadership itself
    setLeading(false);
    log?.warn({ holder }, 'lost the lease');
    opts.onStoppedLeading?.('lost');
    finish();
  };
  let running: Promise<void> = Promise.resolve();

  return {
    identity,
    start() {
      if (started) return;
      started = true;
      log?.info('campaigning for the lease');
      running = campaign();
    },
    async stop(stopOpts = {}) {
      if (stopped) return;
      stopped = true;
      wake?.();
      await running;
      if (leading) {
        if (stopOpts.release !== false) await release();
        setLeading(false);
        if (announced) opts.onStoppedLeading?.('stopped');
      }
      finish();
    },
    isLeader: () => leading,
    leader: () => holder,
    done,
  };
}
