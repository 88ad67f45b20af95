import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PbxError } from '../../pbx/core/errors.js';
import { authenticate, bearerToken, loadTokens } from '../../pbx/http/auth.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sippbx-auth-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<PbxError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PbxError);
  return err as PbxError;
}

describe('bearerToken', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Bearer    ', undefined],
    ['Basic dXNlcjpwYXNz', undefined],
    ['Bearertoken', undefined],
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER\tabc  ', 'abc'],
    ['Bearer a.b-c_d~e+f/g==', 'a.b-c_d~e+f/g=='],
  ])('%j -> %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('authenticate', () => {
  it('grants the role of the matching token, case-insensitive scheme', async () => {
    const store = await loadTokens([
      { token: 'reader-secret', role: 'read' },
      { token: 'admin-secret', role: 'admin' },
    ]);
    expect(store.size).toBe(2);
    expect(store.authenticate('Bearer reader-secret')).toBe('read');
    expect(store.authenticate('bearer admin-secret')).toBe('admin');
    expect(store.authenticate('BEARER admin-secret')).toBe('admin');
  });

  it('refuses wrong tokens of the same and of a different length, and missing headers', async () => {
    const store = await loadTokens([{ token: 'admin-secret', role: 'admin' }]);
    expect(store.authenticate('Bearer admin-secreT')).toBeUndefined();
    expect(store.authenticate('Bearer admin-secre')).toBeUndefined();
    expect(store.authenticate('Bearer admin-secret-and-more')).toBeUndefined();
    expect(store.authenticate('Bearer ')).toBeUndefined();
    expect(store.authenticate(undefined)).toBeUndefined();
    expect(store.authenticate('admin-secret')).toBeUndefined();
  });

  it('refuses everything when no tokens are configured', async () => {
    const store = await loadTokens([]);
    expect(store.size).toBe(0);
    expect(store.authenticate('Bearer anything')).toBeUndefined();
    expect(authenticate('Bearer anything', [])).toBeUndefined();
  });

  it('accepts a token listed twice with the same role', async () => {
    const store = await loadTokens([
      { token: 't', role: 'read' },
      { token: 't', role: 'read' },
    ]);
    expect(store.authenticate('Bearer t')).toBe('read');
  });
});

describe('loadTokens', () => {
  it('reads tokenFile entries, trimmed', async () => {
    const file = join(dir, 'admin');
    writeFileSync(file, '  file-secret\n\n');
    const store = await loadTokens([{ tokenFile: file, role: 'admin' }]);
    expect(store.authenticate('Bearer file-secret')).toBe('admin');
    expect(store.authenticate('Bearer   file-secret\n')).toBe('admin');
  });

  it('fails on a missing file, naming the key and the file', async () => {
    const file = join(dir, 'missing');
    const err = await rejection(
      loadTokens([
        { token: 'x', role: 'read' },
        { tokenFile: file, role: 'read' },
      ]),
    );
    expect(err.code).toBe('PBX_ERR_CONFIG');
    expect(err.message).toBe(`http.auth.tokens[1].tokenFile: cannot read ${file} (ENOENT)`);
  });

  it('fails on an unreadable path (a directory)', async () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    const err = await rejection(loadTokens([{ tokenFile: sub, role: 'read' }], 'tokens'));
    expect(err.message).toBe(`tokens[0].tokenFile: cannot read ${sub} (EISDIR)`);
  });

  it('fails on an empty (whitespace-only) file', async () => {
    const file = join(dir, 'empty');
    writeFileSync(file, ' \n\t\n');
    const err = await rejection(loadTokens([{ tokenFile: file, role: 'admin' }]));
    expect(err.code).toBe('PBX_ERR_CONFIG');
    expect(err.message).toBe(`http.auth.tokens[0].tokenFile: ${file} is empty`);
  });

  it('fails on a whitespace-only inline token', async () => {
    const err = await rejection(loadTokens([{ token: '   ', role: 'read' }]));
    expect(err.message).toBe('http.auth.tokens[0].token: must not be empty');
  });

  it('fails when the same token has two roles, without revealing it', async () => {
    const file = join(dir, 'shared');
    writeFileSync(file, 'shared-secret\n');
    const err = await rejection(
      loadTokens([
        { token: 'other', role: 'read' },
        { token: 'shared-secret', role: 'read' },
        { tokenFile: file, role: 'admin' },
      ]),
    );
    expect(err.message).toBe(
      'http.auth.tokens[2]: the same token as http.auth.tokens[1] with another role (admin)',
    );
    expect(err.message).not.toContain('shared-secret');
  });
});

describe('TokenStore.reload', () => {
  it('re-reads token files and keeps inline tokens', async () => {
    const file = join(dir, 'rotating');
    writeFileSync(file, 'first\n');
    const store = await loadTokens([
      { token: 'inline', role: 'read' },
      { tokenFile: file, role: 'admin' },
    ]);
    expect(store.authenticate('Bearer first')).toBe('admin');
    writeFileSync(file, 'second\n');
    expect(store.authenticate('Bearer second')).toBeUndefined();
    await store.reload();
    expect(store.authenticate('Bearer first')).toBeUndefined();
    expect(store.authenticate('Bearer second')).toBe('admin');
    expect(store.authenticate('Bearer inline')).toBe('read');
    expect(store.size).toBe(2);
  });

  it('keeps the previous tokens in force when a reload fails', async () => {
    const file = join(dir, 'rotating');
    writeFileSync(file, 'first\n');
    const store = await loadTokens([{ tokenFile: file, role: 'admin' }]);
    rmSync(file);
    const err = await rejection(store.reload());
    expect(err.message).toContain(file);
    expect(store.authenticate('Bearer first')).toBe('admin');
    writeFileSync(file, '');
    await rejection(store.reload());
    expect(store.authenticate('Bearer first')).toBe('admin');
  });
});
