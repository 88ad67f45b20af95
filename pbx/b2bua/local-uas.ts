/**
 * Requests the pbx answers itself, as a UAS: OPTIONS (RFC 3261 §11) with what it supports, ACK with
 * nothing, and 501 for methods it does not implement. REGISTER goes to the registrar (registrar.ts).
 */
import { createResponse, hdr } from '../sip/index.js';
import type { SipRequest, SipResponse } from '../sip/index.js';

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

/** The Allow header value. */
export const ALLOW = ALLOWED_METHODS.join(', ');

/** Identity of this UAS written into its responses. */
export interface LocalUasOptions {
  readonly userAgent: string;
  /** A fresh To tag for each response. */
  readonly toTag: () => string;
}

/** The response to a request the pbx answers locally; ACK gets none (undefined). */
export function localResponse(req: SipRequest, opts: LocalUasOptions): SipResponse | undefined {
  const server = hdr('Server', opts.userAgent);
  switch (req.method) {
    case 'ACK':
      return undefined;
    case 'OPTIONS':
      return createResponse(req, 200, 'OK', {
        toTag: opts.toTag(),
        headers: [hdr('Allow', ALLOW), hdr('Accept', 'application/sdp'), hdr('Supported', '100rel'), server],
      });
    default:
      return createResponse(req, 501, 'Not Implemented', { toTag: opts.toTag(), headers: [server] });
  }
}
