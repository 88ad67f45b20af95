// Pod template bits of the SipPbx spec, typed like the Kubernetes core/v1 fields they are copied into.
import type { V1Affinity } from '@kubernetes/client-node';
import { z } from 'zod';

/** A resource quantity: integer or string (`500m`, `1Gi`), as `x-kubernetes-int-or-string`. */
export const quantitySchema = z.union([z.string(), z.int()]);

/** core/v1 ResourceRequirements (limits and requests only). */
export const resourcesSchema = z.object({
  limits: z.record(z.string(), quantitySchema).optional(),
  requests: z.record(z.string(), quantitySchema).optional(),
});

/** core/v1 Toleration. */
export const tolerationSchema = z.object({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.int().optional(),
});

/** core/v1 Affinity, kept as given (the CRD preserves its unknown fields; the API server validates pods). */
export const affinitySchema = z.looseObject({}) as unknown as z.ZodType<V1Affinity, V1Affinity>;

/** A string-to-string map (node selector, annotations). */
export const stringMapSchema = z.record(z.string(), z.string());

/** core/v1 pull policies. */
export const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
