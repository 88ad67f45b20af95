// Short content hashes for pod-template annotations.
import { createHash } from 'node:crypto';

/** A 16-hex-digit SHA-256 prefix of the parts, each length-prefixed so boundaries cannot shift. */
export function contentHash(...parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const part of parts) h.update(`${part.length}:${part}`);
  return h.digest('hex').slice(0, 16);
}
