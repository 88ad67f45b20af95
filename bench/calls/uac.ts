/**
 * A small SIP UAC of our own for bench/calls, for what SIPp cannot measure finely: INVITE -> 200 with
 * `process.hrtime` (SIPp 3.6's `-trace_rtt` moves in 4 ms steps on this machine, docs/benchmarks.md), and
 * the answers of an overloaded server (how many 503s, how fast).
 *
 * Call: INVITE with SDP -> 100/180 -> 200 -> ACK -> hold -> BYE -> 200, over UDP, one socket; a final
 * response >= 300 is ACKed and counted by status (RFC 3261 §17.1.1.3). INVITE retransmits on Timer A until
 * a provisional arrives and gives up at Timer B (32 s); BYE retransmits on Timer E until F. Record-Route
 * becomes the route set of ACK and BYE (§12.1.2), so it runs through a proxy (Kamailio) as well.
 *
 * Usage: node dist/bench/calls/uac.js --target 127.0.0.1:PORT --rate 200 --seconds 20 [--hold-ms 0]
 *          [--max-calls N] [--warmup-s 0]
 * Calls started in the first `--warmup-s` seconds (a freshly started server's JIT warm-up) are placed
 * and counted but left out of the latency figures.
 * Bounded: at most `--max-calls` (default rate x seconds) calls, generation for `--seconds`, and an exit
 * 40 s + hold after generation stops whatever is left. Prints one UacReport as JSON on stdout. Run it
 * pinned (`taskset -c 0`), as bench/calls/run.ts does.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { pathToFileURL } from 'node:url';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

/** Latency summary in ms (microsecond resolution). */
export interface LatencySummary {
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** What one UAC run reports. */
export interface UacReport {
  readonly offeredRate: number;
  readonly seconds: number;
  readonly holdMs: number;
  readonly created: number;
  /** Calls that got their 200, were ACKed and whose BYE was answered 200. */
  readonly completed: number;
  /** Completed calls per second of generation. */
  readonly goodput: number;
  /** Calls answered with a final status >= 300, by status. */
  readonly rejected: Record<string, number>;
  /** Calls that ended neither completed nor rejected (timeouts, unexpected answers), by reason. */
  readonly failed: Record<string, number>;
  /** INVITE -> 200 of the calls after the warm-up. */
  readonly inviteTo200Ms: LatencySummary;
  /** INVITE -> final response >= 300, by status (`503`: time to 503); warm-up calls included. */
  readonly inviteToRejectMs: Record<string, LatencySummary>;
  /** INVITEs and BYEs sent again (Timers A and E). */
  readonly retransmissions: number;
  /** How late the generator sent INVITEs against its schedule (a busy load core shows here). */
  readonly sendLagMs: LatencySummary;
  /** CPU of this process over the run, % of one core. */
  readonly cpuPct: number;
}

type State = 'inviting' | 'proceeding' | 'confirmed' | 'ending' | 'done';

interface Call {
  readonly n: number;
  readonly id: string;
  readonly fromTag: string;
  readonly branch: string;
  readonly sentAt: bigint;
  state: State;
  toTag: string;
  target: string;
  routes: string[];
  timer: NodeJS.Timeout | undefined;
  interval: number;
  byeBranch: string;
}

/** The fields of a response this UAC needs (compact header forms included, RFC 3261 §7.3.3). */
interface Response {
  readonly status: number;
  readonly callId: string;
  readonly method: string;
  readonly toTag: string;
  readonly contact: string;
  readonly recordRoute: string[];
}

const T1 = 500;
const T2 = 4000;
const GIVE_UP_MS = 64 * T1;

/** Parses a response's status line and the few headers a UAC needs; undefined for requests or garbage. */
export function parseResponse(data: Buffer): Response | undefined {
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const lines = (end === -1 ? text : text.slice(0, end)).split('\r\n');
  const m = /^SIP\/2\.0 (\d{3}) /.exec(lines[0] ?? '');
  if (m === null) return undefined;
  let callId = '';
  let method = '';
  let toTag = '';
  let contact = '';
  const recordRoute: string[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'call-id' || name === 'i') callId = value;
    else if (name === 'cseq') method = value.split(/\s+/)[1] ?? '';
    else if (name === 'to' || name === 't') toTag = /;\s*tag=([^;>\s]+)/i.exec(value)?.[1] ?? '';
    else if ((name === 'contact' || name === 'm') && contact === '') contact = uriOf(value);
    else if (name === 'record-route') recordRoute.push(...value.split(/,(?=\s*<)/).map((v) => v.trim()));
  }
  return { status: Number(m[1]), callId, method, toTag, contact, recordRoute };
}

