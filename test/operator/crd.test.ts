// crds/sippbx.yaml and the zod types of operator/api describe the same resource: both schemas are
// normalised to one shape (type, enum, default, nullable, required, properties, items, map values,
// int-or-string, format, bounds) and compared path by path; the test lists every difference.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  RULE_MESSAGES,
  SHORT_NAME,
  VERSION,
  sipPbxSpecObject,
  sipPbxStatusSchema,
} from '../../operator/api/index.js';

type Json = Record<string, unknown>;

/** The canonical form both schemas are reduced to. */
interface Shape {
  type?: string;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  format?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  minLength?: number;
  maxLength?: number;
  intOrString?: boolean;
  required?: string[];
  properties?: Record<string, Shape>;
  items?: Shape;
  values?: Shape | 'preserve';
}

const SAFE = Number.MAX_SAFE_INTEGER;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {});
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Math.abs(v) !== SAFE ? v : undefined;

function common(s: Json, out: Shape): Shape {
  for (const key of ['format', 'minItems', 'minLength', 'maxLength'] as const)
    if (s[key] !== undefined) (out as Json)[key] = s[key];
  if (s.default !== undefined) out.default = s.default;
  const required = s.required as string[] | undefined;
  if (required !== undefined && required.length > 0) out.required = [...required].sort();
  return out;
}

/** A zod-generated JSON Schema (draft 2020-12, io: input) in canonical form. */
function fromZod(input: unknown): Shape {
  const s = obj(input);
  const anyOf = s.anyOf as Json[] | undefined;
  if (anyOf !== undefined) {
    const types = anyOf.map((a) => a.type).sort();
    if (types.join() === 'integer,string') return common(s, { intOrString: true });
    const nonNull = anyOf.filter((a) => a.type !== 'null');
    if (nonNull.length === 1 && anyOf.length === 2)
      return { ...fromZod(nonNull[0]), ...common(s, {}), nullable: true };
  }
  const out: Shape = {};
  let type = s.type;
  if (Array.isArray(type)) {
    out.nullable = type.includes('null');
    type = type.find((t) => t !== 'null');
  }
  if (s.const !== undefined) {
    out.enum = [s.const];
    if (type === 'number' && Number.isInteger(s.const)) type = 'integer';
  }
  if (typeof type === 'string') out.type = type;
  if (s.enum !== undefined) out.enum = s.enum as unknown[];
  const min = num(s.minimum) ?? num(s.exclusiveMinimum); // CRDs express exclusive bounds with minimum
  if (min !== undefined) out.minimum = min;
  const max = num(s.maximum);
  if (max !== undefined) out.maximum = max;
  zodChildren(s, out);
  return common(s, out);
}

function zodChildren(s: Json, out: Shape): void {
  const props = s.properties as Json | undefined;
  const extra = s.additionalProperties;
  if (props !== undefined && Object.keys(props).length > 0)
    out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fromZod(v)]));
  if (typeof extra === 'object' && extra !== null)
    out.values = Object.keys(extra).length === 0 ? 'preserve' : fromZod(extra);
  if (s.items !== undefined) out.items = fromZod(s.items);
}

/** A CRD structural schema node in canonical form. */
function fromCrd(input: unknown): Shape {
  const s = obj(input);
  if (s['x-kubernetes-int-or-string'] === true) return common(s, { intOrString: true });
  const out: Shape = {};
  if (typeof s.type === 'string') out.type = s.type;
  if (s.nullable === true) out.nullable = true;
  if (s.enum !== undefined) out.enum = s.enum as unknown[];
  if (typeof s.minimum === 'number') out.minimum = s.minimum;
  if (typeof s.maximum === 'number') out.maximum = s.maximum;
  const props = s.properties as Json | undefined;
  if (props !== undefined)
    out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fromCrd(v)]));
  if (s['x-kubernetes-preserve-unknown-fields'] === true) out.values = 'preserve';
  else if (typeof s.additionalProperties === 'object') out.values = fromCrd(s.additionalProperties);
  if (s.items !== undefined) out.items = fromCrd(s.items);
  return common(s, out);
}

