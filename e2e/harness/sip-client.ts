// A tiny raw SIP client for e2e tests: builds requests, matches responses by Via branch, retransmits over UDP.
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Socket as TcpSocket } from 'node:net';

/** A SIP response as received: status, reason, raw text and header lookup. */
export interface SipResponse {
  /** Status code, e.g. 200. */
  status: number;
  /** Reason phrase. */
  reason: string;
  /** The whole message as latin1 text. */
  raw: string;
  /** Values of every header named `name` (case-insensitive, compact forms not expanded). */
  header(name: string): string[];
  /** The `branch` parameter of the top Via, or '' when absent. */
  branch: string;
  /** The `tag` parameter of the To header, or '' when absent. */
  toTag: string;
}

/** Fields of a request built by `buildRequest`. */
export interface RequestSpec {
  method: string;
  /** Where the pbx listens, for the Request-URI and To. */
  target: { host: string; port: number };
  /** Our address, for Via and Contact. */
  local: { host: string; port: number };
  transport: 'UDP' | 'TCP';
  branch: string;
  callId: string;
  cseq?: number;
  fromTag?: string;
  /** To tag, for an ACK to a non-2xx final response (RFC 3261 §17.1.1.3). */
  toTag?: string;
  /** Extra header lines without CRLF. */
  headers?: string[];
  body?: string;
  contentType?: string;
}

