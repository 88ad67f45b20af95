/**
 * RFC 4475 (SIP Torture Test Messages): every message of the RFC, byte-exact from its Appendix A archive, run
 * through the parser and validator. What each message must do is in testdata/torture/manifest.json, with the
 * RFC's wording in each entry's note.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  SipParseError,
  header,
  headerCount,
  parseMessage,
  serialize,
  validateRequest,
  validateResponse,
} from '../../pbx/sip/index.js';
import type { SipMessage } from '../../pbx/sip/index.js';

type Check =
  | { header: string; equals: string }
  | { method: string }
  | { headerCount: [string, number] }
  | { bodyLength: number };

type Expect =
  | { parse: 'ok'; checks?: Check[] }
  | { accept: true }
  | { parse: 'error' }
  | { reject: number }
  | { discard: true };

interface Entry {
  file: string;
  section: string;
  expect: Expect;
  note: string;
}

const ROOT = new URL('../../testdata/torture/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', ROOT), 'utf8')) as { entries: Entry[] };
const entries = manifest.entries;

function load(file: string): Buffer {
  return readFileSync(new URL(file, ROOT));
}

function isAcceptable(exp: Expect): boolean {
  return ('parse' in exp && exp.parse === 'ok') || 'accept' in exp;
}

function validate(msg: SipMessage): unknown {
  return msg.type === 'request' ? validateRequest(msg) : validateResponse(msg);
}

/** The parts of a message that must survive serialize → parse. */
function essence(msg: SipMessage) {
  return {
    start:
      msg.type === 'request' ? [msg.method, msg.uri, msg.version] : [msg.version, msg.status, msg.reason],
    headers: msg.headers.map((h) => [h.key, h.value]),
    body: msg.body.toString('latin1'),
  };
}

function applyCheck(msg: SipMessage, check: Check): void {
  if ('header' in check) {
    expect(header(msg, check.header), `header ${check.header}`).toBe(check.equals);
  } else if ('method' in check) {
    expect(msg.type).toBe('request');
    if (msg.type === 'request') expect(msg.method).toBe(check.method);
  } else if ('headerCount' in check) {
    const [name, count] = check.headerCount;
    expect(headerCount(msg, name), `count of ${name}`).toBe(count);
  } else {
    expect(msg.body.length, 'body length').toBe(check.bodyLength);
  }
}

describe('RFC 4475 torture corpus', () => {
  it('lists every fixture file exactly once, valid/ ones as acceptable and invalid/ ones as not', () => {
    const onDisk = ['valid', 'invalid']
      .flatMap((dir) => readdirSync(new URL(`${dir}/`, ROOT)).map((f) => `${dir}/${f}`))
      .sort();
    const listed = entries.map((e) => e.file).sort();
    expect(listed).toEqual(onDisk);
    expect(new Set(listed).size).toBe(listed.length);
    for (const e of entries) expect(isAcceptable(e.expect), e.file).toBe(e.file.startsWith('valid/'));
    expect(entries.length).toBe(49);
  });

  it('keeps the wire format: CRLF line ends in every start line and header section', () => {
    for (const e of entries) {
      const text = load(e.file).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end < 0 ? text : text.slice(0, end + 4);
      expect(head.endsWith('\r\n'), e.file).toBe(true);
      expect(head.replace(/\r\n/g, '').includes('\n'), e.file).toBe(false);
    }
  });
});

describe.each(entries)('RFC 4475 §$section $file', (entry) => {
  const data = load(entry.file);
  const exp = entry.expect;

  if (isAcceptable(exp)) {
    it('parses, validates, and round-trips through serialize', () => {
      const msg = parseMessage(data);
      const verdict = validate(msg);
      expect(verdict, JSON.stringify(verdict)).toBeNull();
      if ('checks' in exp) for (const check of exp.checks ?? []) applyCheck(msg, check);
      const again = parseMessage(serialize(msg));
      expect(essence(again)).toEqual(essence(msg));
    });
  } else if ('parse' in exp) {
    it('is rejected by the parser with SipParseError', () => {
      let thrown: unknown;
      try {
        parseMessage(data);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, 'parseMessage must throw').toBeDefined();
      expect(thrown).toBeInstanceOf(SipParseError);
      if (thrown instanceof SipParseError) {
        expect(typeof thrown.code).toBe('string');
        expect(thrown.reason.length).toBeGreaterThan(0);
      }
    });
  } else if ('reject' in exp) {
    it(`parses, and the UAS must answer ${exp.reject}`, () => {
      const msg = parseMessage(data);
      expect(msg.type).toBe('request');
      if (msg.type !== 'request') return;
      const rejection = validateRequest(msg);
      expect(rejection?.status, JSON.stringify(rejection)).toBe(exp.reject);
      expect(rejection?.reason.length ?? 0).toBeGreaterThan(0);
    });
  } else {
    it('is dropped: unparseable, or a response that validateResponse refuses', () => {
      let msg: SipMessage;
      try {
        msg = parseMessage(data);
      } catch (err) {
        expect(err).toBeInstanceOf(SipParseError);
        return;
      }
      expect(msg.type).toBe('response');
      if (msg.type !== 'response') return;
      const refusal = validateResponse(msg);
      expect(refusal, 'validateResponse must refuse it').not.toBeNull();
      expect(refusal?.reason.length ?? 0).toBeGreaterThan(0);
    });
  }
});
