import { randomBytes } from 'node:crypto';

/** Source of random identifiers (branches, tags, Call-IDs, SSRCs); injectable for deterministic tests. */
export interface IdSource {
  /** A random token of `bytes` bytes as lowercase hex. */
  token(bytes: number): string;
}

/** Cryptographically random ids, drawn from a pooled buffer to keep the hot path cheap. */
export function randomIds(): IdSource {
  let pool = randomBytes(4096);
  let offset = 0;
  return {
    token(bytes) {
      if (offset + bytes > pool.length) {
        pool = randomBytes(4096);
        offset = 0;
      }
      const s = pool.toString('hex', offset, offset + bytes);
      offset += bytes;
      return s;
    },
  };
}

/** Deterministic ids for tests: `prefix` + a counter, padded to the requested length. */
export function sequentialIds(prefix = 'id'): IdSource {
  let n = 0;
  return {
    token(bytes) {
      n += 1;
      return `${prefix}${n.toString(16).padStart(bytes * 2 - prefix.length, '0')}`;
    },
  };
}
