/**
 * The SIP endpoint: transport bytes in, parsed and validated messages through the transaction layer to
 * the transaction user, responses back out. Malformed input is dropped (unparseable) or refused with
 * 400/505 (answerable), and counted; nothing a peer sends can throw past this module.
 */
import type { Logger } from '../core/logger.js';
import {
  SipParseError,
  createResponse,
  hdr,
  header,
  parseMessage,
  responseDestination,
  serialize,
  stampVia,
  topVia,
  validateRequest,
  validateResponse,
} from '../sip/index.js';
import type { MessageSource, ParseLimits, SipRequest, SipResponse } from '../sip/index.js';
import type { ServerTransaction, TransactionLayer, TransactionUser } from '../transaction/index.js';
import type { SendDestination, SipTransport, TransportSource } from '../transport/index.js';
import { RefusalMemory } from './refusals.js';
import type { RefusalMemoryOptions } from './refusals.js';

export type { TransactionUser };

/** The counters the stack moves (the metrics layer implements them; prom-client counters fit). */
export interface StackMetrics {
  readonly sipMalformed: { inc(): void };
  readonly sipRequests: { inc(labels: { method: string }): void };
  readonly sipResponses: { inc(labels: { code: string }): void };
}

/** Options of createSipStack. */
export interface SipStackOptions {
  readonly transport: SipTransport;
  readonly transactions: TransactionLayer;
  readonly limits: ParseLimits;
  readonly metrics: StackMetrics;
  readonly logger: Logger;
  /** Remembers stateless INVITE refusals so their retransmissions get the same answer (refusals.ts). */
  readonly refusals?: RefusalMemoryOptions;
  /** `Server` header value added to every response the pbx sends without one (`sip.userAgent`). */
  readonly server?: string;
}

/** The running endpoint. */
export interface SipStack {
  /** Sets the transaction user; until then requests get 503. */
  setUser(user: TransactionUser): void;
  /** Sends a response through its server transaction and counts it. */
  respond(tx: ServerTransaction, res: SipResponse): void;
  /** Feeds one message from the transport (exposed for tests; `start` wires the transport to it). */
  receive(data: Buffer, source: TransportSource): void;
}

/** An INVITE that starts a dialog: no To tag (RFC 3261 §12.1). */
function isInitialInvite(req: SipRequest): boolean {
  return req.method === 'INVITE' && !/;\s*tag\s*=/i.test(header(req, 'to') ?? '');
}

/** Wires transport -> parser -> validation -> transaction layer -> user. */
export function createSipStack(options: SipStackOptions): SipStack {
  const { transport, transactions, limits, metrics, logger } = options;
  let user: TransactionUser | undefined;
  const refusals = options.refusals === undefined ? undefined : new RefusalMemory(options.refusals);
  const serverHeader = options.server === undefined ? undefined : hdr('Server', options.server);
  /** RFC 3261 §20.35: our responses name our software, unless the responder set its own. */
  const signed = (res: SipResponse): SipResponse =>
    serverHeader === undefined || header(res, 'server') !== undefined
      ? res
      : { ...res, headers: [...res.headers, serverHeader] };

  const sendStateless = (req: SipRequest, res: SipResponse, source: MessageSource): void => {
    let dest: SendDestination;
    try {
      // Stamp first: the answer goes where the request came from, never where its Via claims.
      dest = responseDestination(topVia(stampVia(req, source)), source);
    } catch {
      return; // no usable Via: nowhere to answer (RFC 3261 §18.2.2)
    }
    metrics.sipResponses.inc({ code: String(res.status) });
    transport.send(dest, serialize(signed(res))).catch((err: unknown) => {
      logger.debug({ err, dest }, 'stateless response not sent');
    });
  };

  /** Refuses an invalid request statelessly; true when it was invalid. */
  const refuseInvalid = (req: SipRequest, source: MessageSource): boolean => {
    const rejection = validateRequest(req);
    if (rejection === null) return false;
    metrics.sipMalformed.inc();
    logger.debug({ reason: rejection.reason, source }, 'invalid request refused');
    if (req.method !== 'ACK') {
      const headers = rejection.headers ?? [];
      sendStateless(req, createResponse(req, rejection.status, rejection.reason, { headers }), source);
    }
    return true;
  };

  /** Admission before any state: true when the INVITE was dropped or refused here. */
  const screened = (req: SipRequest, source: MessageSource): boolean => {
    if (!isInitialInvite(req) || user?.screen === undefined || transactions.isKnown(req)) return false;
    const earlier = refusals?.recall(req);
    if (earlier !== undefined) {
      sendStateless(req, earlier, source); // a retransmission of a refused INVITE: the same answer
      return true;
    }
    const verdict = user.screen(req, source);
    if (verdict === undefined) return false;
    if (verdict !== 'drop') {
      refusals?.remember(req, verdict);
      sendStateless(req, verdict, source);
    }
    return true;
  };

  const onRequest = (req: SipRequest, source: MessageSource): void => {
    if (refuseInvalid(req, source)) return;
    const stamped = stampVia(req, source);
    if (screened(stamped, source)) return;
    const disposition = transactions.receiveRequest(stamped, source);
    switch (disposition.kind) {
      case 'new':
        metrics.sipRequests.inc({ method: stamped.method });
        if (user === undefined) stack.respond(disposition.tx, createResponse(stamped, 503, 'Starting'));
        else user.onRequest(disposition.tx, stamped);
        return;
      case 'ack2xx':
        metrics.sipRequests.inc({ method: 'ACK' });
        user?.onAck(stamped, source);
        return;
      case 'retransmission':
      case 'ack':
        return;
    }
  };

  const onResponse = (res: SipResponse): void => {
    if (validateResponse(res) !== null) {
      metrics.sipMalformed.inc();
      return;
    }
    transactions.receiveResponse(res);
  };

  const stack: SipStack = {
    setUser(u) {
      user = u;
    },
    respond(tx, res) {
      metrics.sipResponses.inc({ code: String(res.status) });
      tx.respond(signed(res));
    },
    receive(data, source) {
      let msg;
      try {
        msg = parseMessage(data, limits);
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
        metrics.sipMalformed.inc();
        logger.debug(
          { reason: err.reason, source: `${source.address}:${source.port}` },
          'unparseable message dropped',
        );
        return;
      }
      try {
        if (msg.type === 'request') onRequest(msg, source);
        else onResponse(msg);
      } catch (err) {
        // Validation checked every header the layers below read; a parse error here is a gap in it.
        if (!(err instanceof SipParseError)) throw err;
        metrics.sipMalformed.inc();
        logger.warn({ reason: err.reason }, 'message refused after validation');
      }
    },
  };
  transport.onMessage((data, source) => stack.receive(data, source));
  return stack;
}
