// A real softphone on both sides of the real pbx (issue: softphone interop, docs/interop.md): two baresip
// instances REGISTER, the caller dials the callee's user through the pbx, the callee answers by itself, each
// plays a tone from a WAV file (caller 1 kHz, callee 440 Hz) and dumps what it decodes; the dumps must hold the
// other side's tone. Also hold/resume from baresip's command interface, Opus versus G.711, and a call with no
// common codec. baresip missing is a failure with the package to install, never a skip.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPbx, stopAllPbx } from './harness/pbx.js';
import type { PbxProcess } from './harness/pbx.js';
import { leaseMediaPorts } from './harness/port-lease.js';
import type { PortLease } from './harness/port-lease.js';
import { durationOf, readWav, toneShare, writeToneWav } from './softphone/audio.js';
import { baresipInstallation, dumps, startBaresip, stopAllBaresip } from './softphone/baresip.js';
import type { Baresip, BaresipEvent, TracedMessage } from './softphone/baresip.js';

const TOKEN = 'softphone-read-token';
const CALLER_TONE = 1000;
const CALLEE_TONE = 440;
/** Packets each way the relay must have forwarded before hanging up: 1 s at 20 ms. */
const PACKETS = 50;

let dir: string;
let lease: PortLease | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sippbx-softphone-'));
});

afterEach(async () => {
  await stopAllBaresip();
  await stopAllPbx();
  lease?.release();
  lease = undefined;
  await rm(dir, { recursive: true, force: true });
});

interface Phones {
  pbx: PbxProcess;
  caller: Baresip;
  callee: Baresip;
  callerUser: string;
  calleeUser: string;
}

interface Setup {
  /** `audio_codecs` of each account (baresip names: `pcmu`, `opus/48000/2`...). */
  callerCodecs: string;
  calleeCodecs: string;
  /** SIP transport of both accounts (default UDP). */
  transport?: 'udp' | 'tcp';
  /** The pbx's `media` section additions. */
  media?: Record<string, unknown>;
}

/**
 * Starts a pbx (registered users only, no static routes) and two softphones. Their SIP, control and RTP ports
 * come from a leased slot of the e2e media range, so parallel test files never collide with them.
 */
async function phones(setup: Setup): Promise<Phones> {
  baresipInstallation(); // fails with the package to install before anything starts
  const pbx = await startPbx({
    routing: { routes: [] },
    events: { webhooks: [] },
    http: { auth: { tokens: [{ token: TOKEN, role: 'read' }] } },
    ...(setup.media === undefined ? {} : { media: setup.media }),
  });
  lease = leaseMediaPorts();
  const base = lease.start;
  await writeToneWav(join(dir, 'caller.wav'), CALLER_TONE, 5, 48_000);
  await writeToneWav(join(dir, 'callee.wav'), CALLEE_TONE, 5, 48_000);
  const [caller, callee] = await Promise.all(
    (['caller', 'callee'] as const).map((name, i) =>
      startBaresip({
        name,
        dir: join(dir, name),
        sipPort: base + 10 * i, // and +1 for baresip's TLS listener
        ctrlPort: base + 10 * i + 2,
        rtpPorts: { start: base + 100 + 100 * i, end: base + 199 + 100 * i },
        source: join(dir, `${name}.wav`),
        recordDir: join(dir, `${name}-rec`),
      }),
    ),
  );
  if (caller === undefined || callee === undefined) throw new Error('unreachable');
  const callerUser = 'alice';
  const calleeUser = 'bob';
  const params = setup.transport === 'tcp' ? ';transport=tcp' : '';
  const aor = (user: string): string => `<sip:${user}@127.0.0.1:${pbx.sipPort}${params}>;regint=300`;
  await callee.command('uanew', `${aor(calleeUser)};answermode=auto;audio_codecs=${setup.calleeCodecs}`);
  await caller.command('uanew', `${aor(callerUser)};answermode=manual;audio_codecs=${setup.callerCodecs}`);
  for (const phone of [caller, callee]) {
    const registered = await phone.waitForEvent((e) => e.type.startsWith('REGISTER_'), 10_000);
    expect(registered.type, phone.output()).toBe('REGISTER_OK');
    expect(registered.param).toBe('200 OK');
  }
  expect(await pbx.metricValue('sippbx_registrations_active')).toBe(2);
  return { pbx, caller, callee, callerUser, calleeUser };
}

