/**
 * Dialog state (RFC 3261 §12): Call-ID, tags, local and remote CSeq, URIs, remote target and route
 * set, and the requests built within it. One Dialog per leg; the B2BUA owns two per call.
 */
import {
  BRANCH_COOKIE,
  contacts,
  createRequest,
  cseq,
  fromHeader,
  hdr,
  header,
  routeSet,
  tagOf,
  toHeader,
  viaValue,
} from '../sip/index.js';
import type { SipHeader, SipRequest, SipResponse } from '../sip/index.js';

/** Early after a provisional response with a To tag, confirmed after a 2xx (§12.1). */
export type DialogState = 'early' | 'confirmed' | 'terminated';

/** Which side of the dialog we are: UAS (we received the INVITE) or UAC (we sent it). */
export type DialogRole = 'uas' | 'uac';

/** One leg's dialog. Mutable by design: CSeq numbers and the remote target move as requests pass. */
export interface Dialog {
  readonly role: DialogRole;
  readonly callId: string;
  readonly localTag: string;
  /** Undefined for a UAC dialog until the first response with a To tag. */
  remoteTag: string | undefined;
  /** The From (UAC) or To (UAS) header value we write, without tag. */
  readonly localUri: string;
  readonly remoteUri: string;
  /** Our next CSeq is localSeq + 1; ACK and CANCEL reuse the INVITE's. */
  localSeq: number;
  /** Highest CSeq received from the peer; undefined before the first request. */
  remoteSeq: number | undefined;
  /** Contact of the peer: the Request-URI of our in-dialog requests (§12.2.1.1). */
  remoteTarget: string;
  /** Route set: Record-Route of the request (UAS, in order) or of the response (UAC, reversed). */
  routes: string[];
  state: DialogState;
}

/** The URI inside a name-addr header value (`"A" <sip:a@h>;tag=1` -> `sip:a@h`). */
function headerUri(value: string): string {
  const lt = value.indexOf('<');
  const gt = value.indexOf('>', lt);
  if (lt !== -1 && gt !== -1) return value.slice(lt, gt + 1);
  const semi = value.indexOf(';');
  return semi === -1 ? value : value.slice(0, semi);
}

/** A UAS dialog from a received INVITE and the tag we give it (§12.1.1). */
export function uasDialog(invite: SipRequest, localTag: string): Dialog {
  const from = fromHeader(invite);
  const list = contacts(invite);
  const target = list === '*' ? undefined : list[0]?.uri;
  return {
    role: 'uas',
    callId: header(invite, 'call-id') ?? '',
    localTag,
    remoteTag: tagOf(from),
    localUri: headerUri(header(invite, 'to') ?? ''),
    remoteUri: headerUri(header(invite, 'from') ?? ''),
    localSeq: 0,
    remoteSeq: cseq(invite).seq,
    remoteTarget: target ?? invite.uri,
    routes: routeSet(invite, 'record-route').map((r) => `<${r.uri}>`),
    state: 'early',
  };
}

/** Fields of the INVITE a UAC dialog starts with. */
export interface UacDialogSpec {
  readonly callId: string;
  readonly localTag: string;
  readonly localUri: string;
  readonly remoteUri: string;
  readonly remoteTarget: string;
  readonly initialSeq: number;
}

/** A UAC dialog, before any response (§12.1.2 completes it from the response). */
export function uacDialog(spec: UacDialogSpec): Dialog {
  return {
    role: 'uac',
    callId: spec.callId,
    localTag: spec.localTag,
    remoteTag: undefined,
    localUri: spec.localUri,
    remoteUri: spec.remoteUri,
    localSeq: spec.initialSeq,
    remoteSeq: undefined,
    remoteTarget: spec.remoteTarget,
    routes: [],
    state: 'early',
  };
}

