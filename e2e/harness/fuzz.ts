// Seeded generator of hostile SIP input: valid OPTIONS/INVITE requests mutated in ways real attackers and
// broken stacks produce (byte flips, truncation, duplicated or missing lines, huge or numerous headers,
// lying Content-Length, bad line endings, random bytes). Same seed -> same byte sequence.
import { buildRequest, sdpOffer } from './sip-client.js';

/** A deterministic PRNG (mulberry32): returns floats in [0, 1). */
export type Rng = () => number;

/** Creates a mulberry32 generator from a 32-bit seed. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;

/** Where the generated requests claim to come from and go to. */
export interface FuzzEndpoints {
  target: { host: string; port: number };
  local: { host: string; port: number };
  transport: 'UDP' | 'TCP';
}

/** A valid OPTIONS or INVITE (with SDP) whose branch and Call-ID are unique for `n` and `tag`. */
export function validRequest(
  method: 'OPTIONS' | 'INVITE',
  n: number,
  tag: string,
  ep: FuzzEndpoints,
): Buffer {
  return buildRequest({
    method,
    ...ep,
    branch: `z9hG4bK-${tag}-${n}`,
    callId: `${tag}-${n}@e2e`,
    fromTag: `${tag}${n}`,
    ...(method === 'INVITE' ? { body: sdpOffer(ep.local.host, 40000 + (n % 1000) * 2) } : {}),
  });
}

const CRLF = Buffer.from('\r\n');

function lines(msg: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = msg.indexOf(CRLF); i >= 0; i = msg.indexOf(CRLF, start)) {
    out.push(msg.subarray(start, i));
    start = i + 2;
  }
  out.push(msg.subarray(start));
  return out;
}

const joinLines = (parts: Buffer[]): Buffer =>
  Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [CRLF, p])));

/** Index of a header line (not the start line, not the blank line or body). */
function headerIndex(rng: Rng, parts: Buffer[]): number {
  const blank = parts.findIndex((p) => p.length === 0);
  const last = (blank < 0 ? parts.length : blank) - 1;
  return last < 1 ? Math.max(0, Math.min(1, parts.length - 1)) : int(rng, 1, last);
}

function insertLines(rng: Rng, msg: Buffer, extra: string[]): Buffer {
  const parts = lines(msg);
  parts.splice(headerIndex(rng, parts), 0, ...extra.map((l) => Buffer.from(l, 'latin1')));
  return joinLines(parts);
}

type Mutation = (rng: Rng, msg: Buffer) => Buffer;

