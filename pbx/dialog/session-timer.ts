/**
 * Session timer negotiation (RFC 4028), as pure functions over messages. A B2BUA is a UA on each leg, so
 * each leg negotiates its own interval and refresher: on the A-leg we answer as UAS (§9), on the B-leg
 * we ask as UAC (§7). Liveness is the point: a leg whose peer vanished stops answering refreshes (or
 * stops sending them), and the call is ended (§10).
 */
import { SipParseError, hdr, header, optionTags } from '../sip/index.js';
import type { SipHeader, SipMessage, SipRequest } from '../sip/index.js';

/** Who refreshes the session, in the words of the INVITE transaction that set it (§4). */
export type Refresher = 'uac' | 'uas';

/** A parsed Session-Expires header (§4): delta-seconds and the optional refresher parameter. */
export interface SessionExpires {
  readonly seconds: number;
  readonly refresher: Refresher | undefined;
}

/** Session timers as configured (`sip.sessionTimers`). */
export interface SessionTimerConfig {
  readonly enabled: boolean;
  /** The interval we ask for and grant at most (§4: RECOMMENDED 1800 s). */
  readonly expiresSeconds: number;
  /** The smallest interval we accept (§4: at least 90 s by the RFC; lower only for tests). */
  readonly minSeSeconds: number;
}

/** One leg's agreed session timer, from our side: the interval and whether we send the refreshes. */
export interface LegTimer {
  readonly intervalSeconds: number;
  readonly weRefresh: boolean;
  /** Whether the peer takes part (it put or accepted Session-Expires); false: our refreshes are keepalives. */
  readonly negotiated: boolean;
}

/** Upper bound of delta-seconds we take from a peer (2^31-1, RFC 3261 §25.1's largest delta). */
const MAX_SECONDS = 2_147_483_647;

/** Parses delta-seconds; SipParseError when it is not a bounded non-negative integer. */
function deltaSeconds(value: string, name: string): number {
  const trimmed = value.trim();
  if (!/^\d{1,10}$/.test(trimmed)) throw new SipParseError(`bad ${name} header`);
  const n = Number(trimmed);
  if (n > MAX_SECONDS) throw new SipParseError(`bad ${name} header`);
  return n;
}

/** The Session-Expires header (compact form `x`), or undefined; SipParseError when malformed. */
export function sessionExpires(msg: SipMessage): SessionExpires | undefined {
  const value = header(msg, 'session-expires');
  if (value === undefined) return undefined;
  const [seconds = '', ...params] = value.split(';');
  let refresher: Refresher | undefined;
  for (const param of params) {
    const [name = '', v = ''] = param.split('=').map((s) => s.trim().toLowerCase());
    if (name === 'refresher' && (v === 'uac' || v === 'uas')) refresher = v;
  }
  return { seconds: deltaSeconds(seconds, 'Session-Expires'), refresher };
}

/** The Min-SE header (§5), or undefined; SipParseError when malformed. */
export function minSe(msg: SipMessage): number | undefined {
  const value = header(msg, 'min-se');
  return value === undefined ? undefined : deltaSeconds(value.split(';')[0] ?? '', 'Min-SE');
}

/** Whether a message says its sender supports session timers (`Supported: timer` or `Require: timer`). */
export function supportsTimer(msg: SipMessage): boolean {
  return optionTags(msg, 'supported').includes('timer') || optionTags(msg, 'require').includes('timer');
}

/**
 * The headers of a session timer request we send as UAC (§7.1, §7.4): by default we offer to refresh;
 * `refresher` restates who refreshes on a leg where that is already agreed.
 */
export function uacTimerHeaders(
  config: SessionTimerConfig,
  intervalSeconds: number,
  refresher: Refresher = 'uac',
): SipHeader[] {
  return [
    hdr('Session-Expires', `${intervalSeconds};refresher=${refresher}`),
    hdr('Min-SE', config.minSeSeconds),
  ];
}

/** What the UAS answers a session timer request (§9): its timer and 2xx headers, or a refusal to send. */
export type UasDecision =
  | { readonly kind: 'accept'; readonly timer: LegTimer; readonly headers: SipHeader[] }
  | {
      readonly kind: 'refuse';
      readonly status: 400 | 422;
      readonly reason: string;
      readonly headers: SipHeader[];
    };

/**
 * The UAS side of §9 for an INVITE, re-INVITE or UPDATE we received: a Session-Expires below our Min-SE
 * is refused with 422 + Min-SE when the sender supports timers (it can retry), else raised; a malformed
 * Session-Expires, Min-SE or option tag is refused with 400. The interval is the request's, lowered to
 * ours but never below the request's Min-SE. The refresher is the request's; absent, us: liveness then
 * rests on the pbx alone, whatever the peer implements of its `timer` tag.
 */
export function uasDecide(req: SipRequest, config: SessionTimerConfig): UasDecision {
  try {
    return uasAccept(req, config);
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    return { kind: 'refuse', status: 400, reason: err.reason, headers: [] };
  }
}

function uasAccept(req: SipRequest, config: SessionTimerConfig): UasDecision {
  const asked = sessionExpires(req);
  const supported = supportsTimer(req);
  const floor = Math.max(config.minSeSeconds, minSe(req) ?? 0);
  if (asked !== undefined && asked.seconds < config.minSeSeconds && supported) {
    const headers = [hdr('Min-SE', config.minSeSeconds)];
    return { kind: 'refuse', status: 422, reason: 'Session Interval Too Small', headers };
  }
  const seconds = Math.max(floor, Math.min(asked?.seconds ?? config.expiresSeconds, config.expiresSeconds));
  const refresher: Refresher = asked?.refresher ?? 'uas';
  const headers: SipHeader[] = [hdr('Session-Expires', `${seconds};refresher=${refresher}`)];
  // §9: a UAC that is to refresh must know the UAS relies on it.
  if (refresher === 'uac') headers.push(hdr('Require', 'timer'));
  return {
    kind: 'accept',
    timer: { intervalSeconds: seconds, weRefresh: refresher === 'uas', negotiated: supported },
    headers,
  };
}

/**
 * The UAC side of §7.2 for a 2xx to our request that asked for `askedSeconds`: the peer's Session-Expires
 * decides; without one the peer takes no part, and we refresh on our own as a keepalive (a re-INVITE or
 * UPDATE any UA answers), at the interval we asked for.
 */
export function uacAgreed(res: SipMessage, askedSeconds: number): LegTimer {
  let agreed: SessionExpires | undefined;
  try {
    agreed = sessionExpires(res);
  } catch {
    agreed = undefined; // a malformed value in a 2xx cannot refuse the 2xx: treat it as absent
  }
  if (agreed === undefined) return { intervalSeconds: askedSeconds, weRefresh: true, negotiated: false };
  return {
    intervalSeconds: agreed.seconds,
    weRefresh: agreed.refresher !== 'uas',
    negotiated: true,
  };
}

/** §10: the refresher refreshes at half the interval; the other side ends the session this long after the last refresh. */
export function refreshDelayMs(timer: LegTimer): number {
  return (timer.intervalSeconds * 1000) / 2;
}

/** §10: without a refresh, the session expires at the interval minus min(32 s, one third of it). */
export function expiryDelayMs(timer: LegTimer): number {
  const s = timer.intervalSeconds;
  return (s - Math.min(32, s / 3)) * 1000;
}
