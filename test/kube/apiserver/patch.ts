// PATCH bodies: JSON Patch (RFC 6902), JSON merge patch (RFC 7386) and the strategic merge patch subset
// kubectl uses on built-in kinds (lists merged by their patchMergeKey, `$patch` directives).
import { badRequest, ApiError } from './errors.js';
import { clone, isObject, jsonEqual } from './util.js';

/** RFC 7386 merge patch: objects merge recursively, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function unescapePointer(seg: string): string {
  return seg.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer: ${path}`);
  return path.slice(1).split('/').map(unescapePointer);
}

type Container = Record<string, unknown> | unknown[];

function parentOf(doc: unknown, segs: string[]): { parent: Container; key: string } {
  let cur: unknown = doc;
  for (const seg of segs.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(seg)] : isObject(cur) ? cur[seg] : undefined;
    if (cur === undefined) throw jsonPatchError(`path /${segs.join('/')} does not exist`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw jsonPatchError(`path /${segs.join('/')} does not exist`);
  return { parent: cur, key: segs.at(-1) ?? '' };
}

function jsonPatchError(msg: string): ApiError {
  return new ApiError(
    422,
    'Invalid',
    `the server rejected our request due to an error in our request: ${msg}`,
  );
}

function readAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const seg of pointer(path)) {
    cur = Array.isArray(cur) ? cur[Number(seg)] : isObject(cur) ? cur[seg] : undefined;
    if (cur === undefined) throw jsonPatchError(`path ${path} does not exist`);
  }
  return cur;
}

function addAt(doc: unknown, path: string, value: unknown): unknown {
  const segs = pointer(path);
  if (segs.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, segs);
  if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, clone(value));
  else parent[key] = clone(value);
  return doc;
}

function removeAt(doc: unknown, path: string): unknown {
  const segs = pointer(path);
  const { parent, key } = parentOf(doc, segs);
  if (Array.isArray(parent)) {
    if (Number(key) >= parent.length) throw jsonPatchError(`path ${path} does not exist`);
    parent.splice(Number(key), 1);
  } else {
    if (!(key in parent)) throw jsonPatchError(`path ${path} does not exist`);
    delete parent[key];
  }
  return doc;
}

interface Op {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function applyOp(doc: unknown, o: Op): unknown {
  switch (o.op) {
    case 'add':
      return addAt(doc, o.path, o.value);
    case 'remove':
      return removeAt(doc, o.path);
    case 'replace':
      return addAt(removeAt(doc, o.path), o.path, o.value);
    case 'move': {
      const v = readAt(doc, o.from ?? '');
      return addAt(removeAt(doc, o.from ?? ''), o.path, v);
    }
    case 'copy':
      return addAt(doc, o.path, readAt(doc, o.from ?? ''));
    case 'test':
      if (!jsonEqual(readAt(doc, o.path), o.value)) throw jsonPatchError(`testing value ${o.path} failed`);
      return doc;
    default:
      throw badRequest(`unexpected JSON patch operation: ${o.op}`);
  }
}

/** RFC 6902 JSON Patch, applied to a copy. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch must be an array of operations');
  let doc = clone(target);
  for (const o of ops as Op[]) doc = applyOp(doc, o);
  return doc;
}

/** patchMergeKey of list fields in built-in kinds (k8s.io/api struct tags), by field name. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  resourceClaims: 'name',
};

/** Primitive lists with patchStrategy merge (union of values). */
const MERGE_PRIMITIVES = new Set(['finalizers']);

function mergeKeyFor(field: string, items: unknown[]): string | undefined {
  if (field === 'ports')
    return items.some((i) => isObject(i) && 'containerPort' in i) ? 'containerPort' : 'port';
  return MERGE_KEYS[field];
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) out[k] = stripDirectives(x);
  return out;
}

function mergeKeyedList(target: unknown[], patch: unknown[], key: string): unknown[] {
  const out = target.map(clone);
  for (const p of patch) {
    if (!isObject(p)) continue;
    const idx = out.findIndex((t) => isObject(t) && jsonEqual(t[key], p[key]));
    if (p.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
    } else if (idx >= 0) out[idx] = strategicMerge(out[idx], p);
    else out.push(stripDirectives(p));
  }
  return out;
}

function mergeList(field: string, target: unknown, patch: unknown[]): unknown {
  const key = mergeKeyFor(field, patch);
  if (Array.isArray(target) && key !== undefined) return mergeKeyedList(target, patch, key);
  if (Array.isArray(target) && MERGE_PRIMITIVES.has(field))
    return [...new Set<unknown>([...(target as unknown[]), ...patch])];
  return stripDirectives(patch);
}

function deleteFromPrimitiveLists(out: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith('$deleteFromPrimitiveList/') || !Array.isArray(v)) continue;
    const field = k.slice('$deleteFromPrimitiveList/'.length);
    const cur = out[field];
    if (Array.isArray(cur)) out[field] = cur.filter((x) => !v.some((d) => jsonEqual(d, x)));
  }
}

/** Strategic merge patch (the subset kubectl apply/scale/label/annotate/edit send). */
export function strategicMerge(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') return stripDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  const out: Record<string, unknown> = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(k, out[k], v);
    else {
      const merged = strategicMerge(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  deleteFromPrimitiveLists(out, patch);
  return out;
}
