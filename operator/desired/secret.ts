// The admin-token Secret: generated once, then carried over from the existing Secret.
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { SipPbx } from '../api/index.js';
import { ownedMeta, type DesiredContext } from './context.js';
import { commonLabels, KEYS, objectNames } from './names.js';

/** A fresh admin token: 32 random bytes, base64url. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The token in an existing admin-token Secret (`data` is base64, `stringData` plain), if any. */
export function existingToken(secret: V1Secret | undefined): string | undefined {
  const plain = secret?.stringData?.[KEYS.adminToken];
  if (plain !== undefined && plain !== '') return plain;
  const encoded = secret?.data?.[KEYS.adminToken];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  return decoded === '' ? undefined : decoded;
}

/**
 * The admin-token Secret; keeps `existing` (the current token) when given, else calls `generate`, so
 * the token never changes under running pods.
 */
export function desiredSecret(
  pbx: SipPbx,
  ctx: DesiredContext,
  existing: string | undefined,
  generate: () => string = randomToken,
): V1Secret {
  const name = pbx.metadata.name;
  const token = existing ?? generate();
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: ownedMeta(pbx, ctx, objectNames(name).adminTokenSecret, commonLabels(name, 'admin-token')),
    type: 'Opaque',
    data: { [KEYS.adminToken]: Buffer.from(token, 'utf8').toString('base64') },
  };
}