const is =
  (type: string, param?: string) =>
  (e: BaresipEvent): boolean =>
    e.type === type && (param === undefined || e.param === param);

/** Dials the callee's user through the pbx and waits until both sides report the call established. */
async function dial(p: Phones): Promise<{ callerCallId: string; calleeCallId: string }> {
  await p.caller.command('dial', `sip:${p.calleeUser}@127.0.0.1:${p.pbx.sipPort}`);
  const [a, b] = await Promise.all([
    p.caller.waitForEvent(is('CALL_ESTABLISHED'), 10_000),
    p.callee.waitForEvent(is('CALL_ESTABLISHED'), 10_000),
  ]);
  return { callerCallId: String(a.id), calleeCallId: String(b.id) };
}

/** Polls a condition the system reaches by itself (packets relayed, calls ended), bounded. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function relayed(pbx: PbxProcess): Promise<{ ab: number; ba: number }> {
  const [ab, ba] = await Promise.all([
    pbx.metricValue('sippbx_rtp_packets_total', { direction: 'a-to-b' }),
    pbx.metricValue('sippbx_rtp_packets_total', { direction: 'b-to-a' }),
  ]);
  return { ab, ba };
}

/** Waits until the relay has forwarded `count` more packets each way than `from`. */
async function audioFlows(pbx: PbxProcess, count: number, from = { ab: 0, ba: 0 }): Promise<void> {
  await eventually(
    async () => {
      const now = await relayed(pbx);
      return now.ab - from.ab >= count && now.ba - from.ba >= count;
    },
    10_000,
    `${count} RTP packets each way through the relay`,
  );
}

interface ApiCall {
  legs: { a: string; b: string };
  from: string;
  to: string;
  state: string;
  mediaPorts: { start: number; end: number };
}

async function apiCalls(pbx: PbxProcess): Promise<ApiCall[]> {
  const res = await fetch(`http://127.0.0.1:${pbx.httpPort}/api/v1/calls`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { calls: ApiCall[] }).calls;
}

/** Hangs up from the caller and waits for both sides to close the call. */
async function hangup(p: Phones): Promise<void> {
  const since = { caller: p.caller.events().length, callee: p.callee.events().length };
  await p.caller.command('hangup');
  await Promise.all([
    p.caller.waitForEvent(is('CALL_CLOSED'), 10_000, since.caller),
    p.callee.waitForEvent(is('CALL_CLOSED'), 10_000, since.callee),
  ]);
}

/** After the call: no call in the API, none active, no relay port held. */
async function expectClean(pbx: PbxProcess): Promise<void> {
  await eventually(async () => (await pbx.metricValue('sippbx_calls_active')) === 0, 5_000, 'calls to end');
  expect(await apiCalls(pbx)).toEqual([]);
  expect(await pbx.metricValue('sippbx_media_ports_in_use')).toBe(0);
}

/** Stops both phones (quit: unregister, close the dumps) so their traces and WAV files are complete. */
async function stopPhones(p: Phones): Promise<void> {
  await Promise.all([p.caller.stop(), p.callee.stop()]);
}

/** SDP bodies `phone` received from the pbx (INVITEs or their 200s), in order. */
function receivedSdp(p: Phones, phone: Baresip, startLine: RegExp): TracedMessage[] {
  const pbx = `127.0.0.1:${p.pbx.sipPort}`;
  return phone.sipTrace().filter((m) => m.from === pbx && startLine.test(m.startLine) && m.body !== '');
}

/** `c=` address, first `m=audio` port and payload types of an SDP body. */
function audioOf(sdp: string): { ip: string; port: number; formats: string[]; direction: string } {
  const c = /^c=IN IP4 (\S+)/m.exec(sdp);
  const m = /^m=audio (\d+) RTP\/AVP ([\d ]+)/m.exec(sdp);
  const direction = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(sdp);
  return {
    ip: c?.[1] ?? '',
    port: Number(m?.[1] ?? NaN),
    formats: (m?.[2] ?? '').trim().split(' '),
    direction: direction?.[1] ?? 'sendrecv',
  };
}

