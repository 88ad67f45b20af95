/** CallRegistry on Redis: Call-ID keys with TTL, per-pod hash + expiry set, heartbeats; Lua for atomicity. */
import type { Clock } from '../core/clock.js';
import { entryJson, parseEntry, sortCalls } from './entries.js';
import { resolveStoreOptions } from './options.js';
import type { StoreOptions } from './options.js';
import type { RedisLink } from './redis-link.js';
import type { CallEntry, CallRegistry, PodInfo, PodState } from './types.js';

/** Creates a CallRegistry on `link`; closing it leaves the link open (its owner closes it). */
export function redisCallRegistry(link: RedisLink, options?: StoreOptions): CallRegistry {
  return new RedisCalls(link, options);
}

class RedisCalls implements CallRegistry {
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly podTtlMs: number;
  private readonly p: string;

  constructor(
    private readonly link: RedisLink,
    options?: StoreOptions,
  ) {
    const o = resolveStoreOptions(options);
    this.clock = o.clock;
    this.ttlMs = o.ttlMs;
    this.podTtlMs = o.podTtlMs;
    this.p = link.prefix;
  }

  async register(e: CallEntry): Promise<void> {
    const expiresAt = this.clock.now() + this.ttlMs;
    const args = [this.p, e.callId, e.owner.pod, entryJson(e), expiresAt, this.ttlMs, e.legs.a, e.legs.b];
    await this.link.script('registerCall', args);
  }

  async lookup(sipCallId: string): Promise<CallEntry | undefined> {
    const json = await this.link.script('lookupCall', [this.p, sipCallId, this.clock.now()]);
    return typeof json === 'string' ? parseEntry(json) : undefined;
  }

  async remove(call: CallEntry | string): Promise<boolean> {
    const args =
      typeof call === 'string'
        ? [this.p, call, '', '', '']
        : [this.p, call.callId, call.owner.pod, call.legs.a, call.legs.b];
    return (await this.link.script('removeCall', args)) === 1;
  }

  async refresh(entries: readonly CallEntry[]): Promise<number> {
    const now = this.clock.now();
    let n = 0;
    for (const [pod, calls] of groupByPod(entries)) {
      const args: (string | number)[] = [this.p, pod, now, now + this.ttlMs, this.ttlMs];
      for (const e of calls) args.push(e.callId, e.legs.a, e.legs.b);
      n += Number(await this.link.script('refreshCalls', args));
    }
    return n;
  }

  activeCalls(pod: string): Promise<number> {
    const key = `${this.p}pod:${pod}:expiry`;
    return this.link.command((c) => c.zcount(key, `(${this.clock.now()}`, '+inf'));
  }

  async listCalls(pod: string): Promise<CallEntry[]> {
    const found = (await this.link.script('listCalls', [this.p, pod, this.clock.now()])) as (string | null)[];
    return sortCalls(found.filter((j) => typeof j === 'string').map(parseEntry));
  }

  async resync(pod: string, live: readonly CallEntry[]): Promise<void> {
    const args: (string | number)[] = [this.p, pod, this.clock.now() + this.ttlMs, this.ttlMs];
    for (const e of live) args.push(e.callId, e.legs.a, e.legs.b, entryJson(e));
    await this.link.script('resyncCalls', args);
  }

  async setPodState(pod: string, state: PodState): Promise<void> {
    const json = JSON.stringify({ ...copyState(state), expiresAt: this.clock.now() + this.podTtlMs });
    await this.link.script('setPodState', [this.p, pod, json, this.podTtlMs]);
  }

  async getPodState(pod: string): Promise<PodState | undefined> {
    const json = await this.link.command((c) => c.get(`${this.p}pod:${pod}:state`));
    return json === null ? undefined : this.liveState(json);
  }

  async listPods(): Promise<PodInfo[]> {
    const flat = (await this.link.script('listPods', [this.p])) as string[];
    const pods: PodInfo[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const state = this.liveState(flat[i + 1] ?? '');
      if (state !== undefined) pods.push({ pod: flat[i] ?? '', ...state });
    }
    return pods.sort((x, y) => (x.pod < y.pod ? -1 : 1));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The stored heartbeat, unless its logical expiry (registry clock) has passed. */
  private liveState(json: string): PodState | undefined {
    const stored = JSON.parse(json) as PodState & { expiresAt: number };
    return stored.expiresAt > this.clock.now() ? copyState(stored) : undefined;
  }
}

function copyState(s: PodState): PodState {
  return { state: s.state, sipAddress: s.sipAddress, updatedAt: s.updatedAt };
}

function groupByPod(entries: readonly CallEntry[]): Map<string, CallEntry[]> {
  const out = new Map<string, CallEntry[]>();
  for (const e of entries) {
    const list = out.get(e.owner.pod);
    if (list === undefined) out.set(e.owner.pod, [e]);
    else list.push(e);
  }
  return out;
}
