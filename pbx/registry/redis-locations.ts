/** LocationStore on Redis: `aor:{aor}` hashes plus one expiry sorted set; §10.3 rules in Lua. */
import type { Clock } from '../core/clock.js';
import { aorOf } from './aor.js';
import { orderBindings, toBinding } from './bindings.js';
import { RegisterOutOfOrder } from './errors.js';
import { resolveStoreOptions, startSweeper } from './options.js';
import type { StoreOptions } from './options.js';
import type { RedisLink } from './redis-link.js';
import type { AorBindings, Binding, ContactUpdate, LocationStore } from './types.js';

/** Most expired bindings one sweep removes (bounds the script's run time). */
const SWEEP_BATCH = 1000;

/** Creates a LocationStore on `link` with its own sweep timer; closing it leaves the link open. */
export function redisLocationStore(link: RedisLink, options?: StoreOptions): LocationStore {
  return new RedisLocations(link, options);
}

class RedisLocations implements LocationStore {
  private readonly clock: Clock;
  private readonly p: string;
  private readonly stopSweeper: () => void;

  constructor(
    private readonly link: RedisLink,
    options?: StoreOptions,
  ) {
    const o = resolveStoreOptions(options);
    this.clock = o.clock;
    this.p = link.prefix;
    this.stopSweeper = startSweeper(o.clock, o.sweepIntervalMs, () => this.sweep());
  }

  async register(
    aor: string,
    updates: readonly ContactUpdate[],
    callId: string,
    cseq: number,
  ): Promise<Binding[]> {
    const key = aorOf(aor);
    const now = this.clock.now();
    const args: (string | number)[] = [this.p, key, now, callId, cseq, 'set'];
    for (const u of updates) {
      const b = toBinding(u, callId, cseq, now);
      args.push(u.uri, b.expiresAt, JSON.stringify(b));
    }
    const reply = (await this.link.script('registerAor', args)) as (string | number)[];
    return orderBindings(this.accepted(key, cseq, reply));
  }

  async removeAll(aor: string, callId: string, cseq: number): Promise<void> {
    const key = aorOf(aor);
    const reply = (await this.link.script('registerAor', [
      this.p,
      key,
      this.clock.now(),
      callId,
      cseq,
      'all',
    ])) as (string | number)[];
    this.accepted(key, cseq, reply);
  }

  async lookup(aor: string): Promise<Binding[]> {
    const found = (await this.link.script('lookupAor', [this.p, aorOf(aor), this.clock.now()])) as string[];
    return orderBindings(found.map((j) => JSON.parse(j) as Binding));
  }

  count(): Promise<number> {
    return this.link.command((c) => c.zcount(`${this.p}bindings`, `(${this.clock.now()}`, '+inf'));
  }

  async resync(entries: readonly AorBindings[]): Promise<void> {
    const args: (string | number)[] = [this.p, this.clock.now()];
    for (const { aor, bindings } of entries) {
      const key = aorOf(aor);
      for (const b of bindings) {
        args.push(key, b.uri, JSON.stringify(b), b.expiresAt, b.callId, b.cseq, b.registeredAt);
      }
    }
    if (args.length > 2) await this.link.script('resyncAors', args);
  }

  async sweep(): Promise<number> {
    return Number(await this.link.script('sweepAors', [this.p, this.clock.now(), SWEEP_BATCH]));
  }

  close(): Promise<void> {
    this.stopSweeper();
    return Promise.resolve();
  }

  /** The stored bindings of an accepted reply `{1, json...}`; `{0, contact, storedCseq}` throws. */
  private accepted(aor: string, cseq: number, reply: (string | number)[]): Binding[] {
    if (reply[0] === 0) throw new RegisterOutOfOrder(aor, String(reply[1]), Number(reply[2]), cseq);
    return reply.slice(1).map((j) => JSON.parse(String(j)) as Binding);
  }
}
