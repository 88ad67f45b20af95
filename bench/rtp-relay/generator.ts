/**
 * Lean RTP load generator: C two-way calls = 2C one-way G.711 streams at 50 packets/s, 172-byte packets.
 * Call c has two connected sockets (its A and B party); stream 2c goes A -> relay -> B, stream 2c+1 goes
 * B -> relay -> A. Every 1 ms timer tick sends the packets that are due, streams being spread evenly over
 * the 20 ms period, from one preallocated Buffer per stream (connected sockets: no address lookup per send).
 * Each packet carries its send time and a 32-bit sequence number; the receiver counts loss, reordering and
 * one-way latency (receive time − send time on this process's monotonic clock).
 *
 * Driven by run.ts over JSON lines: prints {"type":"ports"}, waits for {"cmd":"start","targets":[[a,b]...]}
 * (the relay ports the A and B sockets send to), then prints "started", "measure-start", "measure-end",
 * "result".
 * Usage: node dist/bench/rtp-relay/generator.js --calls 500 --seconds 20 --warmup 2
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Histogram } from './histogram.js';
import {
  createPacket,
  FLAG_MEASURED,
  OFF_FLAGS,
  OFF_SEND_NS,
  OFF_SEQ,
  OFF_STREAM,
  PACKET_BYTES,
  PACKET_INTERVAL_MS,
  stampPacket,
} from './packet.js';

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i === -1 ? undefined : Number(process.argv[i + 1]);
  return value === undefined || !Number.isFinite(value) ? fallback : value;
}

const calls = numberArg('calls', 250);
const seconds = numberArg('seconds', 20);
const warmupSeconds = numberArg('warmup', 2);
const tickMs = numberArg('tick-ms', 1);
const drainMs = numberArg('drain-ms', 1000);
const streams = 2 * calls;
/** How long after the measured window a lagging generator may keep catching up before it stops. */
const LATE_STOP_MS = 1000;

const sockets: Socket[] = [];
const packets: Buffer[] = [];
const phaseMs = new Float64Array(streams);
const nextSeq = new Uint32Array(streams);
const sentMeasured = new Uint32Array(streams);
const maxSeq = new Float64Array(streams).fill(-1);
const received = new Uint32Array(streams);
const latencyUs = new Histogram(2_000_000, 1); // 1 µs bins up to 2 s
const lateMs = new Histogram(10_000, 0.1); // send lateness vs schedule, 0.1 ms bins up to 1 s
let reordered = 0;
let duplicates = 0;
let foreign = 0;
let unmeasured = 0;
let socketErrors = 0;

