/** Requests the transaction layer derives from an INVITE: the ACK for a non-2xx final and CANCEL. */
import { PbxError } from '../core/errors.js';
import { createRequest, cseq, hdr, header, headerLines, splitList } from '../sip/index.js';
import type { SipHeader, SipRequest, SipResponse } from '../sip/index.js';

/** The top Via entry exactly as written, so the derived request carries "the same" Via (§17.1.1.3, §9.1). */
function topViaText(invite: SipRequest): string {
  const line = header(invite, 'via');
  const first = line === undefined ? undefined : splitList(line)[0];
  if (first === undefined) throw new PbxError('PBX_ERR_TRANSACTION_REQUEST', 'INVITE has no Via');
  return first;
}

/** Adds a header when the copied value is present. */
function copy(headers: SipHeader[], name: string, value: string | undefined): void {
  if (value !== undefined) headers.push(hdr(name, value));
}

/** A request on the INVITE's transaction identity: its top Via only, Route set, From, Call-ID, CSeq number. */
function sameTransaction(invite: SipRequest, method: string, to: string | undefined): SipRequest {
  const headers: SipHeader[] = [hdr('Via', topViaText(invite))];
  for (const route of headerLines(invite, 'route')) headers.push(hdr('Route', route));
  headers.push(hdr('Max-Forwards', header(invite, 'max-forwards') ?? '70'));
  copy(headers, 'From', header(invite, 'from'));
  copy(headers, 'To', to);
  copy(headers, 'Call-ID', header(invite, 'call-id'));
  headers.push(hdr('CSeq', `${cseq(invite).seq} ${method}`));
  return createRequest({ method, uri: invite.uri, headers });
}

/**
 * The ACK for a 300-699 response (RFC 3261 §17.1.1.3): Request-URI, Call-ID, From, top Via and Route
 * of the INVITE, the To of the response (with its tag), CSeq number of the INVITE with method ACK.
 */
export function buildAck(invite: SipRequest, response: SipResponse): SipRequest {
  return sameTransaction(invite, 'ACK', header(response, 'to'));
}

/**
 * A CANCEL for `invite` (RFC 3261 §9.1): same Request-URI, Call-ID, To, From, CSeq number (method
 * CANCEL), only the top Via, Route copied. Send it as a non-INVITE client transaction to the INVITE's
 * destination, and only after a provisional response arrived (§9.1).
 */
export function createCancel(invite: SipRequest): SipRequest {
  return sameTransaction(invite, 'CANCEL', header(invite, 'to'));
}
