/**
 * The B2BUA: the transaction user of the SIP stack. New INVITEs become Calls (route, media, B-leg);
 * in-dialog requests find their call by Call-ID and go to it; REGISTER goes to the registrar;
 * OPTIONS is answered locally (RFC 3261 §11).
 */
import { acceptRemoteSeq, uasDecide } from '../dialog/index.js';
import type { UasDecision } from '../dialog/index.js';
import type { InviteGate } from '../protect/index.js';
import type { LocationStore } from '../registry/index.js';
import { PortPoolExhausted } from '../media/ports/index.js';
import { createResponse, hdr, header, maxForwards, tagOf, toHeader, vias } from '../sip/index.js';
import type { MessageSource, SipHeader, SipRequest, SipResponse } from '../sip/index.js';
import type { InviteServerTransaction, ServerTransaction, TransactionUser } from '../transaction/index.js';
import { Call, eventLegA } from './call.js';
import type { CallInit, CallView, LegName } from './call.js';
import type { B2buaContext } from './context.js';
import type { Forwarder } from './forward.js';
import { localResponse } from './local-uas.js';
import { CallMedia, retryAfter } from './media.js';
import { register } from './registrar.js';
import { route } from './routing.js';
import type { Route } from './routing.js';

/** What the B2BUA needs beyond the shared call context. */
export interface B2buaOptions {
  readonly ctx: B2buaContext;
  readonly routes: readonly Route[];
  readonly locations: LocationStore;
  readonly gate: InviteGate;
  /** Clock of the location store's expiry times. */
  readonly locationClock: () => number;
  /** False while draining: new calls get 503 + Retry-After (ARCHITECTURE.md "Drain"). */
  readonly accepting: () => boolean;
  /** Called when a call starts and ends (the shared registry, issue 6). */
  readonly onCallStarted?: (call: Call) => void;
  readonly onCallEnded?: (call: Call) => void;
  /** With a shared registry: relays in-dialog requests for calls other pods own (issue 6). */
  readonly forwarder?: Forwarder;
}

/** The running B2BUA. */
export interface B2bua extends TransactionUser {
  /** Live calls. */
  calls(): CallView[];
  /** Number of live calls. */
  activeCalls(): number;
  /** Live calls not yet answered (calling or early): the overload guard's calls-in-setup signal. O(calls). */
  callsInSetup(): number;
  /** Ends every call (drain deadline): BYE on answered legs, final responses on ringing ones. */
  endAll(reason: string): Promise<void>;
}

