import { describeLines } from './describe.js';
import { isHoldAddress, parseConnection } from './fields.js';
import { ICE_ATTRIBUTES } from './ice.js';
import type { SdpLine } from './lines.js';
import { joinLines, lineType, replaceTokens, splitAttribute, splitLines, tokenize } from './lines.js';
import type { MediaPorts, Relay, RewritePlan } from './plan.js';
import { checkPlan } from './plan.js';

/** What applies to the lines of the session part or of one m= section. */
interface Scope {
  readonly session: boolean;
  /** Rewrite c= lines here. */
  readonly connection: boolean;
  /** Rewrite the m= port and a=rtcp here (a live stream the plan anchors). */
  readonly ports?: MediaPorts;
  /** ICE applies here, so c=0.0.0.0 is a JSEP placeholder and not a hold. */
  readonly ice: boolean;
}

interface Rewrite {
  readonly relay: Relay;
  readonly plan: RewritePlan;
  readonly stripIce: boolean;
}

/**
 * Rewrites an SDP body for bypass mode: c= addresses, m= ports, a=rtcp, the o= line, and ICE lines removed; every
 * other line passes byte for byte with its own line ending. Throws SdpError for unusable bodies or plans.
 */
export function rewriteSdp(body: Buffer, plan: RewritePlan): Buffer {
  const lines = splitLines(body);
  const description = describeLines(lines);
  const rw: Rewrite = {
    relay: checkPlan(plan, description.media.length),
    plan,
    stripIce: plan.stripIce ?? true,
  };
  const sessionScope: Scope = { session: true, connection: true, ice: description.media.some((m) => m.ice) };
  const scopes = description.media.map((m, i): Scope => {
    const ports = plan.mediaPorts[i] ?? null;
    return {
      session: false,
      connection: ports !== null,
      ...(ports && !m.rejected ? { ports } : {}),
      ice: m.ice,
    };
  });
  const out: SdpLine[] = [];
  let section = -1;
  for (const line of lines) {
    if (lineType(line.text) === 'm') section++;
    const text = rewriteLine(line.text, scopes[section] ?? sessionScope, rw);
    if (text !== undefined) out.push({ text, eol: line.eol });
  }
  return joinLines(out);
}

function rewriteLine(text: string, scope: Scope, rw: Rewrite): string | undefined {
  switch (lineType(text)) {
    case 'o':
      return scope.session ? rewriteOrigin(text, rw) : text;
    case 'c':
      return scope.connection ? rewriteConnection(text, scope, rw.relay) : text;
    case 'm':
      return scope.ports ? rewriteMediaPort(text, scope.ports) : text;
    case 'a':
      return rewriteAttribute(text, scope, rw);
    default:
      return text;
  }
}

/** o=: the relay's address and addrtype, the caller's sess-version (RFC 3264 §8: +1 per changed offer). */
function rewriteOrigin(text: string, rw: Rewrite): string {
  const { username, version } = rw.plan.session;
  const replace = new Map<number, string>([
    [2, String(version)],
    [4, rw.relay.addrType],
    [5, rw.relay.address],
  ]);
  if (username !== undefined) replace.set(0, username);
  return replaceTokens(text, tokenize(text), replace);
}

/** c=: the relay's address, except the RFC 2543 hold address, which must reach the far side unchanged. */
function rewriteConnection(text: string, scope: Scope, relay: Relay): string {
  if (isHoldAddress(parseConnection(text)) && !scope.ice) return text;
  return replaceTokens(
    text,
    tokenize(text),
    new Map([
      [1, relay.addrType],
      [2, relay.address],
    ]),
  );
}

/** m=: the relay's RTP port; a `/<number of ports>` suffix stays. */
function rewriteMediaPort(text: string, ports: MediaPorts): string {
  const tokens = tokenize(text);
  const field = tokens[1]?.value ?? '';
  const slash = field.indexOf('/');
  const port = String(ports.rtpPort) + (slash === -1 ? '' : field.slice(slash));
  return replaceTokens(text, tokens, new Map([[1, port]]));
}

function rewriteAttribute(text: string, scope: Scope, rw: Rewrite): string | undefined {
  const { name, value } = splitAttribute(text);
  if (rw.stripIce && ICE_ATTRIBUTES.has(name)) return undefined;
  if (name !== 'rtcp' || value === undefined || !scope.ports) return text;
  // RFC 3605: a=rtcp:<port> [IN <addrtype> <address>]; the address, when present, becomes the relay's too.
  const tokens = tokenize(text, 'a=rtcp:'.length);
  const replace = new Map([[0, String(scope.ports.rtcpPort)]]);
  if (tokens.length === 4) {
    replace.set(2, rw.relay.addrType);
    replace.set(3, rw.relay.address);
  }
  return replaceTokens(text, tokens, replace);
}
