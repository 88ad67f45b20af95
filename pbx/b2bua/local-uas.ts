/**
 * Requests the pbx answers itself, as a UAS: OPTIONS (RFC 3261 §11) and REGISTER (§10.3, always 200 —
 * the product has no authentication). Everything else is 501 until the call logic handles it.
 */
import { contacts, createResponse, expiresHeader, formatNameAddr, hdr } from '../sip/index.js';
import type { SipHeader, SipRequest, SipResponse } from '../sip/index.js';

/** Methods this pbx implements (the Allow header). */
export const ALLOWED_METHODS = [
  'INVITE',
  'ACK',
  'CANCEL',
  'BYE',
  'OPTIONS',
  'REGISTER',
  'UPDATE',
  'PRACK',
  'INFO',
];

/** Longest registration granted, in seconds; shorter requests are granted as asked. */
export const MAX_REGISTER_EXPIRES = 3600;

/** Registration length when the request names none (RFC 3261 §10.2.1.1 suggests 3600). */
export const DEFAULT_REGISTER_EXPIRES = 3600;

/** Identity of this UAS written into its responses. */
export interface LocalUasOptions {
  readonly userAgent: string;
  /** A fresh To tag for each response. */
  readonly toTag: () => string;
  /** Wall-clock time in milliseconds, for the Date header of REGISTER responses. */
  readonly wallClock: () => number;
}

/** The response to a request the pbx answers locally; ACK gets none (undefined). */
export function localResponse(req: SipRequest, opts: LocalUasOptions): SipResponse | undefined {
  const common: SipHeader[] = [hdr('Server', opts.userAgent)];
  switch (req.method) {
    case 'ACK':
      return undefined;
    case 'OPTIONS':
      return createResponse(req, 200, 'OK', {
        toTag: opts.toTag(),
        headers: [
          hdr('Allow', ALLOWED_METHODS.join(', ')),
          hdr('Accept', 'application/sdp'),
          hdr('Supported', '100rel'),
          ...common,
        ],
      });
    case 'REGISTER':
      return registerResponse(req, opts, common);
    default:
      return createResponse(req, 501, 'Not Implemented', { toTag: opts.toTag(), headers: common });
  }
}

/** 200 OK to a REGISTER, listing each Contact with the expires granted (RFC 3261 §10.3 step 8). */
function registerResponse(req: SipRequest, opts: LocalUasOptions, common: SipHeader[]): SipResponse {
  const list = contacts(req);
  const headers = [...common];
  if (list !== '*') {
    const requested = expiresHeader(req) ?? DEFAULT_REGISTER_EXPIRES;
    for (const contact of list) {
      const expires = Math.min(contact.expires ?? requested, MAX_REGISTER_EXPIRES);
      const params = new Map(contact.params);
      params.set('expires', String(expires));
      if (expires > 0) headers.push(hdr('Contact', formatNameAddr({ ...contact, params })));
    }
  }
  return createResponse(req, 200, 'OK', {
    toTag: opts.toTag(),
    headers: [...headers, hdr('Date', new Date(opts.wallClock()).toUTCString())],
  });
}