/** Every SDP each side got points at the relay (pbx address, a port of its media range), never at the other phone. */
function expectRelayed(p: Phones): void {
  const offers = receivedSdp(p, p.callee, /^INVITE /);
  const answers = receivedSdp(p, p.caller, /^SIP\/2\.0 200 /);
  expect(offers.length, p.callee.output()).toBeGreaterThan(0);
  expect(answers.length, p.caller.output()).toBeGreaterThan(0);
  for (const message of [...offers, ...answers]) {
    const audio = audioOf(message.body);
    expect(audio.ip, message.text).toBe('127.0.0.1');
    expect(audio.port, message.text).toBeGreaterThanOrEqual(p.pbx.mediaPorts.start);
    expect(audio.port, message.text).toBeLessThan(p.pbx.mediaPorts.end);
  }
  // baresip logs where RTP came from: the relay, not the other phone's RTP range.
  for (const phone of [p.caller, p.callee]) {
    const from = /incoming rtp for 'audio' established, receiving from 127\.0\.0\.1:(\d+)/.exec(
      phone.output(),
    );
    expect(from, phone.output()).not.toBeNull();
    expect(Number(from?.[1])).toBeGreaterThanOrEqual(p.pbx.mediaPorts.start);
    expect(Number(from?.[1])).toBeLessThan(p.pbx.mediaPorts.end);
  }
}

/** What `phone` decoded holds `frequency` (at least 90 % of the energy) for at least `seconds`. */
async function expectHeard(phone: Baresip, frequency: number, seconds: number): Promise<void> {
  const files = await dumps(phone.recordDir, '-dec.wav');
  expect(files.length, `${phone.name} decoded audio dumps`).toBeGreaterThan(0);
  const pcm = await readWav(files[0] as string);
  expect(durationOf(pcm), `${phone.name}: seconds of decoded audio`).toBeGreaterThanOrEqual(seconds);
  expect(toneShare(pcm, frequency), `${phone.name}: share of ${frequency} Hz`).toBeGreaterThan(0.9);
}

/** The codec baresip chose for sending, from its log (`audio: Set audio encoder: PCMU 8000Hz 1ch`). */
function encoderOf(phone: Baresip): string | undefined {
  return /Set audio encoder: (\S+)/.exec(phone.output())?.[1];
}

/** Every SIP message between `phone` and the pbx went over `transport`. */
function expectTransport(p: Phones, phone: Baresip, transport: 'UDP' | 'TCP'): void {
  const pbx = `127.0.0.1:${p.pbx.sipPort}`;
  const withPbx = phone.sipTrace().filter((m) => m.from === pbx || m.to === pbx);
  expect(withPbx.length).toBeGreaterThan(0);
  expect(new Set(withPbx.map((m) => m.transport))).toEqual(new Set([transport]));
}

