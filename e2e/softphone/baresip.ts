// Runs the real baresip softphone (Debian baresip-core 1.0.0) headless for whole-system tests: a config directory
// written per instance (loopback only, no NAT modules, WAV file source, sndfile dumps of the audio), the account
// created over the ctrl_tcp control socket (JSON in netstrings) once it is connected, so no event is missed, and
// the SIP trace (`-s`) parsed from its output. Every process started here is reaped by `stopAllBaresip()`.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { findOnPath } from '../harness/which.js';

/** What to install when baresip is missing (scripts/ensure-debian-packages.sh does it in `make test`). */
export const BARESIP_INSTALL_HINT =
  'install the Debian package baresip-core (apt-get install -y --no-install-recommends baresip-core; ' +
  '`make test` runs scripts/ensure-debian-packages.sh, which does this)';

/** Modules the tests load; all ship in baresip-core. */
const MODULES = ['g711', 'opus', 'aufile', 'aubridge', 'sndfile', 'menu', 'ctrl_tcp'] as const;
const MODULE_DIRS = ['/usr/lib/baresip/modules', '/usr/local/lib/baresip/modules'];
const OUTPUT_CAP = 4 * 1024 * 1024;

/** Absolute path of `baresip` and its module directory; throws with the install hint when either is missing. */
export function baresipInstallation(): { binary: string; moduleDir: string } {
  const binary = findOnPath('baresip');
  if (binary === undefined) throw new Error(`baresip not found on PATH: ${BARESIP_INSTALL_HINT}`);
  const moduleDir = MODULE_DIRS.find((dir) => existsSync(join(dir, 'ctrl_tcp.so')));
  if (moduleDir === undefined) {
    throw new Error(
      `baresip modules (ctrl_tcp.so) not found in ${MODULE_DIRS.join(', ')}: ${BARESIP_INSTALL_HINT}`,
    );
  }
  const missing = MODULES.filter((m) => !existsSync(join(moduleDir, `${m}.so`)));
  if (missing.length > 0) {
    throw new Error(
      `baresip modules missing in ${moduleDir}: ${missing.join(', ')}: ${BARESIP_INSTALL_HINT}`,
    );
  }
  return { binary, moduleDir };
}

/** An event baresip's ctrl_tcp module reports (`type` such as REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED). */
export interface BaresipEvent {
  readonly type: string;
  /** Call-ID of the call the event is about (call events only). */
  readonly id?: string;
  /** Event detail: `200 OK`, `offer`/`answer`, the close reason... */
  readonly param?: string;
  readonly [key: string]: unknown;
}

/** One SIP message in baresip's trace (`-s`): who sent it to whom and its text. */
export interface TracedMessage {
  /** `UDP` or `TCP`. */
  readonly transport: string;
  /** `ip:port` of the sender. */
  readonly from: string;
  /** `ip:port` of the receiver. */
  readonly to: string;
  /** Request or status line. */
  readonly startLine: string;
  /** The whole message (CRLF line ends). */
  readonly text: string;
  /** The body (SDP), '' when none. */
  readonly body: string;
}

/** How to start one softphone. */
export interface BaresipOptions {
  /** Label for logs and failure messages. */
  name: string;
  /** Config directory to create. */
  dir: string;
  /** SIP port on 127.0.0.1 (UDP and TCP); baresip also binds TLS on the next port. */
  sipPort: number;
  /** ctrl_tcp port on 127.0.0.1. */
  ctrlPort: number;
  /** Local RTP port range (inclusive). */
  rtpPorts: { start: number; end: number };
  /** WAV file the `aufile` source plays (48 kHz mono: the source runs at 48 kHz and is resampled per codec). */
  source: string;
  /** Directory for the `sndfile` dumps (`dump-<time>-enc.wav` sent, `dump-<time>-dec.wav` received). */
  recordDir: string;
}

/** A running baresip. */
export interface Baresip {
  readonly name: string;
  readonly sipPort: number;
  readonly recordDir: string;
  /** Runs a menu command (`uanew`, `dial`, `hangup`, `hold`, `resume`...) and resolves with its output. */
  command(command: string, params?: string, timeoutMs?: number): Promise<string>;
  /** Every event so far. */
  events(): readonly BaresipEvent[];
  /** Resolves with the first event (at index >= `since`) matching `predicate`. */
  waitForEvent(
    predicate: (e: BaresipEvent) => boolean,
    timeoutMs: number,
    since?: number,
  ): Promise<BaresipEvent>;
  /** stdout and stderr so far (ANSI colours removed). */
  output(): string;
  /** The SIP messages traced so far. */
  sipTrace(): TracedMessage[];
  /** Sends `quit` (unregisters), SIGKILL after `timeoutMs`; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number>;
}

const live = new Map<ChildProcess, Promise<number>>();
let exitHookInstalled = false;

/** Stops every baresip this worker started and has not stopped yet (SIGKILL); use in afterEach. */
export async function stopAllBaresip(): Promise<void> {
  await Promise.all(
    [...live].map(async ([child, exited]) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }),
  );
}

