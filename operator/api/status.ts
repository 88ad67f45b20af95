// The SipPbx status (zod), written by the operator through the status subresource.
import { z } from 'zod';

/** Condition types the operator sets. */
export const CONDITION_TYPES = [
  'Ready',
  'Progressing',
  'Draining',
  'Degraded',
  'PortRangeExhausted',
  'PortRangeConflict',
] as const;

/** metav1.Condition status values. */
export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** Life cycle of one pbx pod as the operator sees it (ARCHITECTURE.md "Drain"). */
export const POD_STATES = ['pending', 'running', 'draining', 'drained'] as const;

/** metav1.Condition reason grammar (CamelCase words, digits, `_`, `,`, `:`). */
export const REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** RFC 3339 time as Kubernetes writes it (`2025-01-02T03:04:05Z`). */
const time = z.iso.datetime();

/** A metav1.Condition. */
export const conditionSchema = z.object({
  type: z.enum(CONDITION_TYPES),
  status: z.enum(CONDITION_STATUSES),
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: time,
  reason: z.string().min(1).max(1024).regex(REASON_PATTERN),
  message: z.string().max(32768),
});

/** `status.pods[]`: one pbx pod, its share of the port range and its drain progress. */
export const podStatusSchema = z.object({
  name: z.string(),
  ordinal: z.int().min(0),
  portRange: z.object({ start: z.int(), end: z.int() }),
  state: z.enum(POD_STATES),
  drainStartedAt: time.optional(),
  activeCalls: z.int().min(0).optional(),
});

/** `status` of a SipPbx. */
export const sipPbxStatusSchema = z.object({
  observedGeneration: z.int().min(0).optional(),
  replicas: z.int().min(0).optional(),
  readyReplicas: z.int().min(0).optional(),
  updatedReplicas: z.int().min(0).optional(),
  drainingReplicas: z.int().min(0).optional(),
  activeCalls: z.int().min(0).optional(),
  selector: z.string().optional(),
  currentRevision: z.string().optional(),
  updateRevision: z.string().optional(),
  pods: z.array(podStatusSchema).optional(),
  conditions: z.array(conditionSchema).optional(),
});

/** One condition type. */
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** A metav1.Condition of a SipPbx. */
export type Condition = z.output<typeof conditionSchema>;

/** One entry of `status.pods`. */
export type PodStatus = z.output<typeof podStatusSchema>;

/** One pod's state. */
export type PodState = (typeof POD_STATES)[number];

/** `status` of a SipPbx. */
export type SipPbxStatus = z.output<typeof sipPbxStatusSchema>;
