// A small JSONPath evaluator for printer columns: `.a.b`, `.a[0]`, `.a[*]`, `.a[?(@.k=="v")].b`, `{...}`.
import { isObject } from './util.js';

type Step =
  | { kind: 'key'; key: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'filter'; path: string; value: string };

function parseBracket(inner: string): Step {
  const f = /^\?\(@\.([\w.-]+)\s*==\s*["']?([^"']*)["']?\)$/.exec(inner);
  if (f) return { kind: 'filter', path: f[1] ?? '', value: f[2] ?? '' };
  if (inner === '*') return { kind: 'all' };
  if (/^-?\d+$/.test(inner)) return { kind: 'index', index: Number(inner) };
  return { kind: 'key', key: inner.replace(/^['"]|['"]$/g, '') };
}

function parse(expr: string): Step[] {
  const src = expr.trim().replace(/^\{/, '').replace(/\}$/, '');
  const steps: Step[] = [];
  const re = /\.([\w-]+)|\[([^\]]*)\]/g;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    steps.push(m[1] !== undefined ? { kind: 'key', key: m[1] } : parseBracket(m[2] ?? ''));
  }
  return steps;
}

function dig(v: unknown, path: string): unknown {
  let cur = v;
  for (const k of path.split('.')) cur = isObject(cur) ? cur[k] : undefined;
  return cur;
}

function apply(values: unknown[], step: Step): unknown[] {
  const out: unknown[] = [];
  for (const v of values) {
    if (step.kind === 'key' && isObject(v) && v[step.key] !== undefined) out.push(v[step.key]);
    if (step.kind === 'index' && Array.isArray(v)) {
      const item: unknown = v.at(step.index);
      if (item !== undefined) out.push(item);
    }
    if (step.kind === 'all' && Array.isArray(v)) out.push(...(v as unknown[]));
    if (step.kind === 'filter' && Array.isArray(v))
      out.push(...(v as unknown[]).filter((i) => String(dig(i, step.path)) === step.value));
  }
  return out;
}

/** Every value a JSONPath expression selects in an object. */
export function jsonPath(obj: unknown, expr: string): unknown[] {
  return parse(expr).reduce<unknown[]>(apply, [obj]);
}
