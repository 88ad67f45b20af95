/**
 * A paced UDP caller for bench/redis: INVITE -> 200 timed with `performance.now()` (SIPp's response times
 * have a 1 ms resolution, too coarse for a sub-millisecond difference), ACK, hold, BYE -> 200.
 * No retransmissions: on loopback a lost datagram is rare and counts as a failed call.
 */
import { createSocket } from 'node:dgram';
import { buildRequest, parseResponse, sdpOffer } from '../../e2e/harness/sip-client.js';

/** What `runCaller` measured. */
export interface CallerResult {
  /** INVITE sent -> first 200 received, in milliseconds, per answered call. */
  readonly setupMs: number[];
  /** Calls that did not complete (no 200 to the INVITE or the BYE within the deadline). */
  readonly failed: number;
  /** Final responses received, by status code (retransmissions included). */
  readonly statuses: ReadonlyMap<number, number>;
}

interface Pending {
  sentAt: number;
  toTag?: string;
  done: boolean;
}

/** Places `calls` calls at `rate` per second to `target`, each held `holdMs`, and resolves when all ended. */
export async function runCaller(o: {
  target: { host: string; port: number };
  calls: number;
  rate: number;
  holdMs: number;
}): Promise<CallerResult> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((done) => socket.bind(0, '127.0.0.1', () => done()));
  const local = { host: '127.0.0.1', port: socket.address().port };
  const pending = new Map<string, Pending>();
  const setupMs: number[] = [];
  const statuses = new Map<number, number>();
  let finished = 0;
  let resolveAll: () => void = () => undefined;
  const allDone = new Promise<void>((r) => (resolveAll = r));
  const send = (buf: Buffer): void => socket.send(buf, o.target.port, o.target.host);
  const common = (callId: string, method: string, cseq: number, toTag?: string) => ({
    method,
    target: o.target,
    local,
    transport: 'UDP' as const,
    branch: `z9hG4bK-${callId}-${method}-${cseq}`,
    callId,
    cseq,
    fromTag: `f-${callId}`,
    ...(toTag === undefined ? {} : { toTag }),
  });

  socket.on('message', (msg) => {
    const now = performance.now();
    const res = parseResponse(msg);
    if (res === undefined || res.status < 200) return;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const callId = res.header('Call-ID')[0] ?? '';
    const call = pending.get(callId);
    const method = (res.header('CSeq')[0] ?? '').split(/\s+/)[1];
    if (call === undefined) return;
    if (method === 'INVITE' && res.status === 200) {
      const first = call.toTag === undefined;
      call.toTag = res.toTag;
      send(buildRequest(common(callId, 'ACK', 1, res.toTag)));
      if (!first) return;
      setupMs.push(now - call.sentAt);
      setTimeout(() => send(buildRequest(common(callId, 'BYE', 2, res.toTag))), o.holdMs);
    } else if (method === 'BYE' && !call.done) {
      call.done = true;
      if (++finished === o.calls) resolveAll();
    }
  });

  const started = performance.now();
  for (let i = 0; i < o.calls; i++) {
    const due = started + (i * 1000) / o.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const callId = `bench-${process.pid}-${i}`;
    const body = sdpOffer('127.0.0.1', 30000 + (i % 1000) * 2);
    pending.set(callId, { sentAt: performance.now(), done: false });
    send(buildRequest({ ...common(callId, 'INVITE', 1), body }));
  }
  const deadline = new Promise<void>((r) => setTimeout(r, o.holdMs + 10_000));
  await Promise.race([allDone, deadline]);
  socket.close();
  return { setupMs, failed: o.calls - finished, statuses };
}
