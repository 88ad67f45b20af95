import { describe, expect, it } from 'vitest';
import { DEFAULT_SCANNER_USER_AGENTS } from '../../pbx/config/index.js';
import {
  createScannerFilter,
  MAX_USER_AGENT_INSPECTED,
  ProtectConfigError,
} from '../../pbx/protect/index.js';

describe('createScannerFilter with the default patterns', () => {
  const filter = createScannerFilter(DEFAULT_SCANNER_USER_AGENTS);
  it.each([
    ['friendly-scanner', true],
    ['Friendly-Scanner', true],
    ['sipvicious 0.3.4', true],
    ['SIPVicious', true],
    ['sipcli/v1.8', true],
    ['VaxSIPUserAgent/3.1', true],
    ['sundayddr', true],
    ['IWAR', true],
    ['sip-scan', true],
    ['sipscan', true],
    ['pplsip', true],
    ['Linphone/5.2.0 (belle-sip/5.2.0)', false],
    ['Zoiper rv2.10.20.2', false],
    ['Asterisk PBX 20.5.0', false],
    ['sipp', false],
    ['', false],
    [undefined, false],
  ])('%j -> %s', (userAgent, expected) => {
    expect(filter.isScanner(userAgent)).toBe(expected);
  });
});

describe('createScannerFilter', () => {
  it('matches nothing with an empty list', () => {
    expect(createScannerFilter([]).isScanner('friendly-scanner')).toBe(false);
  });

  it('matches case-insensitively, patterns as regexes', () => {
    const filter = createScannerFilter(['^evil/\\d+$', 'bad ?bot']);
    expect(filter.isScanner('EVIL/42')).toBe(true);
    expect(filter.isScanner('evil/42x')).toBe(false);
    expect(filter.isScanner('a BADBOT b')).toBe(true);
  });

  it('inspects only the first MAX_USER_AGENT_INSPECTED characters of a long header', () => {
    const filter = createScannerFilter(['sipvicious', 'x$']);
    const padding = 'a'.repeat(MAX_USER_AGENT_INSPECTED);
    expect(MAX_USER_AGENT_INSPECTED).toBe(256);
    expect(filter.isScanner(`sipvicious${'a'.repeat(1_000_000)}`)).toBe(true);
    expect(filter.isScanner(`${padding}sipvicious`)).toBe(false);
    expect(filter.isScanner(`${'a'.repeat(MAX_USER_AGENT_INSPECTED - 10)}sipvicious`)).toBe(true);
    expect(filter.isScanner(`${padding}x`)).toBe(false);
  });

  it('bounds the work a huge User-Agent costs', () => {
    const filter = createScannerFilter(['a*a*a*b']); // cubic backtracking on long runs of "a"
    const started = performance.now();
    expect(filter.isScanner('a'.repeat(5_000_000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it.each([
    ['invalid regex', ['ok', '(unclosed'], /scannerUserAgents\[1\]/],
    ['empty pattern', [''], /matches every User-Agent/],
    ['pattern matching the empty string', ['a*'], /matches every User-Agent/],
    ['alternation with an empty branch', ['sipvicious|'], /matches every User-Agent/],
  ])('rejects an %s', (_name, patterns, message) => {
    expect(() => createScannerFilter(patterns)).toThrow(ProtectConfigError);
    expect(() => createScannerFilter(patterns)).toThrow(message);
  });
});
