import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../pbx/config/index.js';

function planFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'plan-')), 'plan.yaml');
  writeFileSync(file, text);
  return file;
}

describe('operator port plan (SIPPBX_PORT_PLAN_FILE + POD_NAME)', () => {
  const plan = planFile('pbx-0: { start: 10000, end: 18000 }\npbx-1: { start: 18000, end: 26000 }\n');

  it('gives each pod its own media port range', () => {
    const cfg = loadConfig({ env: { SIPPBX_PORT_PLAN_FILE: plan, POD_NAME: 'pbx-1' } });
    expect(cfg.media.portRange).toEqual({ start: 18000, end: 26000 });
  });

  it('overrides a range from the file and the environment', () => {
    const cfg = loadConfig({
      env: { SIPPBX_PORT_PLAN_FILE: plan, POD_NAME: 'pbx-0', SIPPBX_MEDIA_PORT_RANGE_START: '30000' },
    });
    expect(cfg.media.portRange).toEqual({ start: 10000, end: 18000 });
  });

  it.each([
    [{ SIPPBX_PORT_PLAN_FILE: plan }, /POD_NAME is not/],
    [{ SIPPBX_PORT_PLAN_FILE: plan, POD_NAME: 'pbx-7' }, /no entry for pod pbx-7/],
    [{ SIPPBX_PORT_PLAN_FILE: '/nonexistent/plan.yaml', POD_NAME: 'pbx-0' }, /cannot read port plan/],
    [{ SIPPBX_PORT_PLAN_FILE: planFile('- 1\n- 2\n'), POD_NAME: 'pbx-0' }, /not a map/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });
});
