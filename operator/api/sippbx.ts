// The whole SipPbx object (apiVersion, kind, metadata, spec, status) and its parser.
import { z } from 'zod';
import { API_VERSION, KIND } from './constants.js';
import { sipPbxSpecSchema } from './spec.js';
import { sipPbxStatusSchema } from './status.js';

/** The metadata fields the operator reads; others are kept. */
export const objectMetaSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  deletionTimestamp: z.union([z.string(), z.date()]).optional(),
});

/** A SipPbx custom resource. */
export const sipPbxSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: objectMetaSchema,
  spec: sipPbxSpecSchema.prefault({}),
  status: sipPbxStatusSchema.optional(),
});

/** A parsed SipPbx: spec defaults filled, rules checked. */
export type SipPbx = z.output<typeof sipPbxSchema>;

/** A SipPbx as written in a manifest. */
export type SipPbxInput = z.input<typeof sipPbxSchema>;

/** Result of parseSipPbx: the object, or every problem in one message. */
export type ParseResult = { ok: true; value: SipPbx } | { ok: false; message: string };

/** Parses a SipPbx read from the API; a failure message names each field (`spec.media.portRange: ...`). */
export function parseSipPbx(value: unknown): ParseResult {
  const result = sipPbxSchema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const message = result.error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
  return { ok: false, message };
}
