// The CEL rules of crds/sippbx.yaml evaluated directly (cel-js, the engine of test/kube), including the
// portsPerCall transition rule that the enum keeps the API server from ever reaching today, next to the
// operator's mirror of each rule (checkSpec / checkSpecChange).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  RULE_MESSAGES,
  checkSpec,
  checkSpecChange,
  sipPbxSpecObject,
  sipPbxSpecSchema,
} from '../../operator/api/index.js';

type Json = Record<string, unknown>;
const crd = parse(readFileSync(join(import.meta.dirname, '../../crds/sippbx.yaml'), 'utf8')) as Json;

/** The CEL rule carrying `message`, with the dotted schema path of the node it sits on. */
function ruleFor(message: string): { rule: string; path: string[] } {
  const found: { rule: string; path: string[] }[] = [];
  const walk = (node: Json, path: string[]): void => {
    for (const r of (node['x-kubernetes-validations'] as Json[] | undefined) ?? [])
      if (r.message === message) found.push({ rule: r.rule as string, path });
    for (const [k, v] of Object.entries((node.properties as Json | undefined) ?? {}))
      walk(v as Json, [...path, k]);
  };
  const versions = (crd.spec as { versions: { schema: { openAPIV3Schema: Json } }[] }).versions;
  walk((versions[0]!.schema.openAPIV3Schema.properties as Json).spec as Json, []);
  expect(found).toHaveLength(1);
  return found[0]!;
}

const at = (value: unknown, path: string[]): unknown => path.reduce<unknown>((v, k) => (v as Json)[k], value);
const spec = (input: unknown) => sipPbxSpecSchema.parse(input);

describe('CRD CEL rules', () => {
  it('portsPerCall is immutable: self == oldSelf', () => {
    const { rule, path } = ruleFor(RULE_MESSAGES.portsPerCallImmutable);
    expect(path).toEqual(['media', 'portsPerCall']);
    expect(evaluate(rule, { self: 8, oldSelf: 8 })).toBe(true);
    expect(evaluate(rule, { self: 16, oldSelf: 8 })).toBe(false);
    const old = spec({});
    expect(checkSpecChange(old, old)).toEqual([]);
    expect(checkSpecChange(old, { media: { portsPerCall: 16 } })).toEqual([
      { path: ['media', 'portsPerCall'], message: RULE_MESSAGES.portsPerCallImmutable },
    ]);
  });

  const cases: [keyof typeof RULE_MESSAGES, Json, Json][] = [
    [
      'startAligned',
      { media: { portRange: { start: 10000, end: 20000 } } },
      { media: { portRange: { start: 10004, end: 20000 } } },
    ],
    [
      'endAfterStart',
      { media: { portRange: { start: 10000, end: 10008 } }, replicas: 0 },
      { media: { portRange: { start: 10000, end: 10000 } }, replicas: 0 },
    ],
    ['rangeFits', { replicas: 1 }, { replicas: 2 }],
    ['sipPortOutsideMedia', { sip: { port: 5060 } }, { sip: { port: 19999 } }],
    ['sipPortFree', { sip: { port: 5080 } }, { sip: { port: 9090 } }],
    [
      'oneRedisSource',
      { redis: { managed: true } },
      { redis: { url: 'redis://a', secretRef: { name: 'a', key: 'b' } } },
    ],
  ];

  it.each(cases)('%s: CEL and checkSpec agree on a good and a bad spec', (key, good, bad) => {
    const { rule, path } = ruleFor(RULE_MESSAGES[key]);
    for (const [input, ok] of [
      [good, true],
      [bad, false],
    ] as const) {
      const full = sipPbxSpecObject.parse(input); // defaults filled, rules not applied
      expect(evaluate(rule, { self: at(full, path) })).toBe(ok);
      expect(checkSpec(full).some((i) => i.message === RULE_MESSAGES[key])).toBe(!ok);
    }
  });
});
