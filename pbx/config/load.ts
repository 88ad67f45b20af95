// loadConfig: defaults < YAML file < overrides (CLI flags) < SIPPBX_ environment, validated in one pass.
import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { CONFIG_FILE_ENV, readEnvOverrides } from './env.js';
import { PORT_PLAN_ENV, readPortPlan } from './port-plan.js';
import { ConfigError } from './errors.js';
import type { ConfigIssue } from './errors.js';
import { configErrorMap, dottedPath, fromZodIssues } from './issues.js';
import { deepMerge, dropNullSections, isPlainObject, leafPaths, mergeAt } from './merge.js';
import { deepFreeze, defaultConfig, pbxConfigSchema } from './schema.js';
import type { PbxConfig } from './schema.js';

/** Where to read the configuration from; every field optional. */
export interface LoadConfigOptions {
  /** YAML file; when absent, `SIPPBX_CONFIG` from `env` names it; when both are absent, defaults only. */
  readonly file?: string | undefined;
  /** Environment for `SIPPBX_*` overrides; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Partial config from command-line flags, deep-merged over the file. */
  readonly overrides?: unknown;
}

/** Names the source of a value found at an issue path (the path may reach below the recorded key). */
type Locator = (issuePath: readonly PropertyKey[]) => string;

/** Records, per dotted leaf path, which layer set it last; later layers win. */
class Sources {
  private readonly byPath = new Map<string, Locator>();

  record(value: unknown, prefix: readonly string[], locate: Locator): void {
    for (const path of leafPaths(value, prefix)) {
      const key = path.join('.');
      this.byPath.delete(key); // keep insertion order = layer order
      this.byPath.set(key, locate);
    }
  }

  /** The nearest recorded ancestor of `path`, else the last-recorded descendant, else `default`. */
  find(path: readonly PropertyKey[]): string {
    for (let i = path.length; i >= 0; i--) {
      const locate = this.byPath.get(path.slice(0, i).map(String).join('.'));
      if (locate !== undefined) return locate(path);
    }
    const prefix = path.map(String).join('.');
    let found: Locator | undefined;
    for (const [key, locate] of this.byPath)
      if (prefix === '' || key.startsWith(`${prefix}.`)) found = locate;
    return found === undefined ? 'default' : found(path);
  }
}

const constant =
  (label: string): Locator =>
  () =>
    label;

interface FileLayer {
  readonly value: unknown;
  readonly issues: ConfigIssue[];
  readonly locate: Locator;
}

/** Reads and parses a YAML file; syntax errors carry line and column. */
function readYamlFile(file: string): FileLayer {
  const failed = (issues: ConfigIssue[]): FileLayer => ({ value: {}, issues, locate: constant(file) });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return failed([
      { path: '(root)', message: `cannot read config file: ${(err as Error).message}`, source: file },
    ]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    return failed(
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return {
          path: '(root)',
          message: `YAML syntax error at line ${line}, column ${col}: ${e.message}`,
          source: at(e.pos[0]),
        };
      }),
    );
  }
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const locate: Locator = (issuePath) => {
    // The deepest node of the file on the issue's path gives the most precise line.
    for (let i = issuePath.length; i >= 0; i--) {
      const node = doc.getIn(issuePath.slice(0, i), true);
      if (isNode(node) && node.range) return at(node.range[0]);
    }
    return file;
  };
  if (value === null || value === undefined) return { value: {}, issues: [], locate };
  if (!isPlainObject(value)) {
    const kind = Array.isArray(value) ? 'a sequence' : `a scalar (${JSON.stringify(value)})`;
    return failed([{ path: '(root)', message: `must be a mapping of sections (got ${kind})`, source: file }]);
  }
  return { value, issues: [], locate };
}

/** Validates the merged input and freezes it, or throws ConfigError naming each key and its source. */
function validate(input: unknown, sources: Sources, earlier: readonly ConfigIssue[]): PbxConfig {
  const result = pbxConfigSchema.safeParse(dropNullSections(input, defaultConfig), {
    reportInput: true,
    error: configErrorMap,
  });
  const issues = [...earlier];
  if (!result.success) {
    for (const iss of fromZodIssues(result.error.issues)) {
      issues.push({ path: dottedPath(iss.path), message: iss.message, source: sources.find(iss.path) });
    }
    throw new ConfigError(issues, { cause: result.error });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return deepFreeze(result.data);
}

/** Validates a plain configuration object (e.g. rendered by the operator) against the schema, with defaults. */
export function parseConfig(input: unknown, source = 'input'): PbxConfig {
  const sources = new Sources();
  sources.record(input, [], constant(source));
  return validate(input, sources, []);
}

/** Loads the pbx configuration: defaults < YAML file < `overrides` < `SIPPBX_*` env; throws ConfigError. */
export function loadConfig(opts: LoadConfigOptions = {}): PbxConfig {
  const env = opts.env ?? process.env;
  const sources = new Sources();
  const issues: ConfigIssue[] = [];
  let merged: unknown = {};

  const file = opts.file ?? (env[CONFIG_FILE_ENV] || undefined);
  if (file !== undefined) {
    const layer = readYamlFile(file);
    issues.push(...layer.issues);
    merged = layer.value;
    sources.record(layer.value, [], layer.locate);
  }

  if (opts.overrides !== undefined) {
    if (isPlainObject(opts.overrides)) {
      merged = deepMerge(merged, opts.overrides);
      sources.record(opts.overrides, [], constant('overrides'));
    } else {
      issues.push({ path: '(root)', message: 'overrides must be an object', source: 'overrides' });
    }
  }

  const fromEnv = readEnvOverrides(env);
  issues.push(...fromEnv.issues);
  for (const o of fromEnv.overrides) {
    merged = mergeAt(merged, o.path, o.value);
    sources.record(o.value, o.path, constant(o.variable));
  }

  // Last: the operator's per-pod port plan decides this pod's media range.
  const plan = readPortPlan(env);
  issues.push(...plan.issues);
  if (plan.range !== undefined) {
    merged = mergeAt(merged, ['media', 'portRange'], plan.range);
    sources.record(plan.range, ['media', 'portRange'], constant(PORT_PLAN_ENV));
  }

  // A file that could not be read or parsed leaves nothing meaningful to validate.
  if (issues.some((i) => i.path === '(root)')) throw new ConfigError(issues);
  return validate(merged, sources, issues);
}
