// Temp-file helpers shared by the config tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { ConfigError } from '../../pbx/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sippbx-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Writes `text` to a fresh file in a temp dir and returns its path. */
export function yamlFile(text: string): string {
  const file = join(dir, `pbx-${++n}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Runs `fn`, expects a ConfigError and returns it. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
