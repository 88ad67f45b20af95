/** Shared fixtures for the transaction tests: messages, a recording send stub, a recording TU. */
import v8 from 'node:v8';
import vm from 'node:vm';
import { fakeClock } from '../../pbx/core/clock.js';
import type { FakeClock } from '../../pbx/core/clock.js';
import { PbxError } from '../../pbx/core/errors.js';
import { createRequest, createResponse, hdr, parseMessage } from '../../pbx/sip/index.js';
import type { MessageSource, SipMessage, SipRequest, SipResponse } from '../../pbx/sip/index.js';
import { createTransactionLayer } from '../../pbx/transaction/index.js';
import type {
  ClientTransaction,
  ClientTransactionUser,
  Destination,
  TransactionLayer,
} from '../../pbx/transaction/index.js';

export const UDP_DEST: Destination = { transport: 'udp', address: '192.0.2.20', port: 5060 };
export const TCP_DEST: Destination = { transport: 'tcp', address: '192.0.2.20', port: 5060, connectionId: 7 };
export const UDP_SOURCE: MessageSource = { transport: 'udp', address: '192.0.2.10', port: 5062 };
export const TCP_SOURCE: MessageSource = {
  transport: 'tcp',
  address: '192.0.2.10',
  port: 40000,
  connectionId: 3,
};

/** Options for a test request. */
export interface RequestOpts {
  method?: string;
  branch?: string;
  sentBy?: string;
  transport?: 'UDP' | 'TCP';
  cseq?: number;
  cseqMethod?: string;
  toTag?: string;
  uri?: string;
  callId?: string;
}

/** A request as a peer or our TU would build it. */
export function request(opts: RequestOpts = {}): SipRequest {
  const method = opts.method ?? 'INVITE';
  const to = `Bob <sip:bob@biloxi.example.com>${opts.toTag === undefined ? '' : `;tag=${opts.toTag}`}`;
  return createRequest({
    method,
    uri: opts.uri ?? 'sip:bob@biloxi.example.com',
    headers: [
      hdr(
        'Via',
        `SIP/2.0/${opts.transport ?? 'UDP'} ${opts.sentBy ?? '192.0.2.10:5062'};branch=${opts.branch ?? 'z9hG4bK-tx1'};rport`,
      ),
      hdr('Via', 'SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-below'),
      hdr('Route', '<sip:proxy1.example.com;lr>'),
      hdr('Route', '<sip:proxy2.example.com;lr>'),
      hdr('Max-Forwards', 69),
      hdr('From', 'Alice <sip:alice@atlanta.example.com>;tag=fromtag1'),
      hdr('To', to),
      hdr('Call-ID', opts.callId ?? 'call-1@atlanta.example.com'),
      hdr('CSeq', `${opts.cseq ?? 1} ${opts.cseqMethod ?? method}`),
      hdr('Contact', '<sip:alice@192.0.2.10:5062>'),
    ],
  });
}

/** A response to `req` (To tag added for everything but 100). */
export function response(req: SipRequest, status: number, toTag = 'totag9'): SipResponse {
  return createResponse(req, status, undefined, { toTag });
}

/** One message handed to the send stub. */
export interface Sent {
  readonly msg: SipMessage;
  readonly dest: Destination;
  readonly at: number;
}

/** A layer over a fake clock and a recording send stub that can be told to fail. */
export interface Harness {
  readonly clock: FakeClock;
  readonly layer: TransactionLayer;
  readonly sent: Sent[];
  /** Makes the next `n` sends reject (or throw synchronously when `sync`). */
  failSends(n: number, sync?: boolean): void;
  /** Start lines of what was sent, in order. */
  lines(): string[];
  /** Times (ms) at which messages with this start line were sent. */
  timesOf(line: string): number[];
}

/** Builds a harness; the layer runs in virtual time. */
export function harness(timers?: { t1Ms?: number; t2Ms?: number; t4Ms?: number }): Harness {
  const clock = fakeClock();
  const sent: Sent[] = [];
  let failing = 0;
  let syncFail = false;
  const send = (data: Buffer, dest: Destination): Promise<void> => {
    sent.push({ msg: parseMessage(data), dest, at: clock.now() });
    if (failing > 0) {
      failing--;
      const err = new PbxError('PBX_ERR_TRANSPORT_SEND', 'connection refused');
      if (syncFail) throw err;
      return Promise.reject(err);
    }
    return Promise.resolve();
  };
  const layer = createTransactionLayer(timers === undefined ? { clock, send } : { clock, send, timers });
  const line = (m: SipMessage): string => (m.type === 'request' ? m.method : String(m.status));
  return {
    clock,
    layer,
    sent,
    failSends(n, sync = false) {
      failing = n;
      syncFail = sync;
    },
    lines: () => sent.map((s) => line(s.msg)),
    timesOf: (l) => sent.filter((s) => line(s.msg) === l).map((s) => s.at),
  };
}

/** A TU that records what its client transactions told it. */
export interface RecordingUser extends ClientTransactionUser {
  readonly events: string[];
  readonly responses: SipResponse[];
  readonly errors: Error[];
}

/** Builds a recording TU. */
export function recordingUser(): RecordingUser {
  const events: string[] = [];
  const responses: SipResponse[] = [];
  const errors: Error[] = [];
  return {
    events,
    responses,
    errors,
    onResponse(res: SipResponse, tx: ClientTransaction) {
      responses.push(res);
      events.push(`response ${res.status} ${tx.state}`);
    },
    onTimeout(tx: ClientTransaction) {
      events.push(`timeout ${tx.state}`);
    },
    onTransportError(err: Error, tx: ClientTransaction) {
      errors.push(err);
      events.push(`transportError ${tx.state}`);
    },
    onTerminated(tx: ClientTransaction) {
      events.push(`terminated ${tx.state}`);
    },
  };
}

/** Lets rejected sends reach their transactions (they are reported asynchronously). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The request sent at `index`, as a request. */
export function sentRequest(h: Harness, index: number): SipRequest {
  const s = h.sent[index];
  if (s?.msg.type !== 'request') throw new Error(`message ${index} is not a request`);
  return s.msg;
}

/**
 * True when the target of `ref` is garbage-collected after a full GC (V8's gc() through --expose-gc, set at
 * run time). WeakRef targets live until the current job ends, so the collection runs in a later macrotask.
 */
export async function collected(ref: WeakRef<object>): Promise<boolean> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 3 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}