/**
 * The config file: SIP, RTP and control on 127.0.0.1 only (`net_interface` by address, no STUN/TURN/ICE
 * modules, DNS pointed at loopback in case anything asks), the WAV file as source, a player that goes nowhere
 * (an `aubridge` device without a source), the `sndfile` filter dumping both directions.
 */
export function baresipConfig(o: BaresipOptions, moduleDir: string): string {
  const lines = [
    ['poll_method', 'epoll'],
    ['sip_listen', `127.0.0.1:${o.sipPort}`],
    ['call_local_timeout', '20'],
    ['call_max_calls', '4'],
    ['audio_player', `aubridge,${o.name}-player`],
    ['audio_source', `aufile,${o.source}`],
    ['audio_alert', `aubridge,${o.name}-alert`],
    ['ausrc_srate', '48000'],
    ['ausrc_channels', '1'],
    ['audio_level', 'no'],
    ['ausrc_format', 's16'],
    ['auplay_format', 's16'],
    ['auenc_format', 's16'],
    ['audec_format', 's16'],
    ['audio_buffer', '20-160'],
    ['rtp_tos', '0'],
    ['rtp_ports', `${o.rtpPorts.start}-${o.rtpPorts.end}`],
    ['rtcp_mux', 'no'],
    ['jitter_buffer_delay', '1-10'],
    ['rtp_stats', 'no'],
    ['dns_server', '127.0.0.1:53'],
    ['net_interface', '127.0.0.1'],
    ['module_path', moduleDir],
    ['module', 'opus.so'],
    ['module', 'g711.so'],
    ['module', 'sndfile.so'],
    ['module', 'aufile.so'],
    ['module', 'aubridge.so'],
    ['module_app', 'menu.so'],
    ['module_app', 'ctrl_tcp.so'],
    ['ctrl_tcp_listen', `127.0.0.1:${o.ctrlPort}`],
    ['snd_path', o.recordDir],
    ['opus_bitrate', '28000'],
    ['statmode_default', 'off'],
  ];
  return `# written by e2e/softphone/baresip.ts\n${lines.map(([k, v]) => `${k}\t${v}`).join('\n')}\n`;
}

const ANSI = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex

/** Parses the SIP messages out of baresip's `-s` trace (each block: `#`, `UDP a -> b`, the message; the
 * `#` may follow a status line on the same line). */
