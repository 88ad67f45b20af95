/** Bearer tokens of the management API (`http.auth.tokens`): loading, reloading and constant-time checks. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { PbxConfig } from '../config/schema.js';
import { PbxError } from '../core/errors.js';

/** What a token may do: `read` sees, `admin` also changes (drain, log level). */
export type Role = 'read' | 'admin';

/** One configured token: inline `token` or a `tokenFile` path, with its role. */
export type TokenSpec = PbxConfig['http']['auth']['tokens'][number];

/** A token as kept in memory: only its SHA-256 digest, so comparisons are constant-length. */
export interface TokenEntry {
  readonly digest: Buffer;
  readonly role: Role;
}

/** The live token set; `reload()` swaps it atomically (the lead wires it to SIGHUP). */
export interface TokenStore {
  /** Number of tokens in force; 0 means the management API refuses every request. */
  readonly size: number;
  /** The role an `Authorization` header value grants, or undefined. */
  authenticate(header: string | undefined): Role | undefined;
  /** Re-reads every `tokenFile`; on failure it throws and the previous tokens stay in force. */
  reload(): Promise<void>;
}

const BEARER = /^bearer[ \t]+/i;

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750 §2.1). */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const scheme = BEARER.exec(header);
  if (scheme === null) return undefined;
  const token = header.slice(scheme[0].length).trim();
  return token === '' ? undefined : token;
}

/**
 * The role a header grants. Every entry is compared (no early exit) with `timingSafeEqual` over SHA-256
 * digests, so neither the position of a match nor the token's length shows in the timing.
 */
export function authenticate(header: string | undefined, tokens: readonly TokenEntry[]): Role | undefined {
  const token = bearerToken(header);
  if (token === undefined) return undefined;
  const presented = digest(token);
  let role: Role | undefined;
  for (const entry of tokens) {
    const equal = timingSafeEqual(presented, entry.digest);
    if (equal && role === undefined) role = entry.role;
  }
  return role;
}

async function readTokenFile(path: string, where: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new PbxError('PBX_ERR_CONFIG', `${where}.tokenFile: cannot read ${path} (${why})`, { cause: err });
  }
  const token = text.trim();
  // The contents are never put in a message or a log line, only the path.
  if (token === '') throw new PbxError('PBX_ERR_CONFIG', `${where}.tokenFile: ${path} is empty`);
  return token;
}

async function resolveToken(spec: TokenSpec, where: string): Promise<string> {
  if (spec.tokenFile !== undefined) return readTokenFile(spec.tokenFile, where);
  const token = (spec.token ?? '').trim();
  if (token === '') throw new PbxError('PBX_ERR_CONFIG', `${where}.token: must not be empty`);
  return token;
}

function checkRoles(entries: readonly TokenEntry[], path: string): void {
  entries.forEach((entry, i) => {
    const clash = entries.findIndex(
      (other) => other.digest.equals(entry.digest) && other.role !== entry.role,
    );
    if (clash !== -1 && clash < i) {
      throw new PbxError(
        'PBX_ERR_CONFIG',
        `${path}[${i}]: the same token as ${path}[${clash}] with another role (${entry.role})`,
      );
    }
  });
}

async function resolveAll(specs: readonly TokenSpec[], path: string): Promise<TokenEntry[]> {
  const entries = await Promise.all(
    specs.map(async (spec, i) => ({
      digest: digest(await resolveToken(spec, `${path}[${i}]`)),
      role: spec.role,
    })),
  );
  checkRoles(entries, path);
  return entries;
}

/**
 * Loads `http.auth.tokens`, reading each `tokenFile` (trimmed). A missing, unreadable or empty file is a
 * `PBX_ERR_CONFIG` naming the key and the file; the file's contents never appear in errors or logs.
 */
export async function loadTokens(
  specs: readonly TokenSpec[],
  path = 'http.auth.tokens',
): Promise<TokenStore> {
  let entries = await resolveAll(specs, path);
  return {
    get size() {
      return entries.length;
    },
    authenticate: (header) => authenticate(header, entries),
    reload: async () => {
      entries = await resolveAll(specs, path);
    },
  };
}
