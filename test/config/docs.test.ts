import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envKeys, loadConfig } from '../../pbx/config/index.js';
import { yamlFile } from './helpers.js';

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

describe('docs/configuration.md', () => {
  it('names every environment variable', () => {
    const missing = [...envKeys.keys()].filter((name) => !doc.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('documents every key path', () => {
    const paths = [...envKeys.values()].map((k) => k.path.join('.'));
    const sections = new Set(paths.filter((p) => paths.some((q) => q.startsWith(`${p}.`))));
    const missing = paths
      .filter((path) => !sections.has(path))
      .filter((path) => !doc.includes(`\`${path}\``) && !doc.includes(`\`${path}[]`));
    expect(missing).toEqual([]);
  });

  it('has an example that loads', () => {
    const example = /## Example[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const cfg = loadConfig({ file: yamlFile(example ?? ''), env: {} });
    expect(cfg.registry.backend).toBe('redis');
    expect(cfg.routing.routes).toHaveLength(2);
  });
});
