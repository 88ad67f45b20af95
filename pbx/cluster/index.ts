/**
 * Several pbx instances acting as one (ARCHITECTURE.md "Shared state"): this pod's view of the shared
 * registry. It publishes the pod's calls and heartbeat, looks up the owners of foreign Call-IDs, keeps
 * the local state that serves calls while Redis is down, and re-syncs the registry when Redis returns.
 * Nothing here is awaited on the call setup path: registry writes go out in the background, fail fast
 * when Redis is down, and are counted (`sippbx_registry_errors_total`) rather than logged per call.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { createRegistry, DEFAULT_CALL_TTL_SECONDS } from '../registry/index.js';
import type {
  CallEntry,
  CallOwner,
  CallRegistry,
  LocationStore,
  PodRunState,
  RegistryConfig,
} from '../registry/index.js';
import { mirroredLocationStore } from './locations.js';

export { mirroredLocationStore } from './locations.js';
export type { MirroredLocationStore } from './locations.js';

/** Heartbeat interval: a third of the default pod TTL (30 s), so one lost write never expires a pod. */
export const HEARTBEAT_INTERVAL_MS = 10_000;

/** What the cluster view needs from the pbx. */
export interface ClusterOptions {
  readonly registry: RegistryConfig;
  /** This pod's name (`POD_NAME`, else the host name). */
  readonly pod: string;
  /** `host:port` other pods forward in-dialog requests to. */
  readonly sipAddress: string;
  /** Timer source (heartbeat, refresh); expiry instants use the registry's own wall clock. */
  readonly clock: Clock;
  readonly logger: Logger;
  /** The drain state written into the heartbeat. */
  readonly runState: () => PodRunState;
  /** Called once per failed registry operation (the metrics counter). */
  readonly onError: () => void;
  /** Call TTL in seconds (default: the registry's, 3600); live calls are refreshed every third of it. */
  readonly ttlSeconds?: number;
  /** Heartbeat interval override (tests). */
  readonly heartbeatIntervalMs?: number;
}

/** This pod's view of the shared registry. */
export interface Cluster {
  /** True when the registry is shared with other pods (Redis): forwarding applies. */
  readonly shared: boolean;
  readonly pod: string;
  readonly sipAddress: string;
  /** The LocationStore the registrar and routing use (shared, with a local fallback). */
  readonly locations: LocationStore;
  /** The shared CallRegistry (read it for drain decisions; the pod's own writes go through callStarted/Ended). */
  readonly calls: CallRegistry;
  /** Records a local call and publishes it (never blocks). */
  callStarted(callId: string, legs: { readonly a: string; readonly b: string }, startTime: number): void;
  /** Forgets a local call and removes it from the registry (never blocks). */
  callEnded(callId: string): void;
  /** The owner of a SIP Call-ID this pod does not know, or undefined (unknown, or the registry is down). */
  ownerOf(sipCallId: string): Promise<CallOwner | undefined>;
  /** Writes the heartbeat now (e.g. on a drain state change); never rejects. */
  heartbeat(): Promise<void>;
  /** Stops timers and closes the registry. */
  close(): Promise<void>;
}

/** Builds the cluster view; never waits for Redis (it may be down at startup). */
export function createCluster(o: ClusterOptions): Cluster {
  const live = new Map<string, CallEntry>();
  const log = o.logger;
  const shared = o.registry.backend === 'redis';
  const registry = createRegistry(o.registry, {
    ...(o.ttlSeconds === undefined ? {} : { ttlSeconds: o.ttlSeconds }),
    onError: () => o.onError(),
  });
  const link = registry.link;
  const mirror = link === undefined ? undefined : mirroredLocationStore(registry.locations, () => link.up);
  const locations: LocationStore = mirror ?? registry.locations;
  const owner: CallOwner = { pod: o.pod, sipAddress: o.sipAddress };
  // Background writes: the link counts failures; one line per outage is logged by the state listener.
  const quietly = (what: string, p: Promise<unknown>): void => {
    p.catch((err: unknown) => log.debug({ err: String(err), op: what }, 'registry operation failed'));
  };

  const heartbeat = async (): Promise<void> => {
    await registry.calls
      .setPodState(o.pod, { state: o.runState(), sipAddress: o.sipAddress, updatedAt: Date.now() })
      .catch(() => undefined);
  };

  /** Makes the registry hold exactly this pod's live calls and re-publishes the bindings it accepted. */
  const resync = async (): Promise<void> => {
    const calls = [...live.values()];
    const bindings = mirror?.snapshot() ?? [];
    try {
      await registry.calls.resync(o.pod, calls);
      await registry.locations.resync(bindings);
      await heartbeat();
      log.info({ calls: calls.length, aors: bindings.length }, 'registry resynced');
    } catch (err) {
      log.debug({ err: String(err) }, 'registry resync failed; retried when Redis is back');
    }
  };

  const offState =
    link?.onStateChange((up) => {
      if (up) {
        log.info({ pod: o.pod }, 'registry up');
        void resync();
      } else {
        log.warn({ pod: o.pod }, 'registry down: serving from local state');
      }
    }) ?? (() => undefined);

  const timers: { heartbeat?: TimerHandle; refresh?: TimerHandle } = {};
  let closed = false;
  const every = (key: 'heartbeat' | 'refresh', ms: number, fn: () => Promise<unknown>): void => {
    timers[key] = o.clock.setTimer(ms, () => {
      if (closed) return;
      quietly(key, fn());
      every(key, ms, fn);
    });
  };
  // The first heartbeat goes out with the resync on 'up' (writing before the connection is made would
  // only count an error); then one every interval, and live calls' TTLs renewed every third of the TTL.
  if (shared) every('heartbeat', o.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS, heartbeat);
  const ttlMs = (o.ttlSeconds ?? DEFAULT_CALL_TTL_SECONDS) * 1000;
  every('refresh', Math.max(1000, Math.floor(ttlMs / 3)), () => registry.calls.refresh([...live.values()]));

  return {
    shared,
    pod: o.pod,
    sipAddress: o.sipAddress,
    locations,
    calls: registry.calls,
    callStarted(callId, legs, startTime) {
      const entry: CallEntry = { callId, legs: { a: legs.a, b: legs.b }, owner, startTime };
      live.set(callId, entry);
      quietly('register', registry.calls.register(entry));
    },
    callEnded(callId) {
      const entry = live.get(callId);
      live.delete(callId);
      quietly('remove', registry.calls.remove(entry ?? callId));
    },
    async ownerOf(sipCallId) {
      if (link !== undefined && !link.up) return undefined;
      try {
        return (await registry.calls.lookup(sipCallId))?.owner;
      } catch {
        return undefined;
      }
    },
    heartbeat,
    async close() {
      closed = true;
      offState();
      if (timers.heartbeat !== undefined) o.clock.clearTimer(timers.heartbeat);
      if (timers.refresh !== undefined) o.clock.clearTimer(timers.refresh);
      await locations.close();
      await registry.close();
    },
  };
}
