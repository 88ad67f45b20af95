/**
 * The operator's port plan (ARCHITECTURE.md "Port plan"): a YAML map `podName: {start, end}` mounted
 * into every pod of a StatefulSet. With `SIPPBX_PORT_PLAN_FILE` set, a pod takes its own entry (by
 * `POD_NAME`) as `media.portRange`; the port pool then serves at most the blocks that range holds.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { ConfigIssue } from './errors.js';

/** The variable naming the plan file. */
export const PORT_PLAN_ENV = 'SIPPBX_PORT_PLAN_FILE';

const entrySchema = z.strictObject({
  start: z.number().int().min(1).max(65535),
  end: z.number().int().min(2).max(65536),
});
const planSchema = z.record(z.string(), entrySchema);

/** A pod's range from the plan, or issues explaining why there is none. */
export function readPortPlan(env: Record<string, string | undefined>): {
  range: { start: number; end: number } | undefined;
  issues: ConfigIssue[];
} {
  const file = env[PORT_PLAN_ENV];
  if (file === undefined || file === '') return { range: undefined, issues: [] };
  const issue = (message: string): { range: undefined; issues: ConfigIssue[] } => ({
    range: undefined,
    issues: [{ path: 'media.portRange', message, source: PORT_PLAN_ENV }],
  });
  const pod = env['POD_NAME'];
  if (pod === undefined || pod === '') return issue(`${PORT_PLAN_ENV} is set but POD_NAME is not`);
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return issue(`cannot read port plan ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const plan = planSchema.safeParse(raw);
  if (!plan.success) return issue(`port plan ${file} is not a map of pod name -> {start, end}`);
  const range = plan.data[pod];
  if (range === undefined) return issue(`port plan ${file} has no entry for pod ${pod}`);
  return { range, issues: [] };
}
