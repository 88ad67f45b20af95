// The set of served resource types, keyed by group and plural resource; CRDs add and remove entries.
import { builtinTypes } from './builtins.js';
import type { ResourceType } from './types.js';

/** Served resource types with lookups by group/version/resource and by kind. */
export class TypeRegistry {
  private readonly types = new Map<string, ResourceType>();

  constructor() {
    for (const t of builtinTypes()) this.add(t);
  }

  /** Serves a resource type (replacing one with the same group/resource). */
  add(t: ResourceType): void {
    this.types.set(`${t.group}/${t.resource}`, t);
  }

  /** Stops serving a resource type. */
  remove(group: string, resource: string): void {
    this.types.delete(`${group}/${resource}`);
  }

  /** The type served at group/version/resource, if any. */
  lookup(group: string, version: string, resource: string): ResourceType | undefined {
    const t = this.types.get(`${group}/${resource}`);
    return t && t.versions.includes(version) ? t : undefined;
  }

  /** The type for an apiVersion and kind, if served. */
  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    const { group, version } = splitApiVersion(apiVersion);
    for (const t of this.types.values()) {
      if (t.group === group && t.kind === kind && t.versions.includes(version)) return t;
    }
    return undefined;
  }

  /** Every served type. */
  all(): ResourceType[] {
    return [...this.types.values()];
  }

  /** Served groups with their versions, in insertion order ('' is the core group). */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of this.types.values()) {
      const vs = out.get(t.group) ?? [];
      for (const v of t.versions) if (!vs.includes(v)) vs.push(v);
      out.set(t.group, vs);
    }
    return out;
  }
}

/** Splits `group/version` (or `v1` for core) into its parts. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** Joins a group and version into an apiVersion. */
export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}
