// Reading a SipPbx for reconcile: the same schema as operator/api, except that `replicas` beyond what
// media.portRange holds is not an error here but a capped plan and the PortRangeExhausted condition
// (the CRD refuses such specs, but a scale, an older CRD or a changed range can still produce them).
import { z } from 'zod';
import {
  API_VERSION,
  KIND,
  RULE_MESSAGES,
  checkSpec,
  objectMetaSchema,
  sipPbxSpecObject,
  sipPbxStatusSchema,
  type SipPbx,
} from '../../api/index.js';

const lenientSpec = sipPbxSpecObject.superRefine((spec, ctx) => {
  for (const issue of checkSpec(spec))
    if (issue.message !== RULE_MESSAGES.rangeFits) ctx.addIssue({ code: 'custom', ...issue });
});

const lenientSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: objectMetaSchema,
  spec: lenientSpec.prefault({}),
  status: sipPbxStatusSchema.optional(),
});

/** A SipPbx ready to reconcile, or why it cannot be. */
export type ReconcileInput = { ok: true; pbx: SipPbx } | { ok: false; message: string };

/** Parses a SipPbx read from the API, tolerating replicas the port range does not hold. */
export function parseForReconcile(value: unknown): ReconcileInput {
  const result = lenientSchema.safeParse(value);
  if (result.success) return { ok: true, pbx: result.data };
  const message = result.error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
  return { ok: false, message };
}
