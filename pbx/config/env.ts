// Environment overrides: SIPPBX_ + the key path in upper snake case, values coerced by the schema type.
import type { z } from 'zod';
import type { ConfigIssue } from './errors.js';
import { didYouMean } from './merge.js';
import { pbxConfigSchema } from './schema.js';

/** Names the config file when `loadConfig` gets no `file`; not a key override. */
export const CONFIG_FILE_ENV = 'SIPPBX_CONFIG';

/** SIPPBX_ variables that are not config keys: the config file and the operator's port plan file. */
const NOT_CONFIG_KEYS = new Set([CONFIG_FILE_ENV, 'SIPPBX_PORT_PLAN_FILE']);

const PREFIX = 'SIPPBX_';

/** How an environment value is turned into a config value. */
export type EnvKind = 'string' | 'number' | 'boolean' | 'json';

/** One overridable key: its path in the config, how its value is parsed, and whether empty means null. */
export interface EnvKey {
  readonly path: readonly string[];
  readonly kind: EnvKind;
  readonly nullable: boolean;
}

/** The variable for a key path: `['media','portRange','start']` -> `SIPPBX_MEDIA_PORT_RANGE_START`. */
export function envVarName(path: readonly string[]): string {
  return PREFIX + path.map((key) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

type Def = z.core.$ZodTypeDef & {
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
  values?: unknown[];
};

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'readonly', 'nonoptional', 'catch']);

/** Strips defaults, optionality and nullability; reports whether null is accepted. */
function unwrap(schema: z.core.$ZodType): { def: Def; nullable: boolean } {
  let def = schema._zod.def as Def;
  let nullable = false;
  for (;;) {
    if (def.type === 'nullable') nullable = true;
    const inner =
      def.type === 'pipe'
        ? def.in
        : WRAPPERS.has(def.type) || def.type === 'nullable'
          ? def.innerType
          : undefined;
    if (inner === undefined) return { def, nullable };
    def = inner._zod.def;
  }
}

function kindOf(def: Def): EnvKind {
  switch (def.type) {
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'string':
    case 'enum':
      return 'string';
    case 'literal':
      return typeof def.values?.[0] === 'number' ? 'number' : 'string';
    default:
      return 'json';
  }
}

function collect(
  shape: Record<string, z.core.$ZodType>,
  prefix: readonly string[],
  out: Map<string, EnvKey>,
): void {
  for (const [key, child] of Object.entries(shape)) {
    const path = [...prefix, key];
    const { def, nullable } = unwrap(child);
    const name = envVarName(path);
    const clash = out.get(name);
    if (clash !== undefined)
      throw new Error(`${name} names both ${clash.path.join('.')} and ${path.join('.')}`);
    out.set(name, { path, kind: kindOf(def), nullable });
    if (def.type === 'object' && def.shape !== undefined) collect(def.shape, path, out);
  }
}

/** Every accepted override variable (objects and arrays included, as JSON), keyed by variable name. */
export const envKeys: ReadonlyMap<string, EnvKey> = (() => {
  const out = new Map<string, EnvKey>();
  collect(pbxConfigSchema.shape, [], out);
  return out;
})();

/** Result of reading one variable: the config value, or why the text does not fit the key. */
export type Coerced = { ok: true; value: unknown } | { ok: false; why: string };

const TRUE = /^(?:true|1|yes|on)$/i;
const FALSE = /^(?:false|0|no|off)$/i;

function coerceNumber(text: string, raw: string): Coerced {
  const n = Number(text);
  return text !== '' && Number.isFinite(n)
    ? { ok: true, value: n }
    : { ok: false, why: `expected a number (got ${JSON.stringify(raw)})` };
}

function coerceBoolean(text: string, raw: string): Coerced {
  if (TRUE.test(text)) return { ok: true, value: true };
  if (FALSE.test(text)) return { ok: true, value: false };
  return { ok: false, why: `expected true or false (got ${JSON.stringify(raw)})` };
}

function coerceJson(text: string): Coerced {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, why: `expected JSON (${(err as Error).message})` };
  }
}

/** Parses one variable's text per its key kind; empty text means null for nullable keys. */
export function coerceEnvValue(key: EnvKey, raw: string): Coerced {
  const text = key.kind === 'string' ? raw : raw.trim();
  if (text === '' && key.nullable) return { ok: true, value: null };
  switch (key.kind) {
    case 'string':
      return { ok: true, value: text };
    case 'number':
      return coerceNumber(text, raw);
    case 'boolean':
      return coerceBoolean(text, raw);
    case 'json':
      return coerceJson(text);
  }
}

/** One parsed override: where it goes, its value, and the variable it came from. */
export interface EnvOverride {
  readonly path: readonly string[];
  readonly value: unknown;
  readonly variable: string;
}

/** Reads every `SIPPBX_` variable; broader keys first so a more specific variable wins over a JSON object. */
export function readEnvOverrides(env: Record<string, string | undefined>): {
  overrides: EnvOverride[];
  issues: ConfigIssue[];
} {
  const overrides: EnvOverride[] = [];
  const issues: ConfigIssue[] = [];
  for (const [variable, raw] of Object.entries(env)) {
    if (!variable.startsWith(PREFIX) || NOT_CONFIG_KEYS.has(variable) || raw === undefined) continue;
    const key = envKeys.get(variable);
    if (key === undefined) {
      issues.push({
        path: variable,
        message: `unknown variable${didYouMean(variable, envKeys.keys())}`,
        source: 'environment',
      });
      continue;
    }
    const coerced = coerceEnvValue(key, raw);
    if (coerced.ok) overrides.push({ path: key.path, value: coerced.value, variable });
    else issues.push({ path: key.path.join('.'), message: coerced.why, source: variable });
  }
  overrides.sort((a, b) => a.path.length - b.path.length);
  return { overrides, issues };
}
