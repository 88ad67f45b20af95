// Small helpers over plain JSON objects.
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from './types.js';

/** Deep copy of a JSON value. */
export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Whether two JSON values are equal. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** Whether a value is a plain (non-array) object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An object without metadata, status, apiVersion and kind: what `generation` tracks. */
export function specPart(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

/** A timestamp in the RFC 3339 seconds form Kubernetes uses. */
export function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Reads a simple JSON path like `.spec.replicas` (dots only). */
export function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.').filter((p) => p !== '')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** Writes a simple JSON path like `.spec.replicas`, creating objects on the way. */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.').filter((p) => p !== '');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    cur = isObject(next) ? next : (cur[part] = {});
  }
  const last = parts.at(-1);
  if (last !== undefined) cur[last] = value;
}