describe('softphones (baresip) through the pbx', () => {
  it.each([['UDP'], ['TCP']] as const)(
    'G.711 over %s: REGISTER, call, tones both ways through the relay, the API lists the call, nothing left after BYE',
    async (transport) => {
      const p = await phones({
        callerCodecs: 'pcmu',
        calleeCodecs: 'pcmu',
        transport: transport === 'TCP' ? 'tcp' : 'udp',
      });
      const ids = await dial(p);

      const calls = await apiCalls(p.pbx);
      expect(calls).toHaveLength(1);
      const call = calls[0] as ApiCall;
      expect(call.legs).toEqual({ a: ids.callerCallId, b: ids.calleeCallId });
      expect(call.state).toBe('answered');
      expect(call.from).toContain(`sip:${p.callerUser}@`);
      expect(call.to).toContain(`sip:${p.calleeUser}@`);
      expect(call.mediaPorts.start).toBeGreaterThanOrEqual(p.pbx.mediaPorts.start);
      expect(call.mediaPorts.end).toBeLessThanOrEqual(p.pbx.mediaPorts.end);

      await audioFlows(p.pbx, PACKETS);
      await hangup(p);
      await expectClean(p.pbx);
      expect(await p.pbx.metricValue('sippbx_calls_total', { result: 'answered' })).toBe(1);
      await stopPhones(p);

      expectRelayed(p);
      expectTransport(p, p.caller, transport);
      expectTransport(p, p.callee, transport);
      expect([encoderOf(p.caller), encoderOf(p.callee)]).toEqual(['PCMU', 'PCMU']);
      await expectHeard(p.callee, CALLER_TONE, 0.7);
      await expectHeard(p.caller, CALLEE_TONE, 0.7);
    },
  );

  it('hold and resume from the caller: re-INVITEs pass with sendonly/recvonly, then audio flows again', async () => {
    const p = await phones({ callerCodecs: 'pcmu', calleeCodecs: 'pcmu' });
    await dial(p);
    await audioFlows(p.pbx, PACKETS);

    // Each re-INVITE's 200 reaches the caller as a new remote SDP answer.
    const reinvite = async (command: 'hold' | 'resume'): Promise<void> => {
      const since = p.caller.events().length;
      await p.caller.command(command);
      await p.caller.waitForEvent(is('CALL_REMOTE_SDP', 'answer'), 10_000, since);
    };
    await reinvite('hold');
    expect((await apiCalls(p.pbx)).map((c) => c.state)).toEqual(['answered']);
    await reinvite('resume');
    await audioFlows(p.pbx, PACKETS / 2, await relayed(p.pbx));

    await hangup(p);
    await expectClean(p.pbx);
    await stopPhones(p);

    const offers = receivedSdp(p, p.callee, /^INVITE /).map((m) => audioOf(m.body));
    const answers = receivedSdp(p, p.caller, /^SIP\/2\.0 200 /).map((m) => audioOf(m.body));
    expect(
      offers.map((a) => a.direction),
      p.callee.output(),
    ).toEqual(['sendrecv', 'sendonly', 'sendrecv']);
    expect(
      answers.map((a) => a.direction),
      p.caller.output(),
    ).toEqual(['sendrecv', 'recvonly', 'sendrecv']);
    // The re-INVITEs keep each side on the relay port it already had.
    expect(new Set(offers.map((a) => a.port)).size).toBe(1);
    expect(new Set(answers.map((a) => a.port)).size).toBe(1);
    expectRelayed(p);
    // baresip 1.0.0 stops its sndfile decode dump at the first re-INVITE (without the pbx too): only the
    // audio before the hold is in it; the relay counters above show the audio after the resume.
    await expectHeard(p.callee, CALLER_TONE, 0.7);
  });

  it('Opus end to end when both sides offer it (the relay passes it untouched)', async () => {
    const p = await phones({ callerCodecs: 'opus/48000/2,pcmu', calleeCodecs: 'opus/48000/2,pcmu' });
    await dial(p);
    await audioFlows(p.pbx, PACKETS);
    await hangup(p);
    await expectClean(p.pbx);
    await stopPhones(p);

    const offer = receivedSdp(p, p.callee, /^INVITE /)[0] as TracedMessage;
    expect(offer.body).toMatch(/^a=rtpmap:\d+ opus\/48000\/2/m);
    expectRelayed(p);
    expect([encoderOf(p.caller), encoderOf(p.callee)]).toEqual(['opus', 'opus']);
    await expectHeard(p.callee, CALLER_TONE, 0.7);
    await expectHeard(p.caller, CALLEE_TONE, 0.7);
  });

  it('G.711 when the callee has no Opus: the answer picks PCMU from the caller offer', async () => {
    const p = await phones({ callerCodecs: 'opus/48000/2,pcmu', calleeCodecs: 'pcmu' });
    await dial(p);
    await audioFlows(p.pbx, PACKETS);
    await hangup(p);
    await expectClean(p.pbx);
    await stopPhones(p);

    expectRelayed(p);
    expect([encoderOf(p.caller), encoderOf(p.callee)]).toEqual(['PCMU', 'PCMU']);
    await expectHeard(p.callee, CALLER_TONE, 0.7);
  });

  it('no common codec: the callee answers 488, the caller gets it, CDR result rejected, nothing left', async () => {
    const p = await phones({ callerCodecs: 'opus/48000/2', calleeCodecs: 'pcmu' });
    await p.caller.command('dial', `sip:${p.calleeUser}@127.0.0.1:${p.pbx.sipPort}`);
    const closed = await p.caller.waitForEvent(is('CALL_CLOSED'), 10_000);
    expect(closed.param).toBe('488 Not Acceptable Here');
    await expectClean(p.pbx);
    expect(await p.pbx.metricValue('sippbx_calls_total', { result: 'rejected' })).toBe(1);
    await stopPhones(p);

    const pbx = `127.0.0.1:${p.pbx.sipPort}`;
    const fromCallee = p.callee.sipTrace().filter((m) => m.to === pbx && /^SIP\/2\.0 488 /.test(m.startLine));
    expect(fromCallee, p.callee.output()).toHaveLength(1); // the pbx relayed the callee's own 488
  });
});
