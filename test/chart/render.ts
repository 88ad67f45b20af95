// Renders a chart with scripts/render-chart.sh (tools/chart-render: text/template + sprig from
// Debian's Go packages; no helm binary) and parses the YAML stream.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

/** The repository root. */
export const repoRoot = join(import.meta.dirname, '../..');
/** scripts/render-chart.sh. */
export const renderScript = join(repoRoot, 'scripts/render-chart.sh');
/** The operator chart. */
export const operatorChart = join(repoRoot, 'charts/sippbx-operator');

/** A rendered Kubernetes object (only the fields the tests read are typed). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** Builds the renderer (cached by source hash) and returns the binary's path. */
export async function buildRenderer(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout } = await run('bash', [renderScript, '--build-only'], { env });
  return stdout.trim();
}

/** Renders a chart; the arguments are render-chart.sh's flags. */
export async function renderChart(chart: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('bash', [renderScript, chart, ...args], { maxBuffer: 32 * 1024 * 1024 });
  return stdout;
}

/** Parses a multi-document YAML stream, failing on any YAML error. */
export function parseStream(stream: string): K8sObject[] {
  return parseAllDocuments(stream).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`YAML error: ${doc.errors.map(String).join('; ')}`);
    return doc.toJS() as K8sObject;
  });
}

/** Renders and parses. */
export async function renderObjects(chart: string, ...args: string[]): Promise<K8sObject[]> {
  return parseStream(await renderChart(chart, ...args));
}

/** "Kind/namespace/name" keys, for compact assertions. */
export function keys(objects: K8sObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
}

/** A cold build compiles the Go standard library too (~25 s); later builds are cached. */
export const BUILD_TIMEOUT_MS = 180_000;
