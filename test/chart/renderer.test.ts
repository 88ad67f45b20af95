// tools/chart-render renders the way `helm template --include-crds` does for the features our charts
// use: a fixture chart pins helm's semantics (value typing and merging, include, missing keys, kind
// order, CRDs first, empty documents dropped, NOTES.txt not emitted, tpl/lookup refused).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, buildRenderer, renderChart, renderObjects, renderScript } from './render.js';

const run = promisify(execFile);

const fixture: Record<string, string> = {
  'Chart.yaml': 'apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: "9.9"\nkubeVersion: ">=1.27.0-0"\n',
  'values.yaml': [
    'replicas: 3',
    'big: 1000000',
    'name: base',
    'nested: { keep: a, drop: b, deep: { x: 1 } }',
    'list: [1, 2]',
    'enabled: false',
    '',
  ].join('\n'),
  'files/hello.txt': 'hello\n',
  'templates/_helpers.tpl': '{{- define "demo.label" -}}\napp: {{ .Chart.Name }}\n{{- end }}\n',
  'templates/NOTES.txt': 'notes for {{ .Release.Name }}\n',
  'templates/a.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-a
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "demo.label" . | nindent 4 }}
data:
  replicas: {{ .Values.replicas | quote }}
  big: {{ .Values.big | quote }}
  name: {{ .Values.name | quote }}
  nested: {{ .Values.nested | toJson | quote }}
  list: {{ .Values.list | toJson | quote }}
  chart: {{ printf "%s-%s-%s" .Chart.Name .Chart.Version .Chart.AppVersion | quote }}
  service: {{ .Release.Service | quote }}
  missing: "{{ .Values.nope }}"
  hasMon: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
  template: {{ .Template.Name | quote }}
  file: {{ .Files.Get "files/hello.txt" | trim | quote }}
  yaml: |
    {{- toYaml .Values.nested | nindent 4 }}
  {{- if .Values.requireIt }}
  must: {{ required "must is required" .Values.must }}
  {{- end }}
  {{- if .Values.useTpl }}
  tpl: {{ tpl "{{ .Release.Name }}" . }}
  {{- end }}
---
# only a comment
---
{{- if .Values.enabled }}
apiVersion: v1
kind: Secret
metadata: { name: s }
{{- end }}
`,
  'templates/z-sa.yaml': 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n',
  'templates/widget.yaml': 'apiVersion: example.dev/v1\nkind: Widget\nmetadata:\n  name: w\n',
  'crds/widget.yaml': [
    'apiVersion: apiextensions.k8s.io/v1',
    'kind: CustomResourceDefinition',
    'metadata:',
    '  name: widgets.example.dev',
    '',
  ].join('\n'),
};

let dir: string;
let chart: string;
beforeAll(async () => {
  await buildRenderer(); // cold build ~10 s, then cached by source hash
  dir = await mkdtemp(join(tmpdir(), 'chart-render-'));
  chart = join(dir, 'demo');
  for (const [name, content] of Object.entries(fixture)) {
    await mkdir(dirname(join(chart, name)), { recursive: true });
    await writeFile(join(chart, name), content);
  }
  await writeFile(
    join(dir, 'override.yaml'),
    'name: file\nlist: [3]\nnested: { drop: null, deep: { z: 2 } }\n',
  );
}, BUILD_TIMEOUT_MS);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const configMap = (objects: Awaited<ReturnType<typeof renderObjects>>) => {
  const cm = objects.find((o) => o.kind === 'ConfigMap');
  if (cm === undefined) throw new Error('no ConfigMap rendered');
  return cm as typeof cm & { data: Record<string, string> };
};

describe('chart-render', () => {
  it('renders CRDs first, then kinds in helm install order; drops empty and comment-only documents', async () => {
    const out = await renderChart(chart);
    expect(out.startsWith('---\n# Source: demo/crds/widget.yaml\n')).toBe(true);
    const objects = await renderObjects(chart);
    expect(objects.map((o) => o.kind)).toEqual([
      'CustomResourceDefinition',
      'ServiceAccount',
      'ConfigMap',
      'Widget',
    ]);
    expect(out).not.toContain('notes for');
    expect(out).not.toContain('only a comment');
  });

  it('gives templates helm top-level objects and types values as helm does', async () => {
    const cm = configMap(await renderObjects(chart));
    expect(cm.metadata).toEqual({ name: 'release-name-a', namespace: 'default', labels: { app: 'demo' } });
    expect(cm.data).toMatchObject({
      replicas: '3',
      big: '1e+06', // numbers from YAML are float64 in helm too
      name: 'base',
      nested: '{"deep":{"x":1},"drop":"b","keep":"a"}',
      list: '[1,2]',
      chart: 'demo-1.2.3-9.9',
      service: 'Helm',
      missing: '',
      hasMon: 'false',
      template: 'demo/templates/a.yaml',
      file: 'hello',
      yaml: 'deep:\n  x: 1\ndrop: b\nkeep: a\n',
    });
  });

  it('layers --values files and --set over the defaults (null deletes, maps merge, lists replace)', async () => {
    const args = ['--values', join(dir, 'override.yaml'), '--set', 'name=set,replicas=5,enabled=true'];
    args.push('--set', 'nested.keep=007', '--api-versions', 'monitoring.coreos.com/v1');
    args.push('--namespace', 'ns1', '--release', 'r1');
    const objects = await renderObjects(chart, ...args);
    const cm = configMap(objects);
    expect(cm.metadata.name).toBe('r1-a');
    expect(cm.metadata.namespace).toBe('ns1');
    expect(cm.data).toMatchObject({
      replicas: '5',
      name: 'set',
      list: '[3]',
      nested: '{"deep":{"x":1,"z":2},"keep":"007"}',
      hasMon: 'true',
    });
    expect(objects.map((o) => o.kind)).toContain('Secret');
  });

  it('fails on required values and on kubeVersion, and refuses tpl', async () => {
    await expect(renderChart(chart, '--set', 'requireIt=true')).rejects.toThrow(/must is required/);
    expect(await renderChart(chart, '--set', 'requireIt=true,must=x')).toContain('must: x');
    await expect(renderChart(chart, '--set', 'useTpl=true')).rejects.toThrow(/tpl is not supported/);
    await expect(renderChart(chart, '--kube-version', 'v1.26.3')).rejects.toThrow(/requires kubeVersion/);
  });

  it('skips CRDs on request and prints NOTES.txt only with --notes', async () => {
    expect(await renderChart(chart, '--skip-crds')).not.toContain('CustomResourceDefinition');
    expect(await renderChart(chart, '--notes')).toContain('NOTES:\nnotes for release-name');
  });

  it('names the missing Debian package when go or the sprig sources are absent', async () => {
    const bare = { PATH: join(dir, 'no-such-bin'), HOME: dir };
    await expect(run('/bin/bash', [renderScript, '--build-only'], { env: bare })).rejects.toThrow(
      /install the Debian package golang-go/,
    );
    const noSprig = { ...process.env, CHART_RENDER_GOPATH: join(dir, 'empty-gopath') };
    await expect(run('bash', [renderScript, '--build-only'], { env: noSprig })).rejects.toThrow(
      /install the Debian package golang-github-masterminds-sprig-dev/,
    );
  });
});
