import { emptyStats, resolveSettings } from './context.js';
import type { TransportContext } from './context.js';
import { PbxError } from '../core/errors.js';
import { TransportErrorCode, sendError } from './errors.js';
import { TcpListener } from './tcp.js';
import { UdpListener } from './udp.js';
import type {
  ErrorHandler,
  MessageHandler,
  SendDestination,
  SipTransport,
  TransportOptions,
  TransportStats,
} from './types.js';

export {
  DEFAULT_MAX_TCP_CONNECTIONS,
  DEFAULT_TCP_CONNECT_TIMEOUT_MS,
  DEFAULT_TCP_IDLE_TIMEOUT_MS,
  DEFAULT_UDP_BUFFER_BYTES,
  nodeSocketFactory,
} from './context.js';
export { TransportErrorCode } from './errors.js';
export {
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  FramingError,
  StreamFramer,
} from './framing.js';
export type { FrameEvent, FramerLimits, FramingErrorReason } from './framing.js';
export { isKeepAliveDatagram } from './udp.js';
export type {
  ErrorHandler,
  MessageHandler,
  SendDestination,
  SipTransport,
  SocketFactory,
  TransportErrorDetail,
  TransportErrorKind,
  TransportOptions,
  TransportProtocol,
  TransportSource,
  TransportStats,
  UdpReceiveBuffer,
} from './types.js';
export { procLocalAddress, procNetUdpPath, readUdpDrops, udpDropsFromProc } from './proc-net-udp.js';
export type { UdpLocalEnd } from './proc-net-udp.js';

/** With port 0, TCP may find UDP's port taken; try this many fresh UDP ports before giving up. */
const BIND_ATTEMPTS = 5;

const noop = (): void => undefined;

/** Creates the SIP transport (RFC 3261 §18): UDP and TCP on one address and port, I/O only. */
export function createTransport(options: TransportOptions): SipTransport {
  const settings = resolveSettings(options);
  const stats = emptyStats();
  let onMessage: MessageHandler = noop;
  let onError: ErrorHandler = noop;
  const ctx: TransportContext = {
    settings,
    stats,
    deliver(data, source) {
      stats.messagesIn++;
      try {
        onMessage(data, source);
      } catch (error) {
        const { transport, address, port } = source;
        ctx.report('handler', { error: asError(error), transport, address, port });
      }
    },
    report(kind, detail) {
      try {
        onError(kind, detail);
      } catch {
        // an error handler that throws must not take the socket loop down with it
      }
    },
  };
  const udp = settings.udp ? new UdpListener(ctx) : undefined;
  const tcp = settings.tcp ? new TcpListener(ctx) : undefined;
  let state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  const stopped = (): boolean => state === 'stopped';
  let boundPort = 0;
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  /** Binds UDP first, then TCP on the port UDP got; with port 0 a clash on TCP means a fresh try. */
  async function bindAll(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const port = udp === undefined ? settings.port : await udp.bind(settings.port);
      if (tcp === undefined) return port;
      try {
        return await tcp.listen(port);
      } catch (error) {
        await udp?.close();
        const retry = udp !== undefined && settings.port === 0 && isAddressInUse(error);
        if (!retry || attempt >= BIND_ATTEMPTS) throw error;
      }
    }
  }

  return {
    async start() {
      if (state !== 'new')
        throw new PbxError(TransportErrorCode.bind, `transport cannot start when ${state}`);
      state = 'starting';
      const binding = bindAll();
      starting = binding.then(noop, noop);
      try {
        boundPort = await binding;
      } catch (error) {
        state = 'stopped';
        const message = `cannot bind ${settings.listen}:${settings.port}: ${asError(error).message}`;
        throw new PbxError(TransportErrorCode.bind, message, { cause: error });
      }
      if (stopped()) throw new PbxError(TransportErrorCode.bind, 'transport stopped while starting');
      state = 'running';
    },
    stop() {
      state = 'stopped';
      // A stop during start waits for the bind to finish, so no socket it opens outlives the stop.
      stopping ??= (starting ?? Promise.resolve())
        .then(() => Promise.all([udp?.close(), tcp?.close()]))
        .then(noop);
      return stopping;
    },
    address: () => ({ address: settings.listen, port: boundPort }),
    onMessage(handler) {
      onMessage = handler;
    },
    onError(handler) {
      onError = handler;
    },
    send(dest: SendDestination, data: Buffer) {
      if (state === 'running' && dest.transport === 'udp' && udp !== undefined) {
        return udp.send(dest.address, dest.port, data);
      }
      if (state === 'running' && dest.transport === 'tcp' && tcp !== undefined) return tcp.send(dest, data);
      stats.sendErrors++;
      return Promise.reject(sendError(`${dest.transport.toUpperCase()} transport is not running`));
    },
    stats(): TransportStats {
      return { ...stats };
    },
    udpReceiveBuffer: () => udp?.receiveBuffer(),
  };
}

function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
