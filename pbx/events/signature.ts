/** Webhook body signatures: `X-Sippbx-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`. */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The `X-Sippbx-Signature` value of `body` under `secret`. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** True when `header` is the signature of `body` under `secret` (constant-time comparison). */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
