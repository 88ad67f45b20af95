import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('docs/errors.md', () => {
  it('lists every PBX_ERR_ code raised under pbx/ and operator/', () => {
    const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const codes = new Set<string>();
    for (const dir of ['pbx', 'operator'].filter((d) => existsSync(join(root, d)))) {
      for (const file of sources(join(root, dir))) {
        for (const m of readFileSync(file, 'utf8').matchAll(/PBX_ERR_[A-Z0-9_]+/g)) codes.add(m[0]);
      }
    }
    expect(codes.size).toBeGreaterThan(10);
    const missing = [...codes].filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });
});
