/** Request bodies of the management API, validated with zod; errors name the offending field. */
import { z } from 'zod';
import type { LogLevel } from '../core/logger.js';

/** Longest drain deadline a client may ask for (one day). */
export const MAX_DRAIN_DEADLINE_SECONDS = 86_400;

/** The log levels `PUT /api/v1/log-level` accepts (`logging.level`). */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warning', 'error'];

const objectError = {
  error: (iss: { code?: string; keys?: string[] }) =>
    iss.code === 'unrecognized_keys'
      ? `unknown field(s) ${(iss.keys ?? []).join(', ')}`
      : 'must be a JSON object',
};

const deadlineSeconds = z
  .int({ error: 'must be a whole number of seconds' })
  .min(1, { error: 'must be at least 1' })
  .max(MAX_DRAIN_DEADLINE_SECONDS, { error: `must be at most ${MAX_DRAIN_DEADLINE_SECONDS}` });

/** `POST /api/v1/drain`: `{ deadlineSeconds?: 1..86400 }`; no body means the configured deadline. */
export const drainBody = z.strictObject({ deadlineSeconds: deadlineSeconds.optional() }, objectError);

/** `PUT /api/v1/log-level`: `{ level: debug | info | warning | error }`. */
export const logLevelBody = z.strictObject(
  {
    level: z.enum(['debug', 'info', 'warning', 'error'], {
      error: (iss) =>
        iss.input === undefined
          ? 'is required (debug, info, warning or error)'
          : 'must be debug, info, warning or error',
    }),
  },
  objectError,
);

/** A parsed body, or a message listing every `field: problem`. */
export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** Validates `body` (undefined, i.e. no body, is read as `{}` when `optional`). */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown, optional = false): Parsed<T> {
  const result = schema.safeParse(body === undefined && optional ? {} : body);
  if (result.success) return { ok: true, value: result.data };
  const message = result.error.issues
    .map((issue) => `${issue.path.length === 0 ? 'body' : issue.path.join('.')}: ${issue.message}`)
    .join('; ');
  return { ok: false, message };
}
