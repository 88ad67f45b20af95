/**
 * The layer rule of eslint.config.js (tools/eslint/layers.js) rejects a wrong-way import and allows the
 * ARCHITECTURE.md direction; and the real tree passes it (eslint . in make test runs the same rule).
 */
import { join } from 'node:path';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { layerViolation, layersPlugin } from '../../tools/eslint/layers.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Lints `code` as if it were the file at `path` (repo-relative), with only the layer rule on. */
function lint(path: string, code: string): string[] {
  const linter = new Linter({ configType: 'flat' });
  const messages = linter.verify(
    code,
    [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { layers: layersPlugin(ROOT) },
        rules: { 'layers/direction': 'error' },
      },
    ],
    { filename: join(ROOT, path) },
  );
  return messages.map((m) => m.message);
}

describe('layers/direction', () => {
  it.each([
    [
      'pbx/sip/bad.ts',
      "import { createB2bua } from '../b2bua/index.js';",
      'pbx/sip may import core; not pbx/b2bua',
    ],
    ['pbx/stack/bad.ts', "import type { PbxMetrics } from '../http/metrics.js';", 'not pbx/http'],
    ['pbx/b2bua/bad.ts', "import type { TransactionUser } from '../stack/index.js';", 'not pbx/stack'],
    ['pbx/http/bad.ts', "import type { CallView } from '../b2bua/call.js';", 'not pbx/b2bua'],
    [
      'pbx/media/relay/bad.ts',
      "import { Call } from '../../b2bua/call.js';",
      'pbx/media may import core; not pbx/b2bua',
    ],
    ['pbx/transaction/bad.ts', "export { uasDialog } from '../dialog/index.js';", 'not pbx/dialog'],
    ['pbx/events/bad.ts', "const m = await import('../media/index.js');", 'not pbx/media'],
    ['operator/controller/bad.ts', "import { systemClock } from '../../pbx/core/clock.js';", 'not pbx/core'],
    ['operator/bad.ts', "import { createB2bua } from '../pbx/b2bua/index.js';", 'not pbx/b2bua'],
  ])('rejects %s: %s', (path, code, why) => {
    const messages = lint(path, code);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(why);
  });

  it.each([
    ['pbx/b2bua/ok.ts', "import { uasDialog } from '../dialog/index.js';"],
    ['pbx/dialog/ok.ts', "import type { ServerTransaction } from '../transaction/index.js';"],
    ['pbx/media/relay/ok.ts', "import { createPortPool } from '../ports/index.js';"],
    ['pbx/app.ts', "import { createB2bua } from './b2bua/b2bua.js';"],
    ['pbx/sip/ok.ts', "import { PbxError } from '../core/errors.js';"],
    ['operator/controller/ok.ts', "import type { Clock } from '../../pbx/core/clock.js';"],
    ['operator/api/ok.ts', "import { pbxConfigSchema } from '../../pbx/config/index.js';"],
    ['test/anything.ts', "import { createB2bua } from '../pbx/b2bua/index.js';"],
    ['pbx/http/ok.ts', "import { z } from 'zod';"],
  ])('allows %s: %s', (path, code) => {
    expect(lint(path, code)).toEqual([]);
  });

  it('names a pbx folder missing from its table', () => {
    expect(layerViolation(ROOT, join(ROOT, 'pbx/newlayer/x.ts'), '../sip/index.js')).toContain(
      'not in the layer table',
    );
  });
});
