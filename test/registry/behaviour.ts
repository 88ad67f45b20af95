// One behavioural suite for every CallRegistry/LocationStore backend: memory and Redis pass the same tests.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeClock } from '../../pbx/core/clock.js';
import type { FakeClock } from '../../pbx/core/clock.js';
import { InvalidAor, RegisterOutOfOrder } from '../../pbx/registry/index.js';
import type {
  CallEntry,
  CallRegistry,
  ContactUpdate,
  LocationStore,
  StoreOptions,
} from '../../pbx/registry/index.js';

export const START = 1_700_000_000_000;
export const TTL_SECONDS = 600;
export const POD_TTL_SECONDS = 30;

export interface Backend {
  readonly calls: CallRegistry;
  readonly locations: LocationStore;
  close(): Promise<void>;
}

/** Builds a fresh, empty backend with these options (the suite's fake clock among them). */
export type BackendFactory = (options: Required<StoreOptions>) => Promise<Backend>;

export function call(n: number, pod = 'pbx-0', startTime = START + n): CallEntry {
  return {
    callId: `call-${n}`,
    legs: { a: `a-${n}@caller.example`, b: `b-${n}@10.0.0.1` },
    owner: { pod, sipAddress: `${pod}.pbx:5060` },
    startTime,
  };
}

const contact = (uri: string, expires = 3600, extra: Partial<ContactUpdate> = {}): ContactUpdate => ({
  uri,
  expires,
  ...extra,
});

