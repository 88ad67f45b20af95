/**
 * The sippbx relay under load: one Node process holding one MediaSession (one RelayLine) per call, both
 * sides pointing at the generator's sockets. Driven over stdin/stdout JSON lines by run.ts:
 *   {"cmd":"open","calls":[[genA,genB],...]}  -> {"type":"opened","ports":[[relayA,relayB],...]}
 *   {"cmd":"sample"}                          -> {"type":"sample","cpuUs":..,"atMs":..,"elu":..,"counters":..}
 *   {"cmd":"close"}                           -> {"type":"closed","cpuUs":..,"counters":..} and exit
 * The relay engine is the native one (pbx/media/relay/native) unless --engine node; with --unconnected (Node
 * engine) latched flows get no connected socket (every send goes out of the relay socket with an address,
 * as before connected flows existed). With --minimal it runs no sippbx code at all: per call two connected node:dgram sockets that send each
 * packet on unchanged (no checks, no latching, no counters) — the floor of a Node relay, for comparison.
 * Usage: node dist/bench/rtp-relay/relay-server.js [--port-base PORT] [--engine native|node]
 *          [--unconnected | --minimal]
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { createPortPool } from '../../pbx/media/ports/index.js';
import { createRelayCounters, openMediaSession, relayTotals } from '../../pbx/media/relay/index.js';
import type { MediaSession } from '../../pbx/media/relay/index.js';

const LISTEN = '127.0.0.1';
// One media line per call: blocks of 4 ports (A-RTP, A-RTCP, B-RTP, B-RTCP).
const PORTS_PER_CALL = 4;
const OPEN_CONCURRENCY = 64;
/** Spare blocks beyond one per call, so ports another process happens to hold cost a retry, not the run. */
const SPARE_BLOCKS = 256;

// Default: a range ending at 65535, above Linux's ephemeral range (32768-60999, where the generator's sockets
// land) for up to ~870 calls, and clear of rtpengine's 10000-19999, the e2e pbx leases (20000-31999) and the
// operator e2e ranges (40000-48999). A port someone else holds costs a retry on a spare block.
const portBaseArg = argValue('--port-base');
// --unconnected: every send from the relay sockets (MediaSessionOptions.connectedFlows false), for comparison.
const connectedFlows = process.argv.includes('--unconnected') ? { connectedFlows: false } : {};
// Explicit, so a missing addon fails the run instead of quietly measuring the Node engine.
const engine = process.argv.includes('--unconnected') || argValue('--engine') === 'node' ? 'node' : 'native';
const counters = createRelayCounters();
const sessions: MediaSession[] = [];
const minimalSockets: Socket[] = [];
let minimalPackets = 0;
let eluStart = performance.eventLoopUtilization();

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

function reply(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

function connectedSocket(port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  minimalSockets.push(socket);
  return new Promise((resolve) => {
    socket.bind(0, LISTEN, () => socket.connect(port, LISTEN, () => resolve(socket)));
  });
}

async function openMinimal(calls: readonly (readonly [number, number])[]): Promise<void> {
  const ports: [number, number][] = [];
  for (const [genA, genB] of calls) {
    const a = await connectedSocket(genA);
    const b = await connectedSocket(genB);
    a.on('message', (packet: Buffer) => {
      minimalPackets++;
      b.send(packet);
    });
    b.on('message', (packet: Buffer) => {
      minimalPackets++;
      a.send(packet);
    });
    ports.push([a.address().port, b.address().port]);
  }
  eluStart = performance.eventLoopUtilization();
  reply({ type: 'opened', ports });
}

async function open(calls: readonly (readonly [number, number])[]): Promise<void> {
  if (process.argv.includes('--minimal')) return openMinimal(calls);
  const span = PORTS_PER_CALL * (calls.length + SPARE_BLOCKS);
  const portBase = portBaseArg === undefined ? Math.max(1024, 65536 - span) : Number(portBaseArg);
  const pool = createPortPool({
    start: portBase,
    end: portBase + span,
    portsPerCall: PORTS_PER_CALL,
  });
  const ports: [number, number][] = new Array<[number, number]>(calls.length);
  for (let first = 0; first < calls.length; first += OPEN_CONCURRENCY) {
    const batch = calls.slice(first, first + OPEN_CONCURRENCY);
    await Promise.all(
      batch.map(async ([genA, genB], i) => {
        const session = await openMediaSession(pool, {
          listen: LISTEN,
          counters,
          id: `bench-${first + i}`,
          maxBindAttempts: 16,
          engine,
          ...connectedFlows,
        });
        sessions.push(session);
        const line = session.line(0);
        if (line === undefined) throw new Error('session opened without line 0');
        line.setRemote('a', { address: LISTEN, rtpPort: genA, rtcpMux: false });
        line.setRemote('b', { address: LISTEN, rtpPort: genB, rtcpMux: false });
        ports[first + i] = [line.ports.a.rtp, line.ports.b.rtp];
      }),
    );
  }
  eluStart = performance.eventLoopUtilization();
  reply({ type: 'opened', ports });
}

function sample(): void {
  const elu = performance.eventLoopUtilization(eluStart);
  reply({
    type: 'sample',
    cpuUs: cpuUs(),
    atMs: performance.now(),
    elu: elu.utilization,
    counters: relayTotals(counters),
    minimalPackets,
    connectedParties: connectedParties(),
  });
}

/** Parties whose RTP the relay sends from a connected socket (both parties of every call, once latched). */
function connectedParties(): number {
  let n = 0;
  for (const session of sessions) {
    const line = session.line(0);
    if (line?.connected('a') === true) n++;
    if (line?.connected('b') === true) n++;
  }
  return n;
}

async function close(): Promise<void> {
  await Promise.all(sessions.map((s) => s.close()));
  for (const socket of minimalSockets) socket.close();
  // Exit only after the reply is flushed; --cpu-prof writes its profile on this exit.
  process.stdout.write(
    `${JSON.stringify({ type: 'closed', cpuUs: cpuUs(), counters: relayTotals(counters) })}\n`,
    () => process.exit(0),
  );
}

async function handle(line: string): Promise<void> {
  const command = JSON.parse(line) as { cmd: string; calls?: [number, number][] };
  switch (command.cmd) {
    case 'open':
      return open(command.calls ?? []);
    case 'sample':
      return sample();
    case 'close':
      return close();
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  handle(line).catch((error: unknown) => reply({ type: 'error', message: String(error) }));
});
// The parent going away ends the benchmark: never outlive it.
process.stdin.on('end', () => process.exit(0));
