/**
 * Golden tests over testdata/sdp (README.md there says where each body comes from): every corpus SDP is rewritten
 * for the relay and compared line by line with the input. Only the bypass-mode fields may differ — c= address and
 * addrtype, m= port, a=rtcp port/address, o= version/addrtype/address — ICE lines must be gone, and every other line
 * must be identical byte for byte, line ending included.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ICE_ATTRIBUTES, describeSdp, rewriteSdp } from '../../pbx/media/sdp/index.js';
import type { RewritePlan, SdpDescription } from '../../pbx/media/sdp/index.js';

const DIR = new URL('../../testdata/sdp/', import.meta.url);
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.sdp'))
  .sort();
const VERSION = 7;

interface Line {
  text: string;
  eol: string;
}

/** An independent splitter (not the module's): lines with their own endings. */
function lines(body: Buffer): Line[] {
  const parts = body.toString('latin1').split(/(\r\n|\n)/);
  const out: Line[] = [];
  for (let i = 0; i < parts.length; i += 2) out.push({ text: parts[i] ?? '', eol: parts[i + 1] ?? '' });
  if (out.at(-1)?.text === '' && out.at(-1)?.eol === '') out.pop();
  return out;
}

function isIce(text: string): boolean {
  const m = /^a=([^:\s]+)/.exec(text);
  return m?.[1] !== undefined && ICE_ATTRIBUTES.has(m[1]);
}

/** Indexes of the whitespace-separated fields that differ; the separators themselves must be identical. */
function changedFields(before: string, after: string): number[] {
  const a = before.split(/([ \t]+)/);
  const b = after.split(/([ \t]+)/);
  expect(b.length, `field count of ${JSON.stringify(after)}`).toBe(a.length);
  const changed: number[] = [];
  a.forEach((part, i) => {
    if (i % 2 === 1) expect(b[i], 'separator').toBe(part);
    else if (b[i] !== part) changed.push(i / 2);
  });
  return changed;
}

function relayFor(d: SdpDescription): { address: string; addrType: string } {
  const v6 = d.connection?.addrType === 'IP6' || d.media.some((m) => m.family === 'IP6');
  return v6 ? { address: '2001:db8::7', addrType: 'IP6' } : { address: '203.0.113.7', addrType: 'IP4' };
}

function planFor(d: SdpDescription, address: string, stripIce = true): RewritePlan {
  return {
    address,
    // Rejected streams get ports too: they must stay at port 0 regardless.
    mediaPorts: d.media.map((_, i) => ({ rtpPort: 40000 + 4 * i, rtcpPort: 40001 + 4 * i })),
    session: { version: VERSION },
    stripIce,
  };
}

/** Checks that `after` differs from `before` only in the fields bypass mode may change. */
function checkAllowedChange(
  before: string,
  after: string,
  relay: { address: string; addrType: string },
  section: number,
) {
  const type = before.slice(0, 2);
  if (before.startsWith('a=rtcp:')) {
    const changed = changedFields(before.slice('a=rtcp:'.length), after.slice('a=rtcp:'.length));
    expect(changed.every((i) => i === 0 || i === 2 || i === 3)).toBe(true);
    const fields = after
      .slice('a=rtcp:'.length)
      .trim()
      .split(/[ \t]+/);
    expect(fields[0]).toBe(String(40001 + 4 * section));
    if (fields.length === 4) expect(fields.slice(2)).toEqual([relay.addrType, relay.address]);
    return;
  }
  const changed = changedFields(before, after);
  const fields = after
    .slice(2)
    .trim()
    .split(/[ \t]+/);
  switch (type) {
    case 'o=':
      expect(changed.every((i) => i === 2 || i === 4 || i === 5)).toBe(true);
      expect([fields[2], fields[4], fields[5]]).toEqual([String(VERSION), relay.addrType, relay.address]);
      return;
    case 'c=':
      expect(changed.every((i) => i === 1 || i === 2)).toBe(true);
      expect([fields[1], fields[2]]).toEqual([relay.addrType, relay.address]);
      return;
    case 'm=':
      expect(changed).toEqual([1]);
      expect(fields[1]?.split('/')[0]).toBe(String(40000 + 4 * section));
      return;
    default:
      expect.fail(`line may not change: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  }
}

describe('SDP golden corpus', () => {
  it('has at least 24 real-world SDPs', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(24);
  });

  describe.each(FILES)('%s', (file) => {
    const body = readFileSync(new URL(file, DIR));
    const before = describeSdp(body);
    const relay = relayFor(before);
    const out = rewriteSdp(body, planFor(before, relay.address));

    it('changes only the allowed fields, drops ICE lines, keeps every other byte and line ending', () => {
      const input = lines(body);
      const output = lines(out);
      let o = 0;
      let section = -1;
      for (const line of input) {
        if (line.text.startsWith('m=')) section++;
        if (isIce(line.text)) continue;
        const got = output[o++];
        expect(got, `output ends before ${JSON.stringify(line.text)}`).toBeDefined();
        if (!got) return;
        expect(got.eol, `line ending of ${JSON.stringify(line.text)}`).toBe(line.eol);
        if (got.text !== line.text) checkAllowedChange(line.text, got.text, relay, section);
      }
      expect(o, 'extra output lines').toBe(output.length);
    });

    it('points every live stream at the relay (hold addresses kept), rejected ones stay at port 0', () => {
      const after = describeSdp(out);
      expect(after.media).toHaveLength(before.media.length);
      after.media.forEach((m, i) => {
        const was = before.media[i];
        if (was?.rejected) {
          expect(m.port).toBe(0);
          return;
        }
        expect(m.port).toBe(40000 + 4 * i);
        const heldByZero = was?.connection?.address === '0.0.0.0' && !was.ice;
        expect(m.connection?.address).toBe(heldByZero ? '0.0.0.0' : relay.address);
        if (m.rtcp) expect(m.rtcp.port).toBe(40001 + 4 * i);
        expect(m.ice).toBe(false);
        expect(m.direction).toBe(was?.direction);
        expect(m.codecs).toEqual(was?.codecs);
        expect(m.onHold).toBe(was?.onHold);
      });
      if (before.origin) {
        expect(after.origin).toMatchObject({ sessionVersion: String(VERSION), address: relay.address });
      }
    });

    it('is deterministic, and keeps ICE lines when asked to', () => {
      expect(rewriteSdp(body, planFor(before, relay.address)).equals(out)).toBe(true);
      const kept = rewriteSdp(body, planFor(before, relay.address, false));
      expect(lines(kept).map((l) => l.eol)).toEqual(lines(body).map((l) => l.eol));
    });
  });
});