/** Completes a UAC dialog from a response with a To tag (§12.1.2): tag, target, reversed route set. */
export function applyUacResponse(dialog: Dialog, res: SipResponse): void {
  const tag = tagOf(toHeader(res));
  if (tag !== undefined) dialog.remoteTag = tag;
  const list = contacts(res);
  const target = list === '*' ? undefined : list[0]?.uri;
  if (target !== undefined) dialog.remoteTarget = target;
  if (dialog.state === 'early')
    dialog.routes = routeSet(res, 'record-route')
      .map((r) => `<${r.uri}>`)
      .reverse();
  if (res.status >= 200 && res.status < 300) dialog.state = 'confirmed';
}

/** Updates the remote target from a target-refresh request or its 2xx (§12.2.1.2, §12.2.2). */
export function refreshTarget(dialog: Dialog, msg: SipRequest | SipResponse): void {
  const list = contacts(msg);
  const target = list === '*' ? undefined : list[0]?.uri;
  if (target !== undefined) dialog.remoteTarget = target;
}

/**
 * Checks the CSeq of an in-dialog request (§12.2.2): lower than the last one is out of order
 * (the UAS answers 500). ACK and CANCEL carry the INVITE's number and are not checked.
 */
export function acceptRemoteSeq(dialog: Dialog, req: SipRequest): boolean {
  if (req.method === 'ACK' || req.method === 'CANCEL') return true;
  const seq = cseq(req).seq;
  if (dialog.remoteSeq !== undefined && seq <= dialog.remoteSeq) return false;
  dialog.remoteSeq = seq;
  return true;
}

/** How this element addresses itself in requests it sends. */
export interface LocalAddress {
  readonly transport: 'udp' | 'tcp';
  /** Advertised host (IPv6 with brackets) and port for Via and Contact. */
  readonly host: string;
  readonly port: number;
}

/** Options for a request built within a dialog. */
export interface InDialogRequestOptions {
  readonly branch: string;
  readonly local: LocalAddress;
  readonly contact?: string;
  readonly headers?: readonly SipHeader[];
  readonly body?: Buffer;
  readonly contentType?: string;
  /** For ACK: the CSeq number of the INVITE it acknowledges. */
  readonly seq?: number;
  readonly maxForwards?: number;
}

/**
 * A request within the dialog (§12.2.1.1): Request-URI = remote target with loose routing, Route set,
 * From/To with tags, Call-ID, a new CSeq (ACK and CANCEL reuse the INVITE's), Via, Max-Forwards.
 */
export function inDialogRequest(dialog: Dialog, method: string, opts: InDialogRequestOptions): SipRequest {
  let seq: number;
  if (opts.seq !== undefined) seq = opts.seq;
  else {
    dialog.localSeq += 1;
    seq = dialog.localSeq;
  }
  const headers: SipHeader[] = [
    hdr('Via', viaValue(opts.local.transport, opts.local.host, opts.local.port, opts.branch)),
    hdr('Max-Forwards', opts.maxForwards ?? 70),
    ...dialog.routes.map((r) => hdr('Route', r)),
    hdr('From', `${dialog.localUri};tag=${dialog.localTag}`),
    hdr(
      'To',
      dialog.remoteTag === undefined ? dialog.remoteUri : `${dialog.remoteUri};tag=${dialog.remoteTag}`,
    ),
    hdr('Call-ID', dialog.callId),
    hdr('CSeq', `${seq} ${method}`),
  ];
  if (opts.contact !== undefined) headers.push(hdr('Contact', opts.contact));
  if (opts.headers !== undefined) headers.push(...opts.headers);
  return createRequest({
    method,
    uri: stripBrackets(dialog.remoteTarget),
    headers,
    ...(opts.body === undefined ? {} : { body: opts.body }),
    ...(opts.contentType === undefined ? {} : { contentType: opts.contentType }),
  });
}

function stripBrackets(uri: string): string {
  return uri.startsWith('<') && uri.endsWith('>') ? uri.slice(1, -1) : uri;
}

/** A fresh branch with the RFC 3261 magic cookie (§8.1.1.7). */
export function newBranch(token: string): string {
  return `${BRANCH_COOKIE}${token}`;
}
