/** Canonical address-of-record keys (RFC 3261 §10.3 step 5): no parameters, no port, unescaped user. */
import { isSipUri, parseUri, unescapeUser } from '../sip/index.js';
import { InvalidAor } from './errors.js';

const TEL_VISUAL_SEPARATORS = /[-.()\s]/g;

/** `sip:user@host` (host lowercased, user unescaped, port and parameters dropped), `sips:` likewise, `tel:+digits`. */
export function aorOf(uri: string): string {
  const raw = uri.trim().replace(/^<(.*)>$/, '$1');
  let parsed;
  try {
    parsed = parseUri(raw);
  } catch (err) {
    throw new InvalidAor(uri, { cause: err });
  }
  if (isSipUri(parsed)) {
    const user = parsed.user === undefined ? '' : `${unescapeUser(parsed.user)}@`;
    return `${parsed.scheme}:${user}${parsed.host.replace(/\.$/, '')}`;
  }
  if (parsed.scheme === 'tel' && 'number' in parsed) {
    // RFC 3966 §5.1.1: visual separators carry no meaning.
    return `tel:${parsed.number.replace(TEL_VISUAL_SEPARATORS, '').toLowerCase()}`;
  }
  throw new InvalidAor(uri);
}