/** Builds a well-formed request (RFC 3261 §8.1.1 mandatory headers, correct Content-Length). */
export function buildRequest(s: RequestSpec): Buffer {
  const body = s.body ?? '';
  const uri = `sip:pbx@${s.target.host}:${s.target.port}`;
  const lines = [
    `${s.method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/${s.transport} ${s.local.host}:${s.local.port};branch=${s.branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:e2e@${s.local.host}>;tag=${s.fromTag ?? 'e2e'}`,
    `To: <${uri}>${s.toTag === undefined ? '' : `;tag=${s.toTag}`}`,
    `Call-ID: ${s.callId}`,
    `CSeq: ${s.cseq ?? 1} ${s.method}`,
    `Contact: <sip:e2e@${s.local.host}:${s.local.port}>`,
    ...(s.headers ?? []),
    ...(body === '' ? [] : [`Content-Type: ${s.contentType ?? 'application/sdp'}`]),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
}

/** One audio stream of an SDP body built by `sdpAudio`. */
export interface SdpAudioSpec {
  /** The o= line's `<username> <sess-id> <sess-version>` (RFC 8866 §5.2), e.g. `e2e 1 1`. */
  origin: string;
  /** The m= line's payload types, e.g. `0 8`. */
  formats: string;
  /** The media-level a= lines. */
  attributes: readonly string[];
}

/** An SDP body (RFC 8866 §5) with one audio stream on `host`:`port`, CRLF line ends. */
export function sdpAudio(host: string, port: number, media: SdpAudioSpec): string {
  return [
    'v=0',
    `o=${media.origin} IN IP4 ${host}`,
    's=-',
    `c=IN IP4 ${host}`,
    't=0 0',
    `m=audio ${port} RTP/AVP ${media.formats}`,
    ...media.attributes,
    '',
  ].join('\r\n');
}

/** A minimal SDP offer for INVITEs: PCMU and PCMA. */
export function sdpOffer(host: string, port: number): string {
  return sdpAudio(host, port, {
    origin: 'e2e 1 1',
    formats: '0 8',
    attributes: ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000'],
  });
}

/** Parses a response's start line and headers; undefined for requests and garbage. */
export function parseResponse(data: Buffer): SipResponse | undefined {
  const raw = data.toString('latin1');
  const start = /^SIP\/2\.0 (\d{3}) ([^\r\n]*)\r?\n/.exec(raw);
  if (start === null) return undefined;
  const headEnd = raw.indexOf('\r\n\r\n');
  const lines = raw.slice(0, headEnd < 0 ? raw.length : headEnd).split(/\r?\n/);
  const header = (name: string): string[] => {
    const prefix = `${name.toLowerCase()}:`;
    return lines.filter((l) => l.toLowerCase().startsWith(prefix)).map((l) => l.slice(prefix.length).trim());
  };
  const param = (value: string | undefined, key: string): string =>
    new RegExp(`;\\s*${key}=([^;,>\\s]+)`, 'i').exec(value ?? '')?.[1] ?? '';
  return {
    status: Number(start[1]),
    reason: start[2] ?? '',
    raw,
    header,
    branch: param(header('Via')[0], 'branch'),
    toTag: param(header('To')[0], 'tag'),
  };
}

/** A UDP socket on 127.0.0.1 that sends requests and routes responses to waiters by branch. */
export class UdpSipClient {
  readonly #socket: UdpSocket;
  readonly #waiters = new Map<string, (r: SipResponse) => void>();
  /** Every response received, counted by status code (including those nobody waited for). */
  readonly statusCounts = new Map<number, number>();
  /** Datagrams received that were not SIP responses. */
  nonResponses = 0;

  private constructor(socket: UdpSocket) {
    this.#socket = socket;
    socket.on('message', (msg) => this.#onMessage(msg));
  }

  /** Opens a client socket bound to an ephemeral port on 127.0.0.1. */
  static async open(): Promise<UdpSipClient> {
    // A large receive buffer: floods make the pbx answer (and retransmit 501s) faster than a busy test reads.
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    await new Promise<void>((done, fail) => {
      socket.once('error', fail);
      socket.bind(0, '127.0.0.1', () => done());
    });
    return new UdpSipClient(socket);
  }

  /** Our local address, for Via and Contact. */
  get local(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.#socket.address().port };
  }

  #onMessage(msg: Buffer): void {
    const res = parseResponse(msg);
    if (res === undefined) {
      this.nonResponses++;
      return;
    }
    this.statusCounts.set(res.status, (this.statusCounts.get(res.status) ?? 0) + 1);
    const waiter = this.#waiters.get(res.branch);
    if (waiter !== undefined && res.status >= 200) {
      this.#waiters.delete(res.branch);
      waiter(res);
    }
  }

  /** Sends one datagram; resolves once the kernel has taken it. */
  send(data: Buffer, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((done, fail) => this.#socket.send(data, port, host, (e) => (e ? fail(e) : done())));
  }

  /**
   * Sends `request` and resolves with the first final response carrying `branch`, retransmitting
   * like RFC 3261 Timer E (100 ms doubling, capped at 1 s) until `timeoutMs`.
   */
  async request(request: Buffer, branch: string, port: number, timeoutMs = 5_000): Promise<SipResponse> {
    const response = new Promise<SipResponse>((done) => this.#waiters.set(branch, done));
    const started = Date.now();
    let interval = 100;
    let timer: NodeJS.Timeout | undefined;
    const retransmit = async (): Promise<void> => {
      await this.send(request, port);
      if (Date.now() - started + interval > timeoutMs) return;
      timer = setTimeout(() => void retransmit(), interval);
      interval = Math.min(interval * 2, 1_000);
    };
    const deadline = new Promise<never>((_, fail) => {
      const t = setTimeout(
        () => fail(new Error(`no final response for branch ${branch} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      void response.finally(() => clearTimeout(t));
    });
    try {
      await retransmit();
      return await Promise.race([response, deadline]);
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(branch);
    }
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return new Promise((done) => this.#socket.close(() => done()));
  }
}

/** Splits a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3); returns the rest. */
export function frameMessages(buffer: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let rest = buffer;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const head = rest.subarray(0, headEnd).toString('latin1');
    const length = Number(/^(?:content-length|l)\s*:\s*(\d+)/im.exec(head)?.[1] ?? 0);
    const end = headEnd + 4 + length;
    if (rest.length < end) break;
    messages.push(rest.subarray(0, end));
    rest = rest.subarray(end);
  }
  return { messages, rest };
}

/** Opens a TCP connection to 127.0.0.1:`port`. */
export async function tcpConnect(port: number): Promise<TcpSocket> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((done, fail) => {
    socket.once('connect', done);
    socket.once('error', fail);
  });
  return socket;
}

/** Sends `request` on a new TCP connection and resolves with the first final response with `branch`. */
export async function tcpRequest(
  request: Buffer,
  branch: string,
  port: number,
  timeoutMs = 5_000,
): Promise<SipResponse> {
  const socket = await tcpConnect(port);
  try {
    return await new Promise<SipResponse>((done, fail) => {
      let pending: Buffer = Buffer.alloc(0);
      const timer = setTimeout(
        () => fail(new Error(`no TCP response for ${branch} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.on('data', (chunk: Buffer) => {
        const framed = frameMessages(Buffer.concat([pending, chunk]));
        pending = framed.rest;
        for (const m of framed.messages) {
          const res = parseResponse(m);
          if (res !== undefined && res.branch === branch && res.status >= 200) {
            clearTimeout(timer);
            done(res);
          }
        }
      });
      socket.once('error', fail);
      socket.once('close', () => fail(new Error('pbx closed the TCP connection before answering')));
      socket.write(request);
    });
  } finally {
    socket.destroy();
  }
}
