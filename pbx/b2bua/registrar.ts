/**
 * The registrar (RFC 3261 §10.3) without authentication: every well-formed REGISTER gets 200 OK
 * listing the AOR's current bindings. The pbx serves one domain, so bindings are keyed by the user
 * part of the To URI alone: `sip:alice@anything` and `sip:alice@pbx` are the same address-of-record.
 */
import { aorOf, RegisterOutOfOrder } from '../registry/index.js';
import type { Binding, ContactUpdate, LocationStore } from '../registry/index.js';
import {
  contacts,
  createResponse,
  cseq,
  expiresHeader,
  hdr,
  isSipUri,
  parseUri,
  toHeader,
} from '../sip/index.js';
import type { MessageSource, SipHeader, SipRequest, SipResponse } from '../sip/index.js';

/** Longest registration granted, in seconds. */
export const MAX_EXPIRES = 3600;

/** Registration length when the request names none (RFC 3261 §10.2.1.1). */
export const DEFAULT_EXPIRES = 3600;

/** The location-service key of a user: its user part in a fixed, single-domain AOR. */
export function userKey(user: string): string {
  return aorOf(`sip:${user}@sippbx.invalid`);
}

/** The user part of a URI, or undefined for a URI without one. */
export function userOf(uri: string): string | undefined {
  try {
    const parsed = parseUri(uri.startsWith('<') ? uri.slice(1, -1) : uri);
    if (isSipUri(parsed)) return parsed.user;
    return 'number' in parsed ? parsed.number : undefined;
  } catch {
    return undefined;
  }
}

/** Applies a REGISTER to the location store and builds the response. */
export async function register(
  store: LocationStore,
  req: SipRequest,
  source: MessageSource,
  now: () => number,
  toTag: string,
): Promise<SipResponse> {
  const user = userOf(toHeader(req).uri);
  if (user === undefined) return createResponse(req, 404, 'Not Found', { toTag });
  const key = userKey(user);
  const list = contacts(req);
  const seq = cseq(req).seq;
  const callId = req.headers.find((h) => h.key === 'call-id')?.value ?? '';
  try {
    if (list === '*') {
      if (expiresHeader(req) !== 0)
        return createResponse(req, 400, 'Contact * requires Expires: 0', { toTag });
      await store.removeAll(key, callId, seq);
      return ok(req, [], now(), toTag);
    }
    const requested = expiresHeader(req) ?? DEFAULT_EXPIRES;
    const updates: ContactUpdate[] = list.map((c) => {
      const q = c.params.get('q');
      return {
        uri: c.uri,
        expires: Math.min(c.expires ?? requested, MAX_EXPIRES),
        ...(q === undefined || q === null || Number.isNaN(Number(q)) ? {} : { q: Number(q) }),
        received: { transport: source.transport, address: source.address, port: source.port },
      };
    });
    const bindings =
      list.length === 0 ? await store.lookup(key) : await store.register(key, updates, callId, seq);
    return ok(req, bindings, now(), toTag);
  } catch (err) {
    // §10.3 step 7: a REGISTER older than the last one from the same Call-ID is refused.
    if (err instanceof RegisterOutOfOrder)
      return createResponse(req, 500, 'Out of Order REGISTER', { toTag });
    throw err;
  }
}

function ok(req: SipRequest, bindings: readonly Binding[], now: number, toTag: string): SipResponse {
  const headers: SipHeader[] = bindings.map((b) =>
    hdr('Contact', `<${b.uri}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`),
  );
  headers.push(hdr('Date', new Date().toUTCString()));
  return createResponse(req, 200, 'OK', { toTag, headers });
}