/** Creates the B2BUA. */
export function createB2bua(options: B2buaOptions): B2bua {
  const { ctx } = options;
  const calls = new Map<string, Call>();
  const byCallId = new Map<string, Call>();

  const reply = (
    tx: ServerTransaction,
    req: SipRequest,
    status: number,
    reason?: string,
    extra = {},
  ): void => {
    ctx.respond(tx, createResponse(req, status, reason, { toTag: ctx.ids.token(8), ...extra }));
  };

  const onEnded = (call: Call): void => {
    calls.delete(call.id);
    byCallId.delete(call.legs.a);
    byCallId.delete(call.legs.b);
    options.onCallEnded?.(call);
  };

  /**
   * Refuses a call attempt the pbx itself cannot route or serve, and records it: one CDR per call
   * attempt, so billing sees refused attempts too (result `rejected`, or `failed` for lack of ports).
   */
  function refuse(
    tx: ServerTransaction,
    req: SipRequest,
    source: MessageSource,
    status: number,
    reason: string,
    headers: SipHeader[] = [],
    result: 'rejected' | 'failed' = 'rejected',
  ): void {
    reply(tx, req, status, reason, { headers });
    const now = new Date(ctx.wallClock()).toISOString();
    ctx.metrics.callEnded(result);
    ctx.events.emit({
      type: 'call.ended',
      id: ctx.ids.token(12),
      timestamp: now,
      callId: ctx.ids.token(12),
      legs: { a: eventLegA(req, source), b: { callId: '', target: '' } },
      startTime: now,
      answerTime: null,
      endTime: now,
      durationSeconds: 0,
      billableSeconds: 0,
      result,
      sipCode: status,
      endedBy: 'system',
      reason: `${status} ${reason}`,
    });
  }

  async function newCall(tx: InviteServerTransaction, req: SipRequest, source: MessageSource): Promise<void> {
    const received = ctx.clock.now();
    if (!options.accepting()) {
      refuse(tx, req, source, 503, 'Service Unavailable', [hdr('Retry-After', 30)], 'failed');
      return;
    }
    ctx.respond(tx, createResponse(req, 100, 'Trying'));
    ctx.metrics.inviteTo100((ctx.clock.now() - received) / 1000);
    const mf = maxForwards(req);
    if (mf === 0) return refuse(tx, req, source, 483, 'Too Many Hops');
    if (isLooped(req)) return refuse(tx, req, source, 482, 'Loop Detected');
    const timer = sessionTimerOf(req);
    if (timer.kind === 'refuse') return refuse(tx, req, source, timer.status, timer.reason, timer.headers);
    const target = await route(req, options.routes, options.locations, ctx);
    if (target === undefined) return refuse(tx, req, source, 404, 'Not Found');
    if (target === 'loop') return refuse(tx, req, source, 482, 'Loop Detected');
    const media = new CallMedia(ctx.media);
    // An offer in the INVITE needs media now; a late-offer or signaling-only call opens it on its first SDP.
    if (req.body.length > 0) {
      try {
        await media.open();
      } catch (err) {
        if (!(err instanceof PortPoolExhausted)) throw err;
        return refuse(tx, req, source, 503, 'Service Unavailable', [retryAfter(err)], 'failed');
      }
    }
    const call = new Call(ctx, {
      id: ctx.ids.token(12),
      tx,
      invite: req,
      source,
      target,
      media,
      startTime: ctx.wallClock(),
      onEnded,
      ...(timer.kind === 'accept' ? { sessionTimer: timer.sessionTimer } : {}),
    });
    calls.set(call.id, call);
    byCallId.set(call.legs.a, call);
    byCallId.set(call.legs.b, call);
    options.onCallStarted?.(call);
    ctx.events.emit({
      type: 'call.started',
      id: ctx.ids.token(12),
      timestamp: new Date(ctx.wallClock()).toISOString(),
      callId: call.id,
      legs: call.eventLegs(),
    });
    call.run(() => call.start());
  }

  /**
   * The caller's session timer (RFC 4028 §9): what our 2xx will say, or a refusal before any B-leg exists
   * (422 + Min-SE below our minimum; 400 for a malformed Session-Expires or Min-SE); 'off' when disabled.
   */
  function sessionTimerOf(
    req: SipRequest,
  ):
    | { kind: 'off' }
    | { kind: 'accept'; sessionTimer: NonNullable<CallInit['sessionTimer']> }
    | Extract<UasDecision, { kind: 'refuse' }> {
    if (!ctx.sessionTimers.enabled) return { kind: 'off' };
    const decision = uasDecide(req, ctx.sessionTimers);
    if (decision.kind === 'refuse') return decision;
    const headers = [...decision.headers, hdr('Supported', '100rel, timer')];
    return { kind: 'accept', sessionTimer: { timer: decision.timer, headers } };
  }

  /** Our own B-leg INVITE coming back to us: a Via we wrote is already in it. */
  function isLooped(req: SipRequest): boolean {
    const me = [ctx.local.udp, ctx.local.tcp];
    return vias(req)
      .slice(1)
      .some((v) =>
        me.some(
          (l) =>
            v.host === l.host && (v.port ?? 5060) === l.port && (v.params.get('branch') ?? '').length > 0,
        ),
      );
  }

  function inDialog(tx: ServerTransaction, req: SipRequest): void {
    const callIdValue = header(req, 'call-id') ?? '';
    const call = byCallId.get(callIdValue);
    const leg = call?.legOf(callIdValue);
    if (call === undefined && options.forwarder !== undefined) {
      forwardOr481(options.forwarder, tx, req);
      return;
    }
    if (call === undefined || leg === undefined || tagOf(toHeader(req)) !== call.dialog(leg).localTag) {
      reply(tx, req, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (!acceptRemoteSeq(call.dialog(leg), req)) {
      reply(tx, req, 500, 'CSeq Out of Order');
      return;
    }
    dispatchInDialog(call, leg, tx, req);
  }

  /** A Call-ID this pod does not know: another pod may own it (ARCHITECTURE.md "Shared state"). */
  function forwardOr481(forwarder: Forwarder, tx: ServerTransaction, req: SipRequest): void {
    forwarder.request(tx, req).then(
      (forwarded) => {
        if (!forwarded) reply(tx, req, 481, 'Call/Transaction Does Not Exist');
      },
      (err: unknown) => {
        ctx.logger.error({ err }, 'forwarding failed');
        reply(tx, req, 500, 'Server Internal Error');
      },
    );
  }

  function dispatchInDialog(call: Call, leg: LegName, tx: ServerTransaction, req: SipRequest): void {
    switch (req.method) {
      case 'BYE':
        call.run(() => call.bye(leg, tx, req));
        return;
      case 'PRACK':
        if (leg === 'a') call.run(() => call.prack(tx, req));
        else reply(tx, req, 481, 'No Reliable Provisional');
        return;
      case 'OPTIONS':
        ctx.respond(tx, createResponse(req, 200, 'OK'));
        return;
      default:
        call.run(() => call.forward(leg, tx, req));
    }
  }

  function cancel(tx: ServerTransaction, req: SipRequest): void {
    const invite = ctx.transactions.findInviteServerTransaction(req);
    if (invite === undefined) {
      reply(tx, req, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    ctx.respond(tx, createResponse(req, 200, 'OK'));
    const call = byCallId.get(header(req, 'call-id') ?? '');
    if (call !== undefined) call.run(() => call.cancel());
  }

  const b2bua: B2bua = {
    screen(req, source): undefined | 'drop' | SipResponse {
      const verdict = options.gate.check({
        sourceIp: source.address,
        userAgent: header(req, 'user-agent'),
        activeCalls: calls.size,
      });
      if (verdict.verdict === 'accept') return undefined;
      if (verdict.verdict === 'drop') return 'drop';
      return createResponse(req, 503, 'Service Unavailable', {
        toTag: ctx.ids.token(8),
        headers: [hdr('Retry-After', verdict.retryAfter)],
      });
    },
    onRequest(tx, req) {
      if (req.method === 'CANCEL') return cancel(tx, req);
      if (tagOf(toHeader(req)) !== undefined) return inDialog(tx, req);
      if (req.method === 'INVITE' && tx.kind === 'invite') {
        newCall(tx, req, tx.source).catch((err: unknown) => {
          ctx.logger.error({ err }, 'new call failed');
          reply(tx, req, 500, 'Server Internal Error');
        });
        return;
      }
      if (req.method === 'REGISTER') {
        register(options.locations, req, tx.source, options.locationClock, ctx.ids.token(8)).then(
          (res) => ctx.respond(tx, res),
          (err: unknown) => {
            ctx.logger.error({ err }, 'REGISTER failed');
            reply(tx, req, 500, 'Server Internal Error');
          },
        );
        return;
      }
      const res = localResponse(req, {
        userAgent: ctx.userAgent,
        toTag: () => ctx.ids.token(8),
      });
      if (res !== undefined) ctx.respond(tx, res);
    },
    onAck(req) {
      const callIdValue = header(req, 'call-id') ?? '';
      const call = byCallId.get(callIdValue);
      const leg = call?.legOf(callIdValue);
      if (call !== undefined && leg !== undefined) call.run(() => call.ack(leg, req));
      else if (call === undefined) void options.forwarder?.ack(req);
    },
    calls: () => [...calls.values()].map((c) => c.view()),
    activeCalls: () => calls.size,
    callsInSetup() {
      let n = 0;
      for (const call of calls.values()) if (call.state === 'calling' || call.state === 'early') n++;
      return n;
    },
    async endAll(reason) {
      await Promise.all([...calls.values()].map((c) => c.terminate(reason)));
    },
  };
  return b2bua;
}
