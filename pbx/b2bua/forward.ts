/**
 * Forwarding of in-dialog requests to the pod that owns the call (ARCHITECTURE.md "Shared state"). Each
 * leg's in-dialog requests go to the Contact of the pod that set the call up; a load balancer or a UA
 * that ignores it can still land them on another pod, which relays them to the owner as a stateful
 * proxy hop (RFC 3261 §16.6): the message is kept as it is, Max-Forwards decremented, our Via pushed on
 * top. Responses come back through the client transaction, lose our Via (§16.7 step 3) and go out
 * through the server transaction. An ACK for a 2xx is relayed statelessly the same way (§16.11).
 * Forwarded requests carry `X-Sippbx-Forwarded: <pod>`, and a pod never forwards such a request again.
 */
import {
  BRANCH_COOKIE,
  createResponse,
  header,
  maxForwards,
  prependHeader,
  serialize,
  splitList,
  UDP_REQUEST_LIMIT,
  viaValue,
  withHeader,
} from '../sip/index.js';
import type { SipRequest, SipResponse } from '../sip/index.js';
import type { Destination, ServerTransaction } from '../transaction/index.js';
import type { B2buaContext } from './context.js';

/** The loop guard: present on every request one pod relayed to another. */
export const FORWARDED_HEADER = 'X-Sippbx-Forwarded';

/** Where a call lives, as the shared CallRegistry says. */
export interface OwnerLookup {
  /** This pod's name (a registry entry naming it is stale: the call is not here). */
  readonly pod: string;
  /** The owner of a SIP Call-ID, or undefined when nobody (known) owns it. */
  ownerOf(sipCallId: string): Promise<{ readonly pod: string; readonly sipAddress: string } | undefined>;
}

/** Relays in-dialog requests for calls owned by other pods. */
export interface Forwarder {
  /** Forwards `req` to its owner and relays the responses through `tx`; false when it is not forwarded. */
  request(tx: ServerTransaction, req: SipRequest): Promise<boolean>;
  /** Forwards an ACK for a 2xx statelessly; false when it is not forwarded. */
  ack(req: SipRequest): Promise<boolean>;
}

type ForwardContext = Pick<
  B2buaContext,
  'transactions' | 'local' | 'ids' | 'respond' | 'send' | 'logger' | 'tcpAvailable'
>;

/** `host:port` (IPv6 in brackets) -> address and port; undefined when it is not one. */
export function parseHostPort(value: string): { address: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (m === null) return undefined;
  const port = Number(m[3]);
  const address = m[1] ?? m[2];
  return address === undefined || port < 1 || port > 65535 ? undefined : { address, port };
}

/** The response without its top Via entry (ours), RFC 3261 §16.7 step 3. */
export function withoutTopVia(res: SipResponse): SipResponse {
  const idx = res.headers.findIndex((h) => h.key === 'via');
  const line = res.headers[idx];
  if (line === undefined) return res;
  const rest = splitList(line.value).slice(1);
  const headers = [...res.headers];
  if (rest.length === 0) headers.splice(idx, 1);
  else headers[idx] = { ...line, value: rest.join(', ') };
  return { ...res, headers };
}

/** Creates the forwarder of this pod. */
export function createForwarder(ctx: ForwardContext, owners: OwnerLookup): Forwarder {
  const ownersPod = owners.pod;

  /** The owner's destination, unless the request was forwarded already or the call is unknown. */
  async function ownerOf(req: SipRequest): Promise<{ pod: string; dest: Destination } | undefined> {
    if (header(req, FORWARDED_HEADER) !== undefined) return undefined; // loop guard
    const owner = await owners.ownerOf(header(req, 'call-id') ?? '').catch(() => undefined);
    if (owner === undefined || owner.pod === owners.pod) return undefined;
    const hp = parseHostPort(owner.sipAddress);
    if (hp === undefined) return undefined;
    return { pod: owner.pod, dest: { transport: 'udp', ...hp } };
  }

  /** The relayed copy (§16.6): Max-Forwards - 1, our Via on top, the loop-guard mark; transport by size. */
  function relayed(req: SipRequest, dest: Destination, mf: number): { msg: SipRequest; dest: Destination } {
    const marked = withHeader(withHeader(req, 'Max-Forwards', mf - 1), FORWARDED_HEADER, ownersPod);
    const size = serialize(marked).length + 120;
    const transport = size > UDP_REQUEST_LIMIT && ctx.tcpAvailable ? 'tcp' : 'udp';
    const me = ctx.local[transport];
    const via = viaValue(transport, me.host, me.port, `${BRANCH_COOKIE}${ctx.ids.token(16)}`);
    return { msg: prependHeader(marked, 'Via', via), dest: { ...dest, transport } };
  }

  return {
    async request(tx, req) {
      const owner = await ownerOf(req);
      if (owner === undefined) return false;
      const mf = maxForwards(req) ?? 70;
      if (mf <= 0) {
        ctx.respond(tx, createResponse(req, 483, 'Too Many Hops', { toTag: ctx.ids.token(8) }));
        return true;
      }
      const { msg, dest } = relayed(req, owner.dest, mf);
      let final = false;
      const fail = (status: number, reason: string): void => {
        if (final) return;
        final = true;
        ctx.respond(tx, createResponse(req, status, reason, { toTag: ctx.ids.token(8) }));
      };
      ctx.logger.debug({ method: req.method, owner: owner.pod }, 'in-dialog request forwarded to its owner');
      ctx.transactions.sendRequest(msg, dest, {
        onResponse(res) {
          // 100 is hop by hop (§16.7 step 5): our server transaction sends its own.
          if (res.status === 100) return;
          // Every 2xx to an INVITE is relayed (§16.7 step 5: retransmissions too); one other final only.
          if (res.status >= 200) {
            if (final && !(req.method === 'INVITE' && res.status < 300)) return;
            final = true;
          }
          ctx.respond(tx, withoutTopVia(res));
        },
        onTimeout: () => fail(408, 'Request Timeout'),
        onTransportError: () => fail(503, 'Service Unavailable'),
      });
      return true;
    },
    async ack(req) {
      const owner = await ownerOf(req);
      const mf = maxForwards(req) ?? 70;
      if (owner === undefined || mf <= 0) return false;
      const { msg, dest } = relayed(req, owner.dest, mf);
      await ctx.send(serialize(msg), dest).catch((err: unknown) => {
        ctx.logger.debug({ err: String(err) }, 'forwarded ACK not sent');
      });
      return true;
    },
  };
}
