// Structural-schema walking for custom resources: pruning unknown fields and applying defaults, as
// the apiextensions server does before validation.
import { clone, isObject } from './util.js';

/** A node of a CRD's OpenAPI v3 (structural) schema. */
export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  default?: unknown;
  required?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-validations'?: ValidationRule[];
  [key: string]: unknown;
}

/** One `x-kubernetes-validations` entry. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
  optionalOldSelf?: boolean;
}

/** The JSON path of a field for error causes (`spec.ports[0].name`). */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

function pruneObject(value: Record<string, unknown>, schema: Schema, path: string, pruned: string[]): void {
  const props = schema.properties;
  const extra = schema.additionalProperties;
  for (const key of Object.keys(value)) {
    const sub = props?.[key] ?? (isObject(extra) ? extra : undefined);
    if (sub) pruneAndDefault(value[key], sub, childPath(path, key), pruned);
    else if (!schema['x-kubernetes-preserve-unknown-fields'] && extra !== true) {
      pruned.push(childPath(path, key));
      delete value[key];
    }
  }
  for (const [key, sub] of Object.entries(props ?? {})) {
    if (value[key] === undefined && sub.default !== undefined) {
      value[key] = clone(sub.default);
      pruneAndDefault(value[key], sub, childPath(path, key), pruned);
    }
  }
}

/**
 * Prunes fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields) and fills
 * defaults, in place; returns the pruned field paths.
 */
export function pruneAndDefault(value: unknown, schema: Schema, path = '', pruned: string[] = []): string[] {
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => pruneAndDefault(item, schema.items as Schema, childPath(path, i), pruned));
  } else if (isObject(value) && !schema['x-kubernetes-embedded-resource']) {
    pruneObject(value, schema, path, pruned);
  }
  return pruned;
}

/** The root schema with the object's apiVersion, kind and metadata always allowed, as the server does. */
export function rootSchema(schema: Schema): Schema {
  return {
    ...schema,
    type: 'object',
    properties: {
      ...(schema.properties ?? {}),
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
}
