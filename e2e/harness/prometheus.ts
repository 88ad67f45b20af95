// A small, strict parser of the Prometheus text exposition format 0.0.4 (what prom-client serves on /metrics;
// prom-client has no parser of its own). It throws `PromParseError` (with the line number) on anything a
// Prometheus server would reject and on a few things it would tolerate but that point at a broken exporter:
// - `# HELP name text` (escapes `\\`, `\n`) and `# TYPE name counter|gauge|histogram|summary|untyped`, each at most
//   once per family, the TYPE before the family's first sample; other `#` lines are comments;
// - samples `name{label="value",...} value [timestamp]`: valid metric and label names, label values with the
//   escapes `\\`, `\"`, `\n` only, no duplicate label names, no duplicate series, a family's samples contiguous;
// - sample names per type: counter/gauge/untyped = the family name; histogram = `_bucket` (with `le`), `_sum`,
//   `_count`; summary = the family name (with `quantile`), `_sum`, `_count`;
// - histograms: per label set, `le` values strictly increasing, bucket counts non-decreasing, a `+Inf` bucket equal
//   to `_count`, and `_sum`/`_count` present.

/** The metric types of the text format. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** One sample line. */
export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`… for a histogram `x`). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestampMs?: number;
}

/** A metric family: HELP, TYPE and its samples. */
export interface MetricFamily {
  readonly name: string;
  help: string | undefined;
  type: MetricType | undefined;
  readonly samples: Sample[];
}

/** A parse failure, with the 1-based line number. */
export class PromParseError extends Error {
  readonly line: number;
  constructor(line: number, message: string, text: string) {
    super(`line ${line}: ${message}: ${JSON.stringify(text.slice(0, 200))}`);
    this.name = 'PromParseError';
    this.line = line;
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

/** Go's ParseFloat as the Prometheus text format uses it (plus `+Inf`, `-Inf`, `NaN`). */
function parseValue(text: string): number | undefined {
  if (/^[+-]?inf$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** Reads `{a="b",...}` starting at `text[0] === '{'`; returns the labels and the rest after `}`. */
function parseLabels(
  text: string,
  fail: (message: string) => never,
): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  const skipSpaces = (): void => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  for (;;) {
    skipSpaces();
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (nameMatch === null) fail('bad label name');
    const name = nameMatch[0];
    if (name.startsWith('__')) fail(`reserved label name ${name}`);
    if (Object.hasOwn(labels, name)) fail(`duplicate label ${name}`);
    i += name.length;
    skipSpaces();
    if (text[i] !== '=') fail(`expected = after label ${name}`);
    i++;
    skipSpaces();
    if (text[i] !== '"') fail(`label ${name}: value must be quoted`);
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) fail(`label ${name}: unterminated value`);
      if (c === '"') break;
      if (c === '\n') fail(`label ${name}: raw newline in value`);
      if (c === '\\') {
        const e = text[i + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else fail(`label ${name}: invalid escape \\${e ?? ''}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    labels[name] = value;
    skipSpaces();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    fail(`expected , or } after label ${name}`);
  }
}

/** HELP text escapes: `\\` and `\n` only. */
function unescapeHelp(text: string, fail: (message: string) => never): string {
  return text.replace(/\\(.?)/g, (_, e: string) => {
    if (e === '\\') return '\\';
    if (e === 'n') return '\n';
    return fail(`invalid escape \\${e} in HELP`);
  });
}

/** The family a sample name belongs to, given the families declared so far. */
function familyOf(sampleName: string, families: Map<string, MetricFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const type = families.get(base)?.type;
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return sampleName;
}

function checkSampleName(family: MetricFamily, sample: Sample, fail: (message: string) => never): void {
  const suffix = sample.name.slice(family.name.length);
  const has = (label: string): boolean => Object.hasOwn(sample.labels, label);
  switch (family.type ?? 'untyped') {
    case 'histogram':
      if (suffix === '_bucket') {
        if (!has('le')) fail('histogram bucket without le');
      } else if (suffix === '_sum' || suffix === '_count') {
        if (has('le')) fail('le label on a histogram _sum/_count');
      } else fail(`sample ${sample.name} does not belong to histogram ${family.name}`);
      return;
    case 'summary':
      if (suffix === '' && !has('quantile')) fail('summary sample without quantile');
      if (suffix !== '' && has('quantile')) fail('quantile label on a summary _sum/_count');
      return;
    default:
      if (suffix !== '') fail(`sample ${sample.name} does not belong to ${family.name}`);
  }
}