function emit(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

// The receive hot path: one shared handler, no allocation of our own.
function onMessage(msg: Buffer): void {
  const recvNs = performance.now() * 1e6;
  if (msg.length !== PACKET_BYTES) {
    foreign++;
    return;
  }
  const stream = msg.readUInt32LE(OFF_STREAM);
  if (stream >= streams) {
    foreign++;
    return;
  }
  if (msg[OFF_FLAGS] !== FLAG_MEASURED) {
    unmeasured++;
    return;
  }
  const seq = msg.readUInt32LE(OFF_SEQ);
  const highest = maxSeq[stream] ?? -1;
  if (seq === highest) {
    duplicates++;
    return;
  }
  if (seq > highest) maxSeq[stream] = seq;
  else reordered++;
  received[stream] = (received[stream] ?? 0) + 1;
  latencyUs.record((recvNs - msg.readDoubleLE(OFF_SEND_NS)) / 1000);
}

function onSocketError(): void {
  socketErrors++;
}

async function bindAll(): Promise<void> {
  for (let i = 0; i < streams; i++) {
    const socket = createSocket({ type: 'udp4' });
    socket.on('message', onMessage);
    socket.on('error', onSocketError);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    sockets.push(socket);
    packets.push(createPacket(i));
    phaseMs[i] = (i * PACKET_INTERVAL_MS) / streams;
  }
}

/** Socket 2c is party A of call c, 2c+1 party B; A's stream is 2c (A -> B), B's is 2c+1. */
function socketOf(index: number): Socket {
  const socket = sockets[index];
  if (socket === undefined) throw new Error(`no socket ${index}`);
  return socket;
}

async function connectAll(targets: readonly (readonly [number, number])[]): Promise<void> {
  if (targets.length !== calls) throw new Error(`expected ${calls} targets, got ${targets.length}`);
  await Promise.all(
    targets.flatMap(([a, b], call) => [
      new Promise<void>((resolve) => socketOf(2 * call).connect(a, '127.0.0.1', resolve)),
      new Promise<void>((resolve) => socketOf(2 * call + 1).connect(b, '127.0.0.1', resolve)),
    ]),
  );
}

interface Window {
  startCpuUs: number;
  startAtMs: number;
  startElu: ReturnType<typeof performance.eventLoopUtilization>;
  endCpuUs: number;
  endAtMs: number;
  elu: number;
}

function run(): Promise<Window> {
  const t0 = performance.now() + 5;
  const measureFrom = t0 + warmupSeconds * 1000;
  const measureTo = measureFrom + seconds * 1000;
  const window: Window = {
    startCpuUs: 0,
    startAtMs: 0,
    startElu: performance.eventLoopUtilization(),
    endCpuUs: 0,
    endAtMs: 0,
    elu: 0,
  };
  let round = 0;
  let index = 0;
  let measuring = false;
  return new Promise((resolve) => {
    const finish = (): void => {
      clearInterval(timer);
      window.endCpuUs = cpuUs();
      window.endAtMs = performance.now();
      window.elu = performance.eventLoopUtilization(window.startElu).utilization;
      emit({ type: 'measure-end' });
      resolve(window);
    };
    const tick = (): void => {
      const now = performance.now();
      // A starved generator stops on time anyway: packets it never sent are simply not counted as sent.
      if (now >= measureTo + LATE_STOP_MS) return finish();
      // At most one round per tick: a generator that falls behind shows up as send lateness, not a spiral.
      for (let n = 0; n < streams; n++) {
        const due = t0 + round * PACKET_INTERVAL_MS + (phaseMs[index] ?? 0);
        if (due > now) break;
        if (due >= measureTo) return finish();
        const measured = due >= measureFrom;
        if (measured && !measuring) {
          measuring = true;
          window.startCpuUs = cpuUs();
          window.startAtMs = performance.now();
          window.startElu = performance.eventLoopUtilization();
          emit({ type: 'measure-start' });
        }
        send(index, measured, due);
        if (++index === streams) {
          index = 0;
          round++;
        }
      }
    };
    const timer = setInterval(tick, tickMs);
  });
}

function send(stream: number, measured: boolean, due: number): void {
  const packet = packets[stream];
  if (packet === undefined) return;
  const seq = nextSeq[stream] ?? 0;
  nextSeq[stream] = seq + 1;
  const now = performance.now();
  stampPacket(packet, seq, now * 1e6, measured);
  if (measured) {
    sentMeasured[stream] = (sentMeasured[stream] ?? 0) + 1;
    lateMs.record(now - due);
  }
  socketOf(stream).send(packet);
}

function result(window: Window): object {
  let sent = 0;
  let got = 0;
  let worstStreamLoss = 0;
  for (let s = 0; s < streams; s++) {
    sent += sentMeasured[s] ?? 0;
    got += received[s] ?? 0;
    worstStreamLoss = Math.max(worstStreamLoss, (sentMeasured[s] ?? 0) - (received[s] ?? 0));
  }
  const wallMs = window.endAtMs - window.startAtMs;
  return {
    type: 'result',
    calls,
    streams,
    seconds,
    scheduled: Math.round((streams * seconds * 1000) / PACKET_INTERVAL_MS),
    sent,
    received: got,
    lost: sent - got,
    lossPct: sent === 0 ? 0 : ((sent - got) / sent) * 100,
    worstStreamLoss,
    reordered,
    duplicates,
    foreign,
    unmeasured,
    socketErrors,
    latencyUs: {
      p50: latencyUs.quantile(0.5),
      p90: latencyUs.quantile(0.9),
      p99: latencyUs.quantile(0.99),
      p999: latencyUs.quantile(0.999),
      max: latencyUs.max(),
      mean: latencyUs.mean(),
    },
    sendLateMs: { p50: lateMs.quantile(0.5), p99: lateMs.quantile(0.99), max: lateMs.max() },
    windowMs: wallMs,
    cpuUs: window.endCpuUs - window.startCpuUs,
    cpuPct: ((window.endCpuUs - window.startCpuUs) / (wallMs * 1000)) * 100,
    elu: window.elu,
  };
}

async function main(): Promise<void> {
  await bindAll();
  emit({
    type: 'ports',
    ports: Array.from({ length: calls }, (_, c) => [
      socketOf(2 * c).address().port,
      socketOf(2 * c + 1).address().port,
    ]),
  });
  const lines = createInterface({ input: process.stdin });
  const start = await new Promise<{ targets: [number, number][] }>((resolve) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as { targets: [number, number][] }));
  });
  await connectAll(start.targets);
  emit({ type: 'started' });
  const window = await run();
  await new Promise((resolve) => setTimeout(resolve, drainMs));
  const report = result(window);
  for (const socket of sockets) socket.close();
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
}

process.stdin.on('end', () => process.exit(0));
main().catch((error: unknown) => {
  emit({ type: 'error', message: String(error) });
  process.exit(1);
});
