// Turns zod issues into `path: why (got …)` lines that name the offending key and value.
import type { z } from 'zod';
import { didYouMean, getAt, isPlainObject } from './merge.js';
import { defaultConfig } from './schema.js';

/** A validation problem before its source is known. */
export interface RawIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** Short rendering of an offending value for messages. */
export function describeValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

type Bound = { origin: string; inclusive?: boolean; minimum?: number | bigint; maximum?: number | bigint };

function bound(iss: Bound, op: '>' | '<', limit: number | bigint): string {
  const unit = iss.origin === 'array' ? ' entries' : iss.origin === 'string' ? ' characters' : '';
  if (unit !== '' && op === '>' && Number(limit) === 1) return 'must not be empty';
  if (unit !== '') return `must have ${op === '>' ? 'at least' : 'at most'} ${limit}${unit}`;
  return `must be ${op}${iss.inclusive === false ? '' : '='} ${limit}`;
}

/** Per-parse zod error map: messages in the pbx's words, with the rejected value. */
export const configErrorMap: z.core.$ZodErrorMap = (iss) => {
  const gotText = iss.input === undefined ? '' : ` (got ${describeValue(iss.input)})`;
  if (iss.input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_value'))
    return 'required';
  switch (iss.code) {
    case 'invalid_type':
      return iss.expected === 'int' ? `must be an integer${gotText}` : `expected ${iss.expected}${gotText}`;
    case 'too_small':
      return bound(iss, '>', iss.minimum) + gotText;
    case 'too_big':
      return bound(iss, '<', iss.maximum) + gotText;
    case 'invalid_value':
      return `must be one of ${iss.values.map((v) => String(v)).join(', ')}${gotText}`;
    default:
      return undefined;
  }
};

/** Flattens zod issues; an unknown-keys issue becomes one issue per key, with the key in its path. */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[]): RawIssue[] {
  return issues.flatMap((iss): RawIssue[] => {
    if (iss.code !== 'unrecognized_keys') return [{ path: iss.path, message: iss.message }];
    const known = getAt(defaultConfig, iss.path);
    const candidates = isPlainObject(known) ? Object.keys(known) : [];
    return iss.keys.map((key) => ({
      path: [...iss.path, key],
      message: `unknown key${didYouMean(key, candidates)}`,
    }));
  });
}

/** Dotted form of an issue path; `(root)` for the empty path. */
export function dottedPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}