/** Key of a label set without some labels (for grouping histogram series). */
function seriesKey(labels: Readonly<Record<string, string>>, without: string[] = []): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => !without.includes(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

function checkHistogram(family: MetricFamily): string | undefined {
  const groups = new Map<string, { buckets: Sample[]; sum?: number; count?: number }>();
  for (const s of family.samples) {
    const key = seriesKey(s.labels, ['le']);
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith('_bucket')) g.buckets.push(s);
    else if (s.name.endsWith('_sum')) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [key, g] of groups) {
    const where = `histogram ${family.name}${key}`;
    if (g.count === undefined || g.sum === undefined) return `${where}: _sum or _count missing`;
    let lastLe = -Infinity;
    let lastCount = 0;
    for (const b of g.buckets) {
      const le = parseValue(b.labels['le'] ?? '');
      if (le === undefined || Number.isNaN(le)) return `${where}: bad le ${b.labels['le']}`;
      if (le <= lastLe) return `${where}: le values not increasing at ${b.labels['le']}`;
      if (b.value < lastCount) return `${where}: bucket le=${b.labels['le']} below the previous bucket`;
      lastLe = le;
      lastCount = b.value;
    }
    const inf = g.buckets.at(-1);
    if (inf === undefined || parseValue(inf.labels['le'] ?? '') !== Infinity)
      return `${where}: no +Inf bucket`;
    if (inf.value !== g.count) return `${where}: +Inf bucket ${inf.value} != _count ${g.count}`;
  }
  return undefined;
}

function parseSample(line: string, fail: (message: string) => never): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (nameMatch === null) fail('bad metric name');
  const name = nameMatch[0];
  let rest = line.slice(name.length);
  let labels: Record<string, string> = {};
  if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, fail));
  if (!/^[ \t]/.test(rest)) fail('expected a blank before the value');
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length > 2) fail('trailing text after the timestamp');
  const value = parseValue(fields[0] ?? '');
  if (value === undefined) fail(`bad value ${fields[0]}`);
  if (fields[1] === undefined) return { name, labels, value };
  if (!/^-?\d+$/.test(fields[1])) fail(`bad timestamp ${fields[1]}`);
  return { name, labels, value, timestampMs: Number(fields[1]) };
}

/** Parses a whole exposition; throws `PromParseError` on the first problem. Families keyed by name. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  else if (text !== '') throw new PromParseError(lines.length, 'the exposition must end with a newline', '');
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, help: undefined, type: undefined, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const enter = (name: string, fail: (message: string) => never): void => {
    if (current === name) return;
    if (closed.has(name)) fail(`metric family ${name} is not contiguous`);
    if (current !== undefined) closed.add(current);
    current = name;
  };

  lines.forEach((line, i) => {
    const fail = (message: string): never => {
      throw new PromParseError(i + 1, message, line);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (m === null) return; // a comment
      const [, keyword, name = '', rest = ''] = m;
      if (!METRIC_NAME.test(name)) fail(`bad metric name ${name}`);
      enter(name, fail);
      const f = family(name);
      if (keyword === 'HELP') {
        if (f.help !== undefined) fail(`second HELP for ${name}`);
        f.help = unescapeHelp(rest, fail);
      } else {
        if (f.type !== undefined) fail(`second TYPE for ${name}`);
        if (f.samples.length > 0) fail(`TYPE for ${name} after its samples`);
        if (!TYPES.includes(rest.trim() as MetricType)) fail(`unknown type ${rest}`);
        f.type = rest.trim() as MetricType;
      }
      return;
    }
    const sample = parseSample(line, fail);
    for (const name of Object.keys(sample.labels)) if (!LABEL_NAME.test(name)) fail(`bad label ${name}`);
    const name = familyOf(sample.name, families);
    enter(name, fail);
    const f = family(name);
    checkSampleName(f, sample, fail);
    const key = `${sample.name}${seriesKey(sample.labels)}`;
    if (seen.has(key)) fail(`duplicate series ${key}`);
    seen.add(key);
    f.samples.push(sample);
  });

  for (const f of families.values()) {
    if (f.type !== 'histogram') continue;
    const problem = checkHistogram(f);
    if (problem !== undefined) throw new PromParseError(0, problem, '');
  }
  return families;
}

/** Sum of the samples named `sampleName` (default: the family name) whose labels include `labels`. */
export function sampleSum(
  families: Map<string, MetricFamily>,
  family: string,
  labels: Record<string, string> = {},
  sampleName = family,
): number {
  const f = families.get(family);
  if (f === undefined) return 0;
  return f.samples
    .filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