export function parseSipTrace(output: string): TracedMessage[] {
  const messages: TracedMessage[] = [];
  for (const m of output.matchAll(/#\n(UDP|TCP|TLS) (\S+) -> (\S+)\n([\s\S]*?\r\n\r\n)/g)) {
    const head = m[4] as string;
    const length = /^content-length:\s*(\d+)/im.exec(head);
    const start = (m.index ?? 0) + m[0].length;
    const body = output.slice(start, start + Number(length?.[1] ?? 0));
    messages.push({
      transport: m[1] as string,
      from: m[2] as string,
      to: m[3] as string,
      startLine: head.slice(0, head.indexOf('\r\n')),
      text: head + body,
      body,
    });
  }
  return messages;
}

interface Waiter {
  predicate: (e: BaresipEvent) => boolean;
  resolve: (e: BaresipEvent) => void;
}

/** Netstring JSON over TCP (baresip ctrl_tcp): commands out, responses and events in. */
class ControlChannel {
  readonly events: BaresipEvent[] = [];
  readonly #socket: Socket;
  readonly #waiters = new Set<Waiter>();
  readonly #responses = new Map<string, (r: { ok: boolean; data: string }) => void>();
  #buffer = Buffer.alloc(0);
  #token = 0;
  #closed = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', () => undefined); // the process exiting resets the connection; 'close' follows
    socket.on('close', () => {
      this.#closed = true;
      for (const settle of this.#responses.values()) settle({ ok: false, data: 'control connection closed' });
      this.#responses.clear();
    });
  }

  #receive(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const colon = this.#buffer.indexOf(0x3a); // "<length>:<json>,"
      if (colon < 0) return;
      const length = Number(this.#buffer.subarray(0, colon).toString('ascii'));
      if (this.#buffer.length < colon + length + 2) return;
      const json = this.#buffer.subarray(colon + 1, colon + 1 + length).toString('utf8');
      this.#buffer = this.#buffer.subarray(colon + length + 2);
      this.#dispatch(JSON.parse(json) as Record<string, unknown>);
    }
  }

  #dispatch(message: Record<string, unknown>): void {
    if (message['response'] === true) {
      const token = String(message['token']);
      const data =
        typeof message['data'] === 'string' ? message['data'] : JSON.stringify(message['data'] ?? '');
      this.#responses.get(token)?.({ ok: message['ok'] === true, data });
      this.#responses.delete(token);
      return;
    }
    if (message['event'] !== true) return;
    const event = message as BaresipEvent;
    this.events.push(event);
    for (const waiter of this.#waiters) {
      if (waiter.predicate(event)) {
        this.#waiters.delete(waiter);
        waiter.resolve(event);
      }
    }
  }

  command(command: string, params: string, timeoutMs: number): Promise<{ ok: boolean; data: string }> {
    if (this.#closed) return Promise.resolve({ ok: false, data: 'control connection closed' });
    const token = String(++this.#token);
    const body = Buffer.from(JSON.stringify({ command, params, token }));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#responses.delete(token);
        resolve({ ok: false, data: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      this.#responses.set(token, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.#socket.write(Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]));
    });
  }

  wait(
    predicate: (e: BaresipEvent) => boolean,
    timeoutMs: number,
    since: number,
  ): Promise<BaresipEvent | null> {
    const found = this.events.slice(since).find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        predicate,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(null);
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Connects to ctrl_tcp, retrying while baresip is still starting (bounded by `timeoutMs` and by its exit). */
async function connectControl(port: number, timeoutMs: number, running: () => boolean): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const socket = connect(port, '127.0.0.1');
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    if (connected) return socket;
    socket.destroy();
    if (!running()) throw new Error('baresip exited before its control socket listened');
    if (Date.now() > deadline)
      throw new Error(`baresip control socket 127.0.0.1:${port} not listening in time`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function exitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live.keys()) child.kill('SIGKILL');
  });
}

/** Writes the config, starts `baresip -s -f DIR` (line-buffered through stdbuf) and connects its control socket. */
export async function startBaresip(o: BaresipOptions): Promise<Baresip> {
  const { binary, moduleDir } = baresipInstallation();
  await mkdir(o.dir, { recursive: true });
  await mkdir(o.recordDir, { recursive: true });
  await writeFile(join(o.dir, 'config'), baresipConfig(o, moduleDir));
  await writeFile(join(o.dir, 'accounts'), '# accounts are created over ctrl_tcp (uanew)\n');
  // baresip writes through C stdio: unbuffered it only reaches a pipe in 4 KiB blocks.
  const stdbuf = findOnPath('stdbuf');
  const argv = ['-4', '-s', '-f', o.dir];
  const child =
    stdbuf === undefined
      ? spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(stdbuf, ['-oL', '-eL', binary, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  exitHook();
  let raw = '';
  const collect = (chunk: Buffer): void => {
    if (raw.length < OUTPUT_CAP) raw += chunk.toString('utf8');
  };
  const output = (): string => raw.replace(ANSI, '');
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number>((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve(code ?? 128 + (signal === null ? 0 : (osConstants.signals[signal] ?? 0)));
    });
  });
  live.set(child, exited);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`cannot start baresip: ${error.message}`)));
  });
  void spawnFailed.catch(() => undefined);
  let control: ControlChannel;
  try {
    control = new ControlChannel(
      await Promise.race([connectControl(o.ctrlPort, 10_000, running), spawnFailed]),
    );
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(
      `${o.name}: ${(error as Error).message}\n--- baresip output ---\n${output().slice(-4000)}`,
      { cause: error },
    );
  }

  return {
    name: o.name,
    sipPort: o.sipPort,
    recordDir: o.recordDir,
    command: async (command, params = '', timeoutMs = 5_000) => {
      const r = await control.command(command, params, timeoutMs);
      if (!r.ok) throw new Error(`${o.name}: command ${command} ${params} failed: ${r.data}`);
      return r.data;
    },
    events: () => control.events,
    waitForEvent: async (predicate, timeoutMs, since = 0) => {
      const event = await control.wait(predicate, timeoutMs, since);
      if (event !== null) return event;
      const seen = control.events.map((e) => `${e.type} ${e.param ?? ''}`).join('\n  ');
      throw new Error(`${o.name}: no matching baresip event within ${timeoutMs} ms; events:\n  ${seen}`);
    },
    output,
    sipTrace: () => parseSipTrace(output()),
    stop: async (timeoutMs = 5_000) => {
      if (!running()) return exited;
      await control.command('quit', '', 1_000);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
        control.close();
      }
    },
  };
}

/** The `sndfile` dumps in `dir` whose name ends with `suffix` (`-dec.wav`: what the softphone received). */
export async function dumps(dir: string, suffix: '-dec.wav' | '-enc.wav'): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}