const smallMutations: readonly Mutation[] = [
  function flipBytes(rng, msg) {
    const out = Buffer.from(msg);
    for (let k = int(rng, 1, 8); k > 0; k--) out[int(rng, 0, out.length - 1)] = int(rng, 0, 255);
    return out;
  },
  function flipBits(rng, msg) {
    const out = Buffer.from(msg);
    for (let k = int(rng, 1, 4); k > 0; k--) out[int(rng, 0, out.length - 1)]! ^= 1 << int(rng, 0, 7);
    return out;
  },
  function truncate(rng, msg) {
    return msg.subarray(0, int(rng, 0, msg.length - 1));
  },
  function duplicateLine(rng, msg) {
    const parts = lines(msg);
    const i = headerIndex(rng, parts);
    const copies = rng() < 0.8 ? 1 : int(rng, 2, 300);
    parts.splice(i, 0, ...Array.from({ length: copies }, () => parts[i] as Buffer));
    return joinLines(parts);
  },
  function removeLine(rng, msg) {
    const parts = lines(msg);
    parts.splice(rng() < 0.1 ? 0 : headerIndex(rng, parts), 1);
    return joinLines(parts);
  },
  function lyingContentLength(rng, msg) {
    const value = pick(rng, [
      '-1',
      '99999999999999999999',
      '4294967296',
      'abc',
      '',
      '0x10',
      '1e3',
      String(int(rng, 0, 100_000)),
    ]);
    return Buffer.from(
      msg.toString('latin1').replace(/Content-Length: \d+/, `Content-Length: ${value}`),
      'latin1',
    );
  },
  function lineEndings(rng, msg) {
    const replacement = pick(rng, ['\n', '\r', '', '\r\r\n', '\n\r', ' \r\n']);
    return Buffer.from(msg.toString('latin1').replaceAll('\r\n', replacement), 'latin1');
  },
  function controlBytes(rng, msg) {
    const out = Buffer.from(msg);
    for (let k = int(rng, 1, 10); k > 0; k--)
      out[int(rng, 0, out.length - 1)] = pick(rng, [0, 1, 7, 8, 0x1b, 0x7f, 0xff]);
    return out;
  },
  function badStartLine(rng, msg) {
    const start = pick(rng, [
      'OPTIONS sip:pbx@127.0.0.1 SIP/3.0',
      'OPTIONS  SIP/2.0',
      'OPTIONS sip:pbx@127.0.0.1',
      'options sip:pbx@127.0.0.1 SIP/2.0',
      'INV ITE sip:pbx@127.0.0.1 SIP/2.0',
      'SIP/2.0 200 OK',
      'SIP/2.0 999999 Huge',
      'GET / HTTP/1.1',
      '',
      `${'A'.repeat(int(rng, 1, 10_000))} sip:x SIP/2.0`,
    ]);
    const parts = lines(msg);
    parts[0] = Buffer.from(start, 'latin1');
    return joinLines(parts);
  },
  function unicode(rng, msg) {
    const junk = pick(rng, [
      '\u00e9\u00e8\u4e2d\u6587',
      '\ud83d\ude00',
      '\uffff\ufffe',
      '\u0000\u2028\u2029',
    ]);
    return insertLines(
      rng,
      msg,
      [`Subject: ${junk}`].map((l) => Buffer.from(l, 'utf8').toString('latin1')),
    );
  },
  function invalidUtf8(rng, msg) {
    const seq = pick(rng, [
      [0xc3, 0x28],
      [0xe2, 0x82],
      [0xf0, 0x28, 0x8c, 0x28],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
    ]);
    const at = int(rng, 0, msg.length);
    return Buffer.concat([msg.subarray(0, at), Buffer.from(seq), msg.subarray(at)]);
  },
  function twoMessages(_rng, msg) {
    return Buffer.concat([msg, msg]);
  },
  function randomBytes(rng) {
    const out = Buffer.alloc(int(rng, 0, 1_500));
    for (let i = 0; i < out.length; i++) out[i] = int(rng, 0, 255);
    return out;
  },
];

/** Mutations that make messages large (up to the datagram limit); used for one candidate in ten. */
const bigMutations: readonly Mutation[] = [
  function hugeHeader(rng, msg) {
    const name = pick(rng, ['X-Huge', 'Via', 'Contact', 'To', 'Subject', 'Route']);
    const size = rng() < 0.7 ? int(rng, 8_000, 20_000) : int(rng, 20_000, 60_000);
    return insertLines(rng, msg, [`${name}: ${'a'.repeat(size)}`]);
  },
  function manyHeaders(rng, msg) {
    const n = int(rng, 100, 3_000);
    return insertLines(
      rng,
      msg,
      Array.from({ length: n }, (_, i) => `X-H${i}: v`),
    );
  },
  function longUri(rng, msg) {
    const params = Array.from({ length: int(rng, 20, 2_000) }, (_, i) => `;p${i}=${i}`).join('');
    const user = rng() < 0.5 ? 'pbx' : 'u'.repeat(int(rng, 100, 9_000));
    return Buffer.from(
      msg.toString('latin1').replace(/sip:pbx@([^ ]+) SIP/, `sip:${user}@$1${params} SIP`),
      'latin1',
    );
  },
  function nesting(rng, msg) {
    const n = int(rng, 10, 5_000);
    const junk = pick(rng, [
      '<'.repeat(n),
      '"'.repeat(n),
      '('.repeat(n) + ')'.repeat(n),
      ';'.repeat(n),
      ','.repeat(n),
      '\\'.repeat(n),
    ]);
    return insertLines(rng, msg, [`${pick(rng, ['Contact', 'From', 'To', 'Via', 'Route'])}: ${junk}`]);
  },
];