/** Every path where the two shapes differ, with both values. */
function diff(a: unknown, b: unknown, path: string, out: string[] = []): string[] {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) diff((a as Json)[k], (b as Json)[k], `${path}.${k}`, out);
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push(`${path}: zod ${JSON.stringify(a)} vs CRD ${JSON.stringify(b)}`);
  }
  return out;
}

const crd = parse(readFileSync(join(import.meta.dirname, '../../crds/sippbx.yaml'), 'utf8')) as {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { plural: string; kind: string; shortNames: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: unknown;
      additionalPrinterColumns: { name: string; type: string; jsonPath: string }[];
      schema: { openAPIV3Schema: { properties: { spec: Json; status: Json } } };
    }[];
  };
};
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema.properties;
const zodJson = (schema: z.ZodType): Shape => fromZod(z.toJSONSchema(schema, { io: 'input' }));

/** CEL rules of the CRD with the schema path they sit at. */
function celRules(node: unknown, path: string, out: { path: string; rule: string; message: string }[] = []) {
  const s = obj(node);
  for (const r of (s['x-kubernetes-validations'] as { rule: string; message: string }[] | undefined) ?? [])
    out.push({ path, rule: r.rule, message: r.message });
  for (const [k, v] of Object.entries(obj(s.properties))) celRules(v, `${path}.${k}`, out);
  return out;
}

describe('crds/sippbx.yaml agrees with operator/api', () => {
  it('names the resource as CONTRACTS.md says', () => {
    expect(crd.metadata.name).toBe(`${PLURAL}.${GROUP}`);
    expect(crd.spec.group).toBe(GROUP);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ plural: PLURAL, kind: KIND, shortNames: [SHORT_NAME] });
    expect(`${crd.spec.group}/${version.name}`).toBe(API_VERSION);
    expect(version).toMatchObject({ name: VERSION, served: true, storage: true });
    expect(version.subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: '.spec.replicas',
        statusReplicasPath: '.status.replicas',
        labelSelectorPath: '.status.selector',
      },
    });
  });

  it('spec: every field, type, enum, default and required list matches the zod schema', () => {
    const zodSpec = { ...zodJson(sipPbxSpecObject), default: {} }; // spec: prefault({}) in sipPbxSchema
    expect(diff(zodSpec, fromCrd(root.spec), 'spec')).toEqual([]);
  });

  it('status: every field, type, enum and required list matches the zod schema', () => {
    expect(diff(zodJson(sipPbxStatusSchema), fromCrd(root.status), 'status')).toEqual([]);
  });

  it('the comparison sees differences (it is not vacuous)', () => {
    const broken = structuredClone(root.spec);
    const media = obj(obj(broken.properties).media);
    obj(obj(media.properties).networkMode).default = 'HostNetwork';
    delete obj(broken.properties).replicas;
    expect(diff(zodJson(sipPbxSpecObject), fromCrd(broken), 'spec')).toEqual(
      expect.arrayContaining([
        expect.stringContaining('spec.properties.replicas'),
        expect.stringContaining('spec.properties.media.properties.networkMode.default'),
      ]),
    );
  });

  it('every CEL rule message is one of the operator rule messages (zod refuses the same specs)', () => {
    const messages = celRules(root.spec, 'spec').map((r) => r.message);
    expect(new Set(messages)).toEqual(new Set(Object.values(RULE_MESSAGES)));
  });

  it('has the printer columns kubectl shows', () => {
    expect(version.additionalPrinterColumns.map((c) => [c.name, c.type, c.jsonPath])).toEqual([
      ['Desired', 'integer', '.spec.replicas'],
      ['Ready', 'integer', '.status.readyReplicas'],
      ['Draining', 'integer', '.status.drainingReplicas'],
      ['Calls', 'integer', '.status.activeCalls'],
      ['Status', 'string', '.status.conditions[?(@.type=="Ready")].status'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ]);
  });
});
