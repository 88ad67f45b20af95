import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../pbx/config/index.js';

describe('examples/pbx.yaml', () => {
  it('is a valid configuration', () => {
    const cfg = loadConfig({ file: new URL('../../examples/pbx.yaml', import.meta.url).pathname, env: {} });
    expect(cfg.routing.routes[0]?.target).toBe('sip:127.0.0.1:5070');
    expect(cfg.events.webhooks).toEqual([]);
  });
});
