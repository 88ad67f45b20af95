/** The transaction layer: creates transactions, matches messages to them, wires them to the transport. */
import type { Clock } from '../core/clock.js';
import { PbxError } from '../core/errors.js';
import { responseDestination, serialize, topVia, viaBranch } from '../sip/index.js';
import type { MessageSource, SipMessage, SipRequest, SipResponse } from '../sip/index.js';
import { Listeners, responseInput } from './fsm.js';
import type { TransactionLink } from './fsm.js';
import { InviteClient } from './invite-client.js';
import { InviteServer } from './invite-server.js';
import {
  clientKey,
  hasCookie,
  legacyToTagMatches,
  matchMethod,
  responseKey,
  serverMatch,
} from './matching.js';
import type { ServerMatch } from './matching.js';
import { NonInviteClient } from './non-invite-client.js';
import { NonInviteServer } from './non-invite-server.js';
import { timerConfig, timerDurations } from './timers.js';
import type { TimerConfig } from './timers.js';
import type {
  ClientTransaction,
  ClientTransactionUser,
  Destination,
  InviteServerTransaction,
  RequestDisposition,
  SendFunction,
  ServerTransaction,
  TransactionCounts,
  TransactionLayer,
  TransactionLayerOptions,
} from './types.js';

/** States in which a transaction still waits for its final response (client) or has not sent one (server). */
const AWAITING: ReadonlySet<string> = new Set(['calling', 'trying', 'proceeding']);

type Client = InviteClient | NonInviteClient;
type Server = InviteServer | NonInviteServer;

/** Any thrown or rejected value as an Error. */
function asError(err: unknown): Error {
  return err instanceof Error ? err : new PbxError('PBX_ERR_TRANSACTION_SEND', String(err));
}

/** Creates a transaction layer over an injected clock and send function. */
export function createTransactionLayer(options: TransactionLayerOptions): TransactionLayer {
  return new Layer(options.clock, options.send, timerConfig(options.timers));
}

class Layer implements TransactionLayer {
  private readonly clients = new Map<string, Client>();
  private readonly servers = new Map<string, Server>();
  /** RFC 2543 transactions: several may share a key and differ by To tag. */
  private readonly legacyServers = new Map<string, Server[]>();
  private readonly stray = new Listeners<[SipResponse]>();

  constructor(
    private readonly clock: Clock,
    private readonly sendBytes: SendFunction,
    private readonly cfg: TimerConfig,
  ) {}

