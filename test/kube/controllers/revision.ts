/**
 * Revision hashing shared by the StatefulSet and Deployment controllers: a stable hash of a pod
 * template, rendered the way Kubernetes renders `controller-revision-hash` and `pod-template-hash`
 * (FNV-1a 32 over a canonical encoding, then `rand.SafeEncodeString` of its decimal form).
 */

/** Characters `k8s.io/apimachinery/pkg/util/rand.SafeEncodeString` maps digits onto (no vowels, no 0/1/3). */
const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** JSON with object keys sorted, so equal values always encode to equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv32a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** `rand.SafeEncodeString`: each character of `text` mapped onto the safe alphabet. */
export function safeEncode(text: string): string {
  let out = '';
  for (const ch of text) out += SAFE_ALPHANUMS[ch.charCodeAt(0) % SAFE_ALPHANUMS.length] ?? 'b';
  return out;
}

/** The revision hash of a template (plus an optional collision count, as Kubernetes does). */
export function templateHash(template: unknown, collisionCount = 0): string {
  const base = canonicalJson(template ?? {});
  const text = collisionCount === 0 ? base : `${base}#${collisionCount}`;
  return safeEncode(String(fnv32a(text)));
}
