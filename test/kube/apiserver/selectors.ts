// Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors (=, ==, !=) as predicates.
import { badRequest } from './errors.js';
import type { KubeObject } from './types.js';

/** A predicate over objects. */
export type Matcher = (obj: KubeObject) => boolean;

type LabelReq = (labels: Record<string, string>) => boolean;

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p !== '');
}

function setRequirement(term: string): LabelReq | undefined {
  const m = /^([^\s!=]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (!m) return undefined;
  const key = m[1] ?? '';
  const values = (m[3] ?? '').split(',').map((v) => v.trim());
  if (m[2] === 'in') return (l) => key in l && values.includes(l[key] ?? '');
  return (l) => !(key in l) || !values.includes(l[key] ?? '');
}

function labelRequirement(term: string): LabelReq {
  const set = setRequirement(term);
  if (set) return set;
  const m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s,]*)$/.exec(term);
  if (m) {
    const [, key = '', op, value = ''] = m;
    return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  if (/^![^\s!=()]+$/.test(term)) return (l) => !(term.slice(1) in l);
  if (/^[^\s!=()]+$/.test(term)) return (l) => term in l;
  throw badRequest(`unable to parse requirement: ${term}`);
}

/** Parses a label selector string into a predicate (empty matches everything). */
export function parseLabelSelector(selector: string | undefined): Matcher {
  const reqs = splitTop(selector ?? '').map(labelRequirement);
  return (obj) => reqs.every((r) => r(obj.metadata.labels ?? {}));
}

/** Reads a dotted field path as the string a field selector compares against. */
function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === 'string' || typeof cur === 'number' || typeof cur === 'boolean' ? String(cur) : '';
}

/** Parses a field selector (any dotted path; the real server allows only some per kind). */
export function parseFieldSelector(selector: string | undefined): Matcher {
  const reqs = splitTop(selector ?? '').map((term) => {
    const m = /^([^\s!=]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid field selector: ${term}`);
    const [, path = '', op, value = ''] = m;
    return op === '!='
      ? (o: KubeObject) => fieldValue(o, path) !== value
      : (o: KubeObject) => fieldValue(o, path) === value;
  });
  return (obj) => reqs.every((r) => r(obj));
}

/** A `metav1.LabelSelector` (matchLabels + matchExpressions) rendered as a selector string. */
export function labelSelectorToString(sel: unknown): string {
  if (!sel || typeof sel !== 'object') return '';
  const s = sel as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    if (e.operator === 'Exists') parts.push(e.key);
    if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}
