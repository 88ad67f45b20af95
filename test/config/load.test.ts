import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultConfig, loadConfig } from '../../pbx/config/index.js';
import { configError, yamlFile } from './helpers.js';

const fullYaml = new URL('./fixtures/full.yaml', import.meta.url).pathname;

describe('loadConfig: YAML file', () => {
  it('round-trips a file that sets every key', () => {
    const cfg = loadConfig({ file: fullYaml, env: {} });
    expect(cfg).toEqual(parse(readFileSync(fullYaml, 'utf8')));
    expect(Object.isFrozen(cfg.http.auth.tokens)).toBe(true);
  });

  it('fills the keys a file leaves out with defaults', () => {
    const cfg = loadConfig({
      file: yamlFile('sip:\n  port: 5070\nmedia:\n  portRange: { start: 14000 }\n'),
      env: {},
    });
    expect(cfg.sip).toEqual({ ...defaultConfig.sip, port: 5070 });
    expect(cfg.media.portRange).toEqual({ start: 14000, end: 20000 });
  });

  it('treats an empty file (or comments only) as all defaults', () => {
    expect(loadConfig({ file: yamlFile(''), env: {} })).toEqual(defaultConfig);
    expect(loadConfig({ file: yamlFile('# nothing\n'), env: {} })).toEqual(defaultConfig);
  });

  it('treats a section left empty (entries commented out) as defaults', () => {
    const cfg = loadConfig({ file: yamlFile('sip:\n  # port: 5070\nmedia:\n  portRange:\n'), env: {} });
    expect(cfg).toEqual(defaultConfig);
  });

  it('still rejects null for a key that is not a section', () => {
    const err = configError(() => loadConfig({ file: yamlFile('sip:\n  listen:\n'), env: {} }));
    expect(err.issues[0]).toMatchObject({ path: 'sip.listen', message: 'expected string (got null)' });
  });

  it('reads the file named by SIPPBX_CONFIG when no file is given', () => {
    const file = yamlFile('logging: { level: debug }\n');
    expect(loadConfig({ env: { SIPPBX_CONFIG: file } }).logging.level).toBe('debug');
    const other = yamlFile('logging: { level: error }\n');
    expect(loadConfig({ file: other, env: { SIPPBX_CONFIG: file } }).logging.level).toBe('error');
    expect(loadConfig({ env: { SIPPBX_CONFIG: '' } })).toEqual(defaultConfig);
  });

  it('reads process.env when no env is given', () => {
    expect(loadConfig().sip.port).toBeTypeOf('number');
  });

  it('reports a YAML syntax error with line and column', () => {
    const file = yamlFile('sip:\n  port: 5060\n  listen: [0.0.0.0\nmedia: {}\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.issues[0]?.message).toMatch(/^YAML syntax error at line \d+, column \d+: /);
    expect(err.issues[0]?.source).toMatch(new RegExp(`^${file}:\\d+:\\d+$`));
  });

  it('reports a duplicate key as a YAML error at its line', () => {
    const file = yamlFile('sip:\n  port: 5060\n  port: 5070\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.issues[0]?.message).toContain('at line 3, column 3');
    expect(err.issues[0]?.source).toBe(`${file}:3:3`);
  });

  it('reports a missing file', () => {
    const err = configError(() => loadConfig({ file: '/nonexistent/pbx.yaml', env: {} }));
    expect(err.message).toContain('(root): cannot read config file: ENOENT');
    expect(err.issues[0]?.source).toBe('/nonexistent/pbx.yaml');
  });

  it.each([
    ['- a\n- b\n', 'must be a mapping of sections (got a sequence)'],
    ['5060\n', 'must be a mapping of sections (got a scalar (5060))'],
  ])('rejects a document that is not a mapping: %j', (text, message) => {
    const err = configError(() => loadConfig({ file: yamlFile(text), env: {} }));
    expect(err.issues[0]).toMatchObject({ path: '(root)', message });
  });

  it('names the file, line and column of each invalid value', () => {
    const file = yamlFile(
      [
        'sip:',
        '  port: 5060',
        '  prot: 5070',
        'media:',
        '  portRange:',
        '    start: 10001',
        'routing:',
        '  routes:',
        '    - match: "^1"',
        '      target: "http://x"',
        '',
      ].join('\n'),
    );
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.issues).toEqual([
      { path: 'sip.prot', message: 'unknown key (did you mean port?)', source: `${file}:3:9` },
      { path: 'media.portRange.start', message: 'must be even (got 10001)', source: `${file}:6:12` },
      {
        path: 'routing.routes.0.target',
        message: 'must be a sip: or sips: URI (got "http://x")',
        source: `${file}:10:15`,
      },
    ]);
    expect(err.message).toContain(`media.portRange.start: must be even (got 10001) (from ${file}:6:12)`);
  });

  it('locates a problem in a key the file names without a value at its section', () => {
    const file = yamlFile('sip:\n  listen:\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.issues[0]).toMatchObject({ path: 'sip.listen', message: 'expected string (got null)' });
    expect(err.issues[0]?.source).toMatch(new RegExp(`^${file}:\\d+:\\d+$`));
  });

  it('expands YAML anchors and aliases', () => {
    const file = yamlFile('sip: { listen: &ip 192.0.2.1 }\nmedia: { listen: *ip }\nhttp: { listen: *ip }\n');
    const cfg = loadConfig({ file, env: {} });
    expect([cfg.sip.listen, cfg.media.listen, cfg.http.listen]).toEqual([
      '192.0.2.1',
      '192.0.2.1',
      '192.0.2.1',
    ]);
  });
});

describe('loadConfig: precedence file < overrides < env', () => {
  const file = yamlFile(
    'sip:\n  port: 5061\n  userAgent: from-file\nlogging: { level: warning }\nmetrics: { port: 9100 }\n',
  );

  it('applies each layer over the one below', () => {
    const cfg = loadConfig({
      file,
      overrides: { sip: { port: 5062 }, logging: { level: 'error' } },
      env: { SIPPBX_SIP_PORT: '5063' },
    });
    expect(cfg.sip.port).toBe(5063); // env beats overrides and file
    expect(cfg.logging.level).toBe('error'); // overrides beat file
    expect(cfg.sip.userAgent).toBe('from-file'); // deep merge keeps siblings
    expect(cfg.metrics.port).toBe(9100);
  });

  it('replaces lists instead of merging them', () => {
    const listFile = yamlFile(
      'routing:\n  routes:\n    - { match: "^1", target: "sip:a" }\n    - { match: "^2", target: "sip:b" }\n',
    );
    const cfg = loadConfig({
      file: listFile,
      overrides: { routing: { routes: [{ match: '^3', target: 'sip:c' }] } },
      env: {},
    });
    expect(cfg.routing.routes).toEqual([{ match: '^3', target: 'sip:c' }]);
  });

  it('ignores undefined overrides (unset CLI flags)', () => {
    expect(loadConfig({ file, overrides: { sip: { port: undefined } }, env: {} }).sip.port).toBe(5061);
  });

  it('names the layer each invalid value came from', () => {
    const err = configError(() =>
      loadConfig({
        file,
        overrides: { http: { port: 'x' } },
        env: { SIPPBX_LOGGING_LEVEL: 'loud' },
      }),
    );
    expect(err.issues.map((i) => [i.path, i.source])).toEqual([
      ['http.port', 'overrides'],
      ['logging.level', 'SIPPBX_LOGGING_LEVEL'],
    ]);
  });

  it('rejects overrides that are not an object', () => {
    const err = configError(() => loadConfig({ overrides: 'port=5060', env: {} }));
    expect(err.issues[0]).toMatchObject({ path: '(root)', source: 'overrides' });
  });
});
