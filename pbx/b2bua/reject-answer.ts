/**
 * The answer a B2BUA puts in its ACK when it cannot take the offer of a 2xx (a late offer it cannot
 * relay): RFC 3261 §13.2.2.4 asks for a valid answer in the ACK, then an immediate BYE. Every stream is
 * rejected (RFC 3264 §6: same m= lines, in order, port 0).
 */
import { describeSdp, SdpError } from '../media/sdp/index.js';

/** An answer rejecting every stream of `offer`, or undefined when the offer cannot even be read. */
export function rejectingAnswer(offer: Buffer, address: string): Buffer | undefined {
  let media;
  try {
    media = describeSdp(offer).media;
  } catch (err) {
    if (err instanceof SdpError) return undefined;
    throw err;
  }
  const ip = address.includes(':') ? 'IP6' : 'IP4';
  const lines = ['v=0', `o=- 0 0 IN ${ip} ${address}`, 's=-', `c=IN ${ip} ${address}`, 't=0 0'];
  for (const m of media) lines.push(`m=${m.type} 0 ${m.proto} ${m.formats[0] ?? '0'}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
}
