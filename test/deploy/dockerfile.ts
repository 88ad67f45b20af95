// Just enough of the Dockerfile and .dockerignore grammars to check the image's invariants without a
// Docker engine (there is none on the CI machines): instructions with line continuations and comments,
// build stages and their parents, exec-form arguments, and moby's dockerignore matching rules.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Repository root (this file lives in `test/deploy/`). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * The top-level entries of the production tree: what the Dockerfile's runtime stage copies into
 * /app and what scripts/prod-tree.sh builds. Both tests compare against this one list.
 */
export const PRODUCTION_TREE = ['dist', 'node_modules', 'package-lock.json', 'package.json'] as const;

/** The npm command that installs production dependencies, in the Dockerfile and in prod-tree.sh. */
export const PROD_INSTALL = 'npm ci --omit=dev --ignore-scripts --no-audit --no-fund';

/** One Dockerfile instruction, continuations joined. */
export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  readonly keyword: string;
  /** Everything after the keyword, trimmed. */
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
}

/** A build stage: its FROM and the instructions up to the next FROM. */
export interface Stage {
  readonly name: string | null;
  /** The image or stage named in FROM, as written (`node:${NODE_VERSION}-bookworm-slim`, `runtime`). */
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

/** A parsed Dockerfile: ARGs before the first FROM, then the stages in order. */
export interface Dockerfile {
  readonly globalArgs: ReadonlyMap<string, string | null>;
  readonly stages: readonly Stage[];
}

/** Splits Dockerfile text into instructions (comments dropped, `\` continuations joined). */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { text: string; line: number } | null = null;
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    // Comment lines are removed before continuations are joined, also inside a continued instruction.
    if (/^\s*#/.test(line)) return;
    if (pending === null && line.trim() === '') return;
    const continued = /\\\s*$/.test(line);
    const body = continued ? line.replace(/\\\s*$/, '') : line;
    pending =
      pending === null ? { text: body, line: index + 1 } : { ...pending, text: `${pending.text} ${body}` };
    if (continued) return;
    const match = /^\s*(\S+)\s*(.*)$/s.exec(pending.text);
    if (match !== null) {
      out.push({
        keyword: (match[1] as string).toUpperCase(),
        args: (match[2] as string).replace(/\s+/g, ' ').trim(),
        line: pending.line,
      });
    }
    pending = null;
  });
  return out;
}

/** Parses a Dockerfile into global ARGs and stages. */
export function parseDockerfile(text: string): Dockerfile {
  const globalArgs = new Map<string, string | null>();
  const stages: { name: string | null; from: string; instructions: Instruction[] }[] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(' ').filter((w) => !w.startsWith('--'));
      const name = words.length >= 3 && words[1]?.toUpperCase() === 'AS' ? (words[2] ?? null) : null;
      stages.push({ name, from: words[0] ?? '', instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword === 'ARG') {
        const [key, ...value] = ins.args.split('=');
        globalArgs.set(key as string, value.length === 0 ? null : value.join('='));
      }
    } else {
      (stages.at(-1) as { instructions: Instruction[] }).instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

/** Reads and parses the repository's Dockerfile. */
export function readDockerfile(): Dockerfile {
  return parseDockerfile(readFileSync(resolve(REPO_ROOT, 'Dockerfile'), 'utf8'));
}

/** The stage named `name`; throws when there is none. */
export function stage(file: Dockerfile, name: string): Stage {
  const found = file.stages.find((s) => s.name === name);
  if (found === undefined) throw new Error(`Dockerfile has no stage "${name}"`);
  return found;
}

/** The stage's instructions with those it inherits from parent stages (`FROM <stage>`) first. */
export function effectiveInstructions(file: Dockerfile, target: Stage): Instruction[] {
  const parent = file.stages.find((s) => s.name !== null && s.name === target.from && s !== target);
  return [...(parent === undefined ? [] : effectiveInstructions(file, parent)), ...target.instructions];
}

/** The last instruction with `keyword` (the one in effect for USER, CMD, ENTRYPOINT, ...). */
export function last(list: readonly Instruction[], keyword: string): Instruction | undefined {
  return list.filter((i) => i.keyword === keyword).at(-1);
}

/** Arguments of an exec-form (JSON array) instruction; throws on shell form. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`not an exec-form JSON array of strings: ${args}`);
  }
  return parsed;
}

/** A COPY instruction: flags (`--from`, `--chown`, ...), sources and destination. */
export interface Copy {
  readonly from: string | null;
  readonly sources: readonly string[];
  readonly dest: string;
}

/** Parses `COPY [--flag=value...] SRC... DEST` (shell form). */
export function parseCopy(args: string): Copy {
  const words = args.split(' ');
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length) ?? null;
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1) ?? '' };
}

interface IgnoreRule {
  readonly negate: boolean;
  readonly pattern: RegExp;
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` is zero or more directories; a trailing `**` is anything.
      const slash = glob[i + 2] === '/';
      out += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Parses .dockerignore text into ordered rules. */
export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const clean = (negate ? l.slice(1) : l).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, pattern: globToRegExp(clean) };
    });
}

/**
 * True when `path` (relative to the context root, `/`-separated) is left out of the build context:
 * the last rule matching the path or one of its parent directories decides (moby patternmatcher).
 */
export function isIgnored(rules: readonly IgnoreRule[], path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((p) => rule.pattern.test(p))) ignored = !rule.negate;
  }
  return ignored;
}