/** The URI of a name-addr (`<sip:...>;params`) or of a bare addr-spec. */
function uriOf(value: string): string {
  const lt = value.indexOf('<');
  if (lt !== -1) return value.slice(lt + 1, value.indexOf('>', lt));
  return value.split(';')[0]?.trim() ?? value;
}

/** Latency percentiles of nanosecond samples, in ms. */
export function summarize(ns: readonly bigint[]): LatencySummary {
  const ms = ns.map((v) => Number(v) / 1e6).sort((a, b) => a - b);
  const q = (p: number): number => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? NaN;
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  return { samples: ms.length, p50: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), max: r(ms.at(-1) ?? NaN) };
}

async function main(): Promise<void> {
  const [host = '127.0.0.1', portText = '5060'] = arg('target', '127.0.0.1:5060').split(':');
  const port = Number(portText);
  const rate = Number(arg('rate', '100'));
  const seconds = Number(arg('seconds', '10'));
  const holdMs = Number(arg('hold-ms', '0'));
  const maxCalls = Number(arg('max-calls', String(Math.round(rate * seconds))));
  const warmupCalls = Math.round(Number(arg('warmup-s', '0')) * rate);
  const socket = createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  await new Promise<void>((done) => socket.bind(0, '127.0.0.1', done));
  const local = `127.0.0.1:${socket.address().port}`;
  const calls = new Map<string, Call>();
  const answered: bigint[] = [];
  const rejectedAt = new Map<string, bigint[]>();
  const failed: Record<string, number> = {};
  const sendLag: bigint[] = [];
  let created = 0;
  let completed = 0;
  let retransmissions = 0;
  let open = 0;

  const send = (text: string): void => socket.send(Buffer.from(text, 'latin1'), port, host);
  const sdp = [
    'v=0',
    'o=bench 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 6000 RTP/AVP 0',
    'a=rtpmap:0 PCMU/8000',
    '',
  ].join('\r\n');
  const invite = (c: Call): string =>
    [
      `INVITE sip:1000@${host}:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local};branch=${c.branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:bench@${local}>;tag=${c.fromTag}`,
      `To: <sip:1000@${host}:${port}>`,
      `Call-ID: ${c.id}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:bench@${local}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${sdp.length}`,
      '',
      sdp,
    ].join('\r\n');
  /** ACK of a 2xx and BYE: in-dialog requests to the remote target through the route set (§12.2.1.1). */
  const inDialog = (c: Call, method: 'ACK' | 'BYE', branch: string, seq: number): string =>
    [
      `${method} ${c.target} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local};branch=${branch};rport`,
      'Max-Forwards: 70',
      ...c.routes.map((r) => `Route: ${r}`),
      `From: <sip:bench@${local}>;tag=${c.fromTag}`,
      `To: <sip:1000@${host}:${port}>;tag=${c.toTag}`,
      `Call-ID: ${c.id}`,
      `CSeq: ${seq} ${method}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  /** ACK of a non-2xx final response: same branch as the INVITE (§17.1.1.3). */
  const ackFailure = (c: Call): string =>
    [
      `ACK sip:1000@${host}:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local};branch=${c.branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:bench@${local}>;tag=${c.fromTag}`,
      `To: <sip:1000@${host}:${port}>;tag=${c.toTag}`,
      `Call-ID: ${c.id}`,
      'CSeq: 1 ACK',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');

  const finish = (c: Call, failure?: string): void => {
    if (c.state === 'done') return;
    clearTimeout(c.timer);
    c.state = 'done';
    open--;
    if (failure !== undefined) failed[failure] = (failed[failure] ?? 0) + 1;
    // Keep the call a little for retransmitted responses, then forget it (bounded memory).
    setTimeout(() => calls.delete(c.id), 2 * T2).unref();
  };

  /** Retransmits `text` on a doubling interval (capped at T2 for BYE) until the call leaves `state`. */
  const retransmit = (c: Call, state: State, text: string, cap: number): void => {
    const started = Date.now();
    const again = (): void => {
      if (c.state !== state) return;
      if (Date.now() - started >= GIVE_UP_MS) return finish(c, `${state}-timeout`);
      send(text);
      retransmissions++;
      c.interval = Math.min(c.interval * 2, cap);
      c.timer = setTimeout(again, c.interval);
    };
    c.interval = T1;
    c.timer = setTimeout(again, T1);
  };

  const bye = (c: Call): void => {
    if (c.state !== 'confirmed') return;
    c.state = 'ending';
    const text = inDialog(c, 'BYE', c.byeBranch, 2);
    send(text);
    retransmit(c, 'ending', text, T2);
  };

  const onInviteResponse = (c: Call, r: Response): void => {
    if (r.status < 200) {
      if (c.state === 'inviting') {
        clearTimeout(c.timer); // a provisional stops Timer A (§17.1.1.2); Timer B still bounds the wait
        c.state = 'proceeding';
        c.timer = setTimeout(() => finish(c, 'no-final-response'), GIVE_UP_MS);
      }
      return;
    }
    if (r.status >= 300) {
      c.toTag = r.toTag;
      send(ackFailure(c));
      if (c.state !== 'inviting' && c.state !== 'proceeding') return; // a retransmission, ACKed again
      const list = rejectedAt.get(String(r.status)) ?? [];
      list.push(process.hrtime.bigint() - c.sentAt);
      rejectedAt.set(String(r.status), list);
      return finish(c);
    }
    if (c.state === 'inviting' || c.state === 'proceeding') {
      if (c.n >= warmupCalls) answered.push(process.hrtime.bigint() - c.sentAt);
      clearTimeout(c.timer);
      c.state = 'confirmed';
      c.toTag = r.toTag;
      c.target = r.contact === '' ? `sip:1000@${host}:${port}` : r.contact;
      c.routes = r.recordRoute; // a UAC uses the Record-Route set in order (§12.1.2)
    }
    // The first 2xx and each retransmission of it are ACKed (§13.2.2.4).
    send(inDialog(c, 'ACK', `${c.branch}-ack`, 1));
    if (c.state !== 'confirmed') return;
    if (holdMs <= 0) bye(c);
    else c.timer = setTimeout(() => bye(c), holdMs);
  };

  socket.on('message', (data: Buffer, _from: RemoteInfo) => {
    const r = parseResponse(data);
    if (r === undefined) return;
    const c = calls.get(r.callId);
    if (c === undefined || c.state === 'done') {
      if (c !== undefined && r.method === 'INVITE' && r.status >= 200) onInviteResponse(c, r);
      return;
    }
    if (r.method === 'INVITE') return onInviteResponse(c, r);
    if (r.method === 'BYE' && r.status >= 200 && c.state === 'ending') {
      if (r.status < 300) completed++;
      finish(c, r.status < 300 ? undefined : `bye-${r.status}`);
    }
  });

  const startCall = (due: bigint): void => {
    const n = created++;
    const c: Call = {
      n,
      id: `${n}-${process.pid}@bench`,
      fromTag: `f${n}`,
      branch: `z9hG4bK-b${process.pid}-${n}`,
      sentAt: process.hrtime.bigint(),
      state: 'inviting',
      toTag: '',
      target: '',
      routes: [],
      timer: undefined,
      interval: T1,
      byeBranch: `z9hG4bK-b${process.pid}-${n}-bye`,
    };
    sendLag.push(c.sentAt - due);
    calls.set(c.id, c);
    open++;
    const text = invite(c);
    send(text);
    retransmit(c, 'inviting', text, Number.POSITIVE_INFINITY);
  };

  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const periodNs = BigInt(Math.round(1e9 / rate));
  const generationNs = BigInt(Math.round(seconds * 1e9));
  await new Promise<void>((done) => {
    const tick = setInterval(() => {
      const elapsed = process.hrtime.bigint() - t0;
      const due = elapsed >= generationNs ? maxCalls : Math.min(maxCalls, Number(elapsed / periodNs) + 1);
      while (created < due) startCall(t0 + BigInt(created) * periodNs);
      if (created >= maxCalls) {
        clearInterval(tick);
        done();
      }
    }, 1);
  });
  const generatedS = Number(process.hrtime.bigint() - t0) / 1e9;
  // Wait for the calls still up, at most hold + 40 s.
  const deadline = Date.now() + holdMs + 40_000;
  while (open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const c of calls.values()) if (c.state !== 'done') finish(c, `unfinished-${c.state}`);
  const cpu = process.cpuUsage(cpu0);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const report: UacReport = {
    offeredRate: rate,
    seconds,
    holdMs,
    created,
    completed,
    goodput: Math.round((completed / Math.max(generatedS, seconds)) * 10) / 10,
    rejected: Object.fromEntries([...rejectedAt].map(([s, v]) => [s, v.length])),
    failed,
    inviteTo200Ms: summarize(answered),
    inviteToRejectMs: Object.fromEntries([...rejectedAt].map(([s, v]) => [s, summarize(v)])),
    retransmissions,
    sendLagMs: summarize(sendLag),
    cpuPct: Math.round(((cpu.user + cpu.system) / 1e6 / wallS) * 1000) / 10,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  socket.close();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
