// `x-kubernetes-validations` CEL rules evaluated with cel-js: `self` is the value at the rule's node,
// `oldSelf` the previous value (transition rules run only on update when an old value exists).
import { evaluate } from '@marcbachmann/cel-js';
import type { StatusCause } from './errors.js';
import { childPath, type Schema } from './schema.js';
import { isObject } from './util.js';

function ruleCause(
  rule: NonNullable<Schema['x-kubernetes-validations']>[number],
  path: string,
  detail?: string,
): StatusCause {
  const field = rule.fieldPath ? path + rule.fieldPath : path;
  const message = detail ?? rule.message ?? `failed rule: ${rule.rule}`;
  return {
    reason: rule.reason ?? 'FieldValueInvalid',
    message: `Invalid value: "object": ${message}`,
    field,
  };
}

function checkRules(value: unknown, old: unknown, schema: Schema, path: string, out: StatusCause[]): void {
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    const transition = /\boldSelf\b/.test(rule.rule);
    if (transition && old === undefined && !rule.optionalOldSelf) continue;
    try {
      const ok: unknown = evaluate(rule.rule, {
        self: value,
        ...(old === undefined ? {} : { oldSelf: old }),
      });
      if (ok !== true) out.push(ruleCause(rule, path));
    } catch (err) {
      out.push(
        ruleCause(
          rule,
          path,
          `compilation or evaluation error: ${(err as Error).message.split('\n')[0] ?? ''}`,
        ),
      );
    }
  }
}

/** Evaluates every CEL rule in the schema against the object (and its old version); returns failures. */
export function celCauses(
  value: unknown,
  old: unknown,
  schema: Schema,
  path = '',
  out: StatusCause[] = [],
): StatusCause[] {
  if (value === undefined) return out;
  checkRules(value, old, schema, path, out);
  if (isObject(value)) {
    const oldObj = isObject(old) ? old : {};
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      celCauses(value[key], oldObj[key], sub, childPath(path, key), out);
    }
    const extra = schema.additionalProperties;
    if (isObject(extra) && !schema.properties) {
      for (const key of Object.keys(value))
        celCauses(value[key], oldObj[key], extra, childPath(path, key), out);
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => celCauses(item, undefined, schema.items as Schema, childPath(path, i), out));
  }
  return out;
}