/** Applies 1-3 random mutations to `msg`; results stay below the UDP datagram limit. */
export function mutate(rng: Rng, msg: Buffer): Buffer {
  let out = msg;
  const rounds = rng() < 0.75 ? 1 : int(rng, 2, 3);
  for (let i = 0; i < rounds; i++) out = pick(rng, rng() < 0.1 ? bigMutations : smallMutations)(rng, out);
  return out.length > 65_000 ? out.subarray(0, 65_000) : out;
}

/** Counters a `hostileMessages` run fills in. */
export interface FuzzStats {
  /** Candidates discarded (and regenerated) because a reply could have left loopback. */
  unsafe: number;
}

/**
 * The `count` hostile messages for `seed`: mutations of valid OPTIONS (60%) and INVITEs (40%).
 * With `loopbackOnly` (UDP), candidates whose replies could leave 127.0.0.0/8 are regenerated.
 */
export function* hostileMessages(
  seed: number,
  count: number,
  ep: FuzzEndpoints,
  loopbackOnly: boolean,
  stats: FuzzStats = { unsafe: 0 },
): Generator<Buffer> {
  const rng = mulberry32(seed);
  for (let n = 0; n < count; n++) {
    for (;;) {
      const base = validRequest(rng() < 0.6 ? 'OPTIONS' : 'INVITE', n, `fz${seed}`, ep);
      const candidate = mutate(rng, base);
      if (!loopbackOnly || repliesStayOnLoopback(candidate)) {
        yield candidate;
        break;
      }
      stats.unsafe++;
    }
  }
}

const LOOPBACK = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|::1)$/;

/**
 * True when every Via-like line could only direct replies to loopback. The pbx answers a malformed
 * request statelessly to the Via sent-by/`received`/`maddr` (not the packet source), so anything else
 * must not be sent: tests may only emit traffic to 127.0.0.0/8 and ::1. Deliberately conservative.
 */
export function repliesStayOnLoopback(msg: Buffer): boolean {
  const text = msg.toString('latin1');
  const all = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < all.length; i++) {
    const via = /^[ \t]*(?:via|v)[ \t]*:(.*)$/i.exec(all[i] as string);
    if (via === null) continue;
    if (/^[ \t]/.test(all[i + 1] ?? '')) return false; // a folded Via value could carry anything
    for (const value of (via[1] as string).split(',')) {
      if (/^[\s;]*$/.test(value)) continue; // an empty value names no host
      const sentBy = /^\s*SIP\s*\/\s*[^/\s]+\s*\/\s*[A-Za-z]+\s+(\[[^\]]*\]|[^\s:;]+)/i.exec(value);
      if (sentBy === null || !LOOPBACK.test(sentBy[1] as string)) return false;
      for (const p of value.matchAll(/;\s*(?:received|maddr)\s*=\s*([^\s;]*)/gi)) {
        if (!LOOPBACK.test(p[1] as string)) return false;
      }
    }
  }
  return true;
}

/** Rewrites every Via sent-by to `127.0.0.1:port` and drops `received`/`maddr`, so a fixture's replies stay local. */
export function pinViaToLoopback(msg: Buffer, port: number): Buffer {
  const text = msg
    .toString('latin1')
    .replace(/^([ \t]*(?:via|v)[ \t]*:)(.*)$/gim, (_, name: string, value: string) => {
      const pinned = value
        .split(',')
        .map((v) =>
          v
            .replace(
              /^(\s*SIP\s*\/\s*[^/\s]+\s*\/\s*[A-Za-z]+\s+)(\[[^\]]*\]|[^\s;,]+)/i,
              `$1127.0.0.1:${port}`,
            )
            .replace(/;\s*(?:received|maddr)\s*=\s*[^\s;,]*/gi, ''),
        )
        .join(',');
      return `${name}${pinned}`;
    });
  return Buffer.from(text, 'latin1');
}
