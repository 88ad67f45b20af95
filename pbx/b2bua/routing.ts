/**
 * Routing (ARCHITECTURE.md step 5): registered contacts of the Request-URI user first, then the first
 * static route whose regex matches the user, else nothing (404).
 */
import type { LocationStore } from '../registry/index.js';
import { isSipUri, parseUri, unescapeUser } from '../sip/index.js';
import type { SipRequest } from '../sip/index.js';
import type { Destination } from '../transaction/index.js';
import type { B2buaContext } from './context.js';
import { userKey, userOf } from './registrar.js';
import { resolveTarget, TargetError } from './targets.js';

/** A static route (`routing.routes`): a compiled regex on the Request-URI user and a target URI. */
export interface Route {
  readonly match: RegExp;
  readonly target: string;
}

/** Where the B-leg goes: its Request-URI and the transport destination. */
export interface RouteTarget {
  readonly uri: string;
  readonly dest: Destination;
}

/** Picks the B-leg target, `'loop'` when it is this pbx itself, or undefined for 404. */
export async function route(
  req: SipRequest,
  routes: readonly Route[],
  locations: LocationStore,
  ctx: Pick<B2buaContext, 'local' | 'logger'>,
): Promise<RouteTarget | 'loop' | undefined> {
  const rawUser = userOf(req.uri);
  const user = rawUser === undefined ? '' : unescapeUser(rawUser);
  const registered = user === '' ? [] : await lookupSafe(locations, user, ctx);
  const binding = registered[0];
  if (binding !== undefined) {
    const dest =
      binding.received !== undefined
        ? ({
            transport: binding.received.transport === 'tcp' ? 'tcp' : 'udp',
            address: binding.received.address,
            port: binding.received.port,
          } as const)
        : await resolveTarget(binding.uri);
    return { uri: binding.uri, dest };
  }
  const hit = routes.find((r) => r.match.test(user));
  if (hit === undefined) return undefined;
  const uri = withUser(hit.target, rawUser);
  let dest: Destination;
  try {
    dest = await resolveTarget(uri);
  } catch (err) {
    if (err instanceof TargetError) return undefined;
    throw err;
  }
  const me = ctx.local[dest.transport];
  if ((dest.address === me.host || `[${dest.address}]` === me.host) && dest.port === me.port) return 'loop';
  return { uri, dest };
}

async function lookupSafe(locations: LocationStore, user: string, ctx: Pick<B2buaContext, 'logger'>) {
  try {
    return await locations.lookup(userKey(user));
  } catch (err) {
    ctx.logger.warn({ err }, 'location lookup failed; trying static routes');
    return [];
  }
}

/** The route target with the dialled user put in, unless the target names a user itself. */
function withUser(target: string, user: string | undefined): string {
  if (user === undefined) return target;
  const parsed = parseUri(target);
  if (!isSipUri(parsed) || parsed.user !== undefined) return target;
  return `${parsed.scheme}:${user}@${target.slice(target.indexOf(':') + 1)}`;
}