export function registryBehaviour(name: string, factory: BackendFactory): void {
  describe(`${name}: behaviour`, () => {
    let clock: FakeClock;
    let backend: Backend;
    let calls: CallRegistry;
    let loc: LocationStore;

    beforeEach(async () => {
      clock = fakeClock(START);
      backend = await factory({
        clock,
        ttlSeconds: TTL_SECONDS,
        podTtlSeconds: POD_TTL_SECONDS,
        sweepIntervalMs: 0,
      });
      calls = backend.calls;
      loc = backend.locations;
    });
    afterEach(async () => {
      await backend.close();
      await backend.close(); // close is idempotent
    });

    describe('CallRegistry', () => {
      it('finds a registered call by either leg Call-ID, and nothing for unknown ones', async () => {
        const c = call(1);
        await calls.register(c);
        expect(await calls.lookup(c.legs.a)).toEqual(c);
        expect(await calls.lookup(c.legs.b)).toEqual(c);
        expect(await calls.lookup('nope@x')).toBeUndefined();
        expect(await calls.lookup(c.callId)).toBeUndefined();
      });

      it('removes a call by entry: both Call-IDs and the pod set, atomically', async () => {
        const [c1, c2] = [call(1), call(2)];
        await calls.register(c1);
        await calls.register(c2);
        expect(await calls.remove(c1)).toBe(true);
        expect(await calls.lookup(c1.legs.a)).toBeUndefined();
        expect(await calls.lookup(c1.legs.b)).toBeUndefined();
        expect(await calls.activeCalls('pbx-0')).toBe(1);
        expect(await calls.listCalls('pbx-0')).toEqual([c2]);
        expect(await calls.remove(c1)).toBe(false);
      });

      it('removes a call by internal call id', async () => {
        const c = call(3, 'pbx-2');
        await calls.register(call(1, 'pbx-1'));
        await calls.register(c);
        expect(await calls.remove(c.callId)).toBe(true);
        expect(await calls.lookup(c.legs.a)).toBeUndefined();
        expect(await calls.lookup(c.legs.b)).toBeUndefined();
        expect(await calls.activeCalls('pbx-2')).toBe(0);
        expect(await calls.remove(c.callId)).toBe(false);
        expect(await calls.remove('never-registered')).toBe(false);
        expect(await calls.activeCalls('pbx-1')).toBe(1);
      });

      it('counts and lists calls per pod, oldest first', async () => {
        await calls.register(call(3, 'pbx-0', START + 30));
        await calls.register(call(1, 'pbx-0', START + 10));
        await calls.register(call(2, 'pbx-1', START + 20));
        await calls.register(call(4, 'pbx-0', START + 10));
        expect(await calls.activeCalls('pbx-0')).toBe(3);
        expect(await calls.activeCalls('pbx-1')).toBe(1);
        expect(await calls.activeCalls('pbx-9')).toBe(0);
        expect((await calls.listCalls('pbx-0')).map((c) => c.callId)).toEqual(['call-1', 'call-4', 'call-3']);
        expect(await calls.listCalls('pbx-1')).toEqual([call(2, 'pbx-1', START + 20)]);
        expect(await calls.listCalls('pbx-9')).toEqual([]);
      });

      it('re-registering a call with a new B-leg Call-ID forgets the old one', async () => {
        const c = call(1);
        await calls.register(c);
        const moved: CallEntry = { ...c, legs: { a: c.legs.a, b: 'b-retry@10.0.0.2' } };
        await calls.register(moved);
        expect(await calls.lookup(c.legs.b)).toBeUndefined();
        expect(await calls.lookup('b-retry@10.0.0.2')).toEqual(moved);
        expect(await calls.lookup(c.legs.a)).toEqual(moved);
        expect(await calls.activeCalls('pbx-0')).toBe(1);
      });

      it('expires calls that are not refreshed within the TTL; refresh keeps live ones', async () => {
        const [kept, lapsed] = [call(1), call(2)];
        await calls.register(kept);
        await calls.register(lapsed);
        clock.advance(TTL_SECONDS * 1000 - 1000);
        expect(await calls.refresh([kept])).toBe(1);
        clock.advance(2000);
        expect(await calls.lookup(kept.legs.b)).toEqual(kept);
        expect(await calls.lookup(lapsed.legs.a)).toBeUndefined();
        expect(await calls.activeCalls('pbx-0')).toBe(1);
        expect(await calls.listCalls('pbx-0')).toEqual([kept]);
        expect(await calls.refresh([kept, lapsed])).toBe(1);
        clock.advance(TTL_SECONDS * 1000 - 1);
        expect(await calls.lookup(kept.legs.a)).toEqual(kept);
        clock.advance(1);
        expect(await calls.lookup(kept.legs.a)).toBeUndefined();
      });

      it('refresh never resurrects a removed call', async () => {
        const c = call(1);
        await calls.register(c);
        await calls.remove(c);
        expect(await calls.refresh([c])).toBe(0);
        expect(await calls.lookup(c.legs.a)).toBeUndefined();
        expect(await calls.activeCalls('pbx-0')).toBe(0);
        expect(await calls.refresh([])).toBe(0);
      });

      it('refresh handles calls of several pods', async () => {
        await calls.register(call(1, 'pbx-0'));
        await calls.register(call(2, 'pbx-1'));
        expect(await calls.refresh([call(1, 'pbx-0'), call(2, 'pbx-1')])).toBe(2);
      });

      it('resync makes the registry hold exactly the live calls of a pod', async () => {
        const [stale, kept, other] = [call(1), call(2), call(9, 'pbx-1')];
        await calls.register(stale);
        await calls.register(kept);
        await calls.register(other);
        const fresh = call(3);
        await calls.resync('pbx-0', [kept, fresh]);
        expect((await calls.listCalls('pbx-0')).map((c) => c.callId)).toEqual(['call-2', 'call-3']);
        expect(await calls.lookup(stale.legs.a)).toBeUndefined();
        expect(await calls.lookup(fresh.legs.b)).toEqual(fresh);
        expect(await calls.lookup(other.legs.a)).toEqual(other);
        await calls.resync('pbx-0', []);
        expect(await calls.activeCalls('pbx-0')).toBe(0);
        expect(await calls.lookup(kept.legs.a)).toBeUndefined();
        expect(await calls.activeCalls('pbx-1')).toBe(1);
      });

      it('keeps pod heartbeats until their TTL passes', async () => {
        expect(await calls.getPodState('pbx-0')).toBeUndefined();
        await calls.setPodState('pbx-1', { state: 'running', sipAddress: '10.0.0.2:5060', updatedAt: START });
        await calls.setPodState('pbx-0', { state: 'running', sipAddress: '10.0.0.1:5060', updatedAt: START });
        clock.advance(20_000);
        await calls.setPodState('pbx-0', {
          state: 'draining',
          sipAddress: '10.0.0.1:5060',
          updatedAt: START + 20_000,
        });
        expect(await calls.getPodState('pbx-0')).toEqual({
          state: 'draining',
          sipAddress: '10.0.0.1:5060',
          updatedAt: START + 20_000,
        });
        expect((await calls.listPods()).map((p) => [p.pod, p.state])).toEqual([
          ['pbx-0', 'draining'],
          ['pbx-1', 'running'],
        ]);
        clock.advance(POD_TTL_SECONDS * 1000 - 20_000);
        expect(await calls.getPodState('pbx-1')).toBeUndefined();
        expect(await calls.listPods()).toEqual([
          { pod: 'pbx-0', state: 'draining', sipAddress: '10.0.0.1:5060', updatedAt: START + 20_000 },
        ]);
        clock.advance(20_000);
        expect(await calls.listPods()).toEqual([]);
      });
    });

    describe('LocationStore', () => {
      const aor = 'sip:alice@example.com';

      it('stores contacts of a REGISTER and finds them by the normalized AOR', async () => {
        const got = await loc.register(
          'sip:alice@EXAMPLE.com:5060;transport=tcp',
          [contact('sip:alice@10.0.0.5:5062')],
          'r1',
          1,
        );
        const want = {
          uri: 'sip:alice@10.0.0.5:5062',
          expiresAt: START + 3_600_000,
          callId: 'r1',
          cseq: 1,
          registeredAt: START,
        };
        expect(got).toEqual([want]);
        expect(await loc.lookup('<sip:alice@example.com>')).toEqual([want]);
        expect(await loc.lookup('sip:Alice@example.com')).toEqual([]);
        expect(await loc.count()).toBe(1);
      });

      it('keeps optional contact data (q, received, instance, path)', async () => {
        const extra = {
          q: 0.5,
          received: { transport: 'udp', address: '203.0.113.7', port: 40123 },
          instance: '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>',
          path: ['<sip:edge.example.com;lr>'],
        };
        await loc.register(aor, [contact('sip:alice@192.168.1.5', 60, extra)], 'r1', 1);
        expect(await loc.lookup(aor)).toEqual([
          {
            uri: 'sip:alice@192.168.1.5',
            expiresAt: START + 60_000,
            callId: 'r1',
            cseq: 1,
            registeredAt: START,
            ...extra,
          },
        ]);
      });

      it('orders bindings by q (absent = 1.0), then most recently registered', async () => {
        await loc.register(aor, [contact('sip:a@h1', 3600, { q: 0.2 }), contact('sip:a@h2')], 'r1', 1);
        clock.advance(1000);
        await loc.register(aor, [contact('sip:a@h3', 3600, { q: 0.2 })], 'r2', 1);
        clock.advance(1000);
        await loc.register(
          aor,
          [contact('sip:a@h4', 3600, { q: 0.9 }), contact('sip:a@h5', 3600, { q: 1 })],
          'r3',
          7,
        );
        const uris = (await loc.lookup(aor)).map((b) => b.uri);
        expect(uris).toEqual(['sip:a@h5', 'sip:a@h2', 'sip:a@h4', 'sip:a@h3', 'sip:a@h1']);
        expect(await loc.count()).toBe(5);
      });

      it('refreshes a binding with a higher CSeq and removes one with expires 0', async () => {
        await loc.register(aor, [contact('sip:a@h1', 60), contact('sip:a@h2', 60)], 'r1', 1);
        clock.advance(50_000);
        const after = await loc.register(aor, [contact('sip:a@h1', 60), contact('sip:a@h2', 0)], 'r1', 2);
        expect(after.map((b) => [b.uri, b.expiresAt, b.cseq])).toEqual([['sip:a@h1', START + 110_000, 2]]);
        clock.advance(50_000);
        expect((await loc.lookup(aor)).map((b) => b.uri)).toEqual(['sip:a@h1']);
        expect(await loc.register(aor, [contact('sip:a@nope', 0)], 'r1', 3)).toHaveLength(1);
      });

      it('a different Call-ID may update a binding whatever its CSeq (§10.3 step 7)', async () => {
        await loc.register(aor, [contact('sip:a@h1')], 'r1', 50);
        const got = await loc.register(aor, [contact('sip:a@h1', 120)], 'r2', 1);
        expect(got.map((b) => [b.callId, b.cseq, b.expiresAt])).toEqual([['r2', 1, START + 120_000]]);
      });

      it('rejects an out-of-order REGISTER (same Call-ID, CSeq not higher) and changes nothing', async () => {
        await loc.register(aor, [contact('sip:a@h1', 60)], 'r1', 5);
        for (const cseq of [5, 4]) {
          const attempt = loc.register(aor, [contact('sip:a@h2'), contact('sip:a@h1', 0)], 'r1', cseq);
          await expect(attempt).rejects.toBeInstanceOf(RegisterOutOfOrder);
          await expect(attempt).rejects.toMatchObject({
            code: 'PBX_ERR_REGISTER_OUT_OF_ORDER',
            aor,
            contact: 'sip:a@h1',
          });
        }
        expect((await loc.lookup(aor)).map((b) => [b.uri, b.cseq])).toEqual([['sip:a@h1', 5]]);
      });

      it('removes every binding with Contact: * unless one is out of order', async () => {
        await loc.register(aor, [contact('sip:a@h1'), contact('sip:a@h2')], 'r1', 3);
        await loc.register(aor, [contact('sip:a@h3')], 'r2', 9);
        await expect(loc.removeAll(aor, 'r1', 3)).rejects.toBeInstanceOf(RegisterOutOfOrder);
        expect(await loc.count()).toBe(3);
        await loc.removeAll(aor, 'r1', 4);
        expect(await loc.lookup(aor)).toEqual([]);
        expect(await loc.count()).toBe(0);
        await loc.removeAll('sip:nobody@example.com', 'x', 1);
      });

      it('lets bindings expire by the clock, and count follows', async () => {
        await loc.register(aor, [contact('sip:a@h1', 30), contact('sip:a@h2', 90)], 'r1', 1);
        await loc.register('sip:bob@example.com', [contact('sip:b@h1', 60)], 'r9', 1);
        expect(await loc.count()).toBe(3);
        clock.advance(30_000);
        expect((await loc.lookup(aor)).map((b) => b.uri)).toEqual(['sip:a@h2']);
        expect(await loc.count()).toBe(2);
        clock.advance(30_000);
        expect(await loc.count()).toBe(1);
        expect(await loc.sweep()).toBe(1);
        expect(await loc.lookup('sip:bob@example.com')).toEqual([]);
        clock.advance(30_000);
        expect(await loc.count()).toBe(0);
        expect(await loc.sweep()).toBe(1);
        expect(await loc.sweep()).toBe(0);
        expect(await loc.lookup(aor)).toEqual([]);
      });

      it('serializes concurrent REGISTERs: each is checked against the state the previous ones left', async () => {
        const cseqs = [3, 1, 5, 2, 4, 6];
        const results = await Promise.allSettled(
          cseqs.map((cseq) => loc.register(aor, [contact('sip:a@h1', 60 + cseq)], 'r1', cseq)),
        );
        expect(results.map((r) => r.status)).toEqual([
          'fulfilled',
          'rejected',
          'fulfilled',
          'rejected',
          'rejected',
          'fulfilled',
        ]);
        expect((await loc.lookup(aor)).map((x) => [x.cseq, x.expiresAt])).toEqual([[6, START + 66_000]]);
      });

      it('rejects URIs that cannot be an address-of-record', async () => {
        await expect(
          loc.register('mailto:a@example.com', [contact('sip:a@h1')], 'r1', 1),
        ).rejects.toBeInstanceOf(InvalidAor);
        await expect(loc.lookup('not a uri')).rejects.toBeInstanceOf(InvalidAor);
        await expect(loc.removeAll('sip:', 'r1', 1)).rejects.toBeInstanceOf(InvalidAor);
        await expect(loc.resync([{ aor: 'x', bindings: [] }])).rejects.toBeInstanceOf(InvalidAor);
      });

      it('treats an expired binding as absent for the CSeq rule', async () => {
        await loc.register(aor, [contact('sip:a@h1', 10)], 'r1', 5);
        clock.advance(10_000);
        const got = await loc.register(aor, [contact('sip:a@h1', 10)], 'r1', 1);
        expect(got.map((b) => b.cseq)).toEqual([1]);
      });

      it('resync re-publishes local bindings without overwriting newer stored ones', async () => {
        await loc.register(aor, [contact('sip:a@h1', 60)], 'r1', 7);
        const local = [
          { uri: 'sip:a@h1', expiresAt: START + 30_000, callId: 'r1', cseq: 6, registeredAt: START - 1 },
          {
            uri: 'sip:a@h2',
            expiresAt: START + 30_000,
            callId: 'r2',
            cseq: 1,
            registeredAt: START - 1,
            q: 0.5,
          },
          { uri: 'sip:a@h3', expiresAt: START - 1, callId: 'r3', cseq: 1, registeredAt: START - 100 },
        ];
        const bob = { uri: 'sip:b@h1', expiresAt: START + 5_000, callId: 'rb', cseq: 2, registeredAt: START };
        await loc.resync([
          { aor, bindings: local },
          { aor: 'sip:bob@example.com', bindings: [bob] },
        ]);
        expect((await loc.lookup(aor)).map((b) => [b.uri, b.cseq])).toEqual([
          ['sip:a@h1', 7],
          ['sip:a@h2', 1],
        ]);
        expect(await loc.lookup('sip:bob@example.com')).toEqual([bob]);
        await loc.resync([{ aor, bindings: [{ ...local[0]!, cseq: 8 }] }]);
        await loc.resync([
          { aor, bindings: [{ ...local[1]!, callId: 'r9', registeredAt: START + 1, cseq: 1 }] },
        ]);
        expect((await loc.lookup(aor)).map((b) => [b.uri, b.callId, b.cseq])).toEqual([
          ['sip:a@h1', 'r1', 8],
          ['sip:a@h2', 'r9', 1],
        ]);
        await loc.resync([{ aor, bindings: [{ ...local[1]!, callId: 'r8', registeredAt: START }] }]);
        expect((await loc.lookup(aor)).map((b) => b.callId)).toEqual(['r1', 'r9']);
        await loc.resync([]);
        expect(await loc.count()).toBe(3);
      });
    });
  });
}