  sendRequest(req: SipRequest, dest: Destination, user: ClientTransactionUser): ClientTransaction {
    if (req.method === 'ACK') {
      throw new PbxError('PBX_ERR_TRANSACTION_ACK', 'ACK is not sent in a client transaction (§17.1.1.3)');
    }
    const branch = viaBranch(topVia(req));
    if (!hasCookie(branch)) {
      throw new PbxError('PBX_ERR_TRANSACTION_BRANCH', 'the top Via branch must start with z9hG4bK');
    }
    const key = clientKey(branch, req.method);
    if (this.clients.has(key)) {
      throw new PbxError('PBX_ERR_TRANSACTION_EXISTS', `a client transaction ${key} already exists`);
    }
    const durations = timerDurations(this.cfg, dest.transport === 'tcp');
    const link: TransactionLink = {
      send: (msg) => this.transmit(msg, dest, (error) => tx.handle({ type: 'transportError', error })),
      terminated: () => this.forgetClient(key, tx),
    };
    const tx: Client =
      req.method === 'INVITE'
        ? new InviteClient(key, req, dest, durations, this.clock, user, link)
        : new NonInviteClient(key, req, dest, durations, this.clock, user, link);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  receiveResponse(res: SipResponse): boolean {
    const key = responseKey(res);
    const tx = key === undefined ? undefined : this.clients.get(key);
    if (tx === undefined) {
      this.stray.emit(res);
      return false;
    }
    tx.handle(responseInput(res));
    return true;
  }

  onStrayResponse(handler: (res: SipResponse) => void): void {
    this.stray.add(handler);
  }

  receiveRequest(req: SipRequest, source: MessageSource): RequestDisposition {
    if (req.method === 'ACK') return this.receiveAck(req);
    const existing = this.findServer(req, matchMethod(req));
    if (existing !== undefined) {
      existing.handle({ type: 'request' });
      return { kind: 'retransmission' };
    }
    return { kind: 'new', tx: this.createServer(req, source) };
  }

  isKnown(req: SipRequest): boolean {
    return this.findServer(req, matchMethod(req)) !== undefined;
  }

  findInviteServerTransaction(cancel: SipRequest): InviteServerTransaction | undefined {
    const tx = this.findServer(cancel, 'INVITE');
    return tx?.kind === 'invite' ? tx : undefined;
  }

  unanswered(): number {
    let n = 0;
    for (const tx of this.clients.values()) if (AWAITING.has(tx.state)) n++;
    for (const tx of this.servers.values()) if (AWAITING.has(tx.state)) n++;
    for (const bucket of this.legacyServers.values())
      for (const tx of bucket) if (AWAITING.has(tx.state)) n++;
    return n;
  }

  size(): TransactionCounts {
    let server = this.servers.size;
    for (const bucket of this.legacyServers.values()) server += bucket.length;
    return { client: this.clients.size, server };
  }

  stop(): void {
    for (const tx of this.clients.values()) tx.dispose();
    for (const tx of this.servers.values()) tx.dispose();
    for (const bucket of this.legacyServers.values()) for (const tx of bucket) tx.dispose();
    this.clients.clear();
    this.servers.clear();
    this.legacyServers.clear();
  }

  /** §17.2.3: an ACK goes to its INVITE server transaction; in Accepted, or with none, it is for the TU. */
  private receiveAck(ack: SipRequest): RequestDisposition {
    const tx = this.findServer(ack, 'INVITE');
    if (tx?.kind !== 'invite') return { kind: 'ack2xx' };
    const forTu = tx.state === 'accepted';
    tx.handle({ type: 'ack' });
    return { kind: forTu ? 'ack2xx' : 'ack' };
  }

  private findServer(req: SipRequest, method: string): Server | undefined {
    const match = serverMatch(req, method);
    if (!match.legacy) return this.servers.get(match.key);
    return this.legacyServers
      .get(match.key)
      ?.find((tx) => legacyToTagMatches(req, tx.request, tx.lastResponse));
  }

  private createServer(req: SipRequest, source: MessageSource): ServerTransaction {
    const match = serverMatch(req, matchMethod(req));
    const dest = responseDestination(topVia(req), source);
    const durations = timerDurations(this.cfg, source.transport === 'tcp');
    const link: TransactionLink = {
      send: (msg) => this.transmit(msg, dest, (error) => tx.handle({ type: 'transportError', error })),
      terminated: () => this.forgetServer(match, tx),
    };
    let tx: Server;
    if (req.method === 'INVITE') {
      const invite = new InviteServer(match.key, req, source, dest, durations, this.clock, link);
      invite.start();
      tx = invite;
    } else {
      tx = new NonInviteServer(match.key, req, source, dest, durations, this.clock, link);
    }
    this.rememberServer(match, tx);
    return tx;
  }

  private rememberServer(match: ServerMatch, tx: Server): void {
    if (!match.legacy) {
      this.servers.set(match.key, tx);
      return;
    }
    const bucket = this.legacyServers.get(match.key);
    if (bucket === undefined) this.legacyServers.set(match.key, [tx]);
    else bucket.push(tx);
  }

  private forgetServer(match: ServerMatch, tx: Server): void {
    if (!match.legacy) {
      if (this.servers.get(match.key) === tx) this.servers.delete(match.key);
      return;
    }
    const rest = (this.legacyServers.get(match.key) ?? []).filter((t) => t !== tx);
    if (rest.length === 0) this.legacyServers.delete(match.key);
    else this.legacyServers.set(match.key, rest);
  }

  private forgetClient(key: string, tx: Client): void {
    if (this.clients.get(key) === tx) this.clients.delete(key);
  }

  /** Serializes and sends; a synchronous throw or a rejection becomes the transaction's transport error. */
  private transmit(msg: SipMessage, dest: Destination, onError: (error: Error) => void): void {
    let sending: Promise<void>;
    try {
      sending = this.sendBytes(serialize(msg), dest);
    } catch (err) {
      sending = Promise.reject(asError(err));
    }
    sending.catch((err: unknown) => onError(asError(err)));
  }
}
