// Plain-data helpers for layering configuration sources: deep merge, set-at-path, leaf listing, lookups.

/** True for `{...}` objects (not arrays, not null, not class instances such as Date). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

// defineProperty keeps a "__proto__" key from a file or JSON an ordinary own key (the schema then rejects it)
// instead of replacing the object's prototype.
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Returns `over` merged onto `base`: objects merge key by key, arrays and scalars replace, undefined is skipped. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) put(out, key, value);
  for (const [key, value] of Object.entries(over)) put(out, key, deepMerge(base[key], value));
  return out;
}

/** Returns a copy of `root` with `value` deep-merged at `path`, creating objects on the way. */
export function mergeAt(root: unknown, path: readonly string[], value: unknown): unknown {
  let patch = value;
  for (let i = path.length - 1; i >= 0; i--) {
    const level: Record<string, unknown> = {};
    put(level, path[i] ?? '', patch);
    patch = level;
  }
  return deepMerge(root, patch);
}

/** Every leaf path of `value` (arrays, scalars and empty objects are leaves), prefixed by `prefix`. */
export function leafPaths(value: unknown, prefix: readonly string[] = []): string[][] {
  if (!isPlainObject(value)) return [[...prefix]];
  const entries = Object.entries(value);
  if (entries.length === 0) return [[...prefix]];
  return entries.flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}

/** The value at `path` inside `root`, or undefined. */
export function getAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** ` (did you mean X?)` for the candidate closest to `name` (case-insensitive, at most 3 edits), else ''. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of candidates) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

/**
 * Removes `key: null` where `shape` has a section, so a YAML section whose entries are all commented out
 * (`sip:` followed by comments only) means "defaults" rather than a type error.
 */
export function dropNullSections(value: unknown, shape: unknown): unknown {
  if (!isPlainObject(value) || !isPlainObject(shape)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const section = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (child === null && isPlainObject(section)) continue;
    put(out, key, dropNullSections(child, section));
  }
  return out;
}
