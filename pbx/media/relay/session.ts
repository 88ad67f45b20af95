import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { systemClock } from '../../core/clock.js';
import { addCounters, createRelayCounters } from './counters.js';
import { MediaSessionError } from './errors.js';
import { InactivityMonitor } from './inactivity.js';
import { RelayLine } from './line.js';
import type { LineSockets } from './line.js';
import type { MediaLine } from './media-line.js';
import { openNativeLine } from './native-line.js';
import { loadNativeRelay } from './native.js';
import { bindConsecutive, connectedFlowsByDefault, dgramSocketFactory } from './sockets.js';
import type { MediaSessionOptions, RelayEngine } from './session-options.js';
import type { MediaSocketFactory, RelayCounters } from './types.js';

/** Ports per media line: A-RTP, A-RTCP, B-RTP, B-RTCP. */
const PORTS_PER_LINE = 4;

/** Binds the sockets of a call's media lines on its port block; rejects with MediaBindError when a port is taken. */
export function createMediaSession(options: MediaSessionOptions): Promise<MediaSession> {
  return MediaSession.open(options);
}

/**
 * The media of one call: owns its RelayLines (one per `m=`), the inactivity check and, through `onClose`,
 * its port block. `close()` closes the children and may be called any number of times.
 */
export class MediaSession {
  /** Identifier for logs and the management API. */
  readonly id: string;
  /** First port of the block the lines bind on. */
  readonly basePort: number;
  readonly #maxLines: number;
  readonly #listen: string;
  readonly #family: 4 | 6;
  readonly #factory: MediaSocketFactory;
  readonly #connectedFlows: boolean;
  /** Which relay runs this session's lines. */
  readonly engine: 'native' | 'node';
  readonly #aggregate: RelayCounters;
  readonly #lines = new Map<number, MediaLine>();
  readonly #opening = new Map<number, Promise<MediaLine>>();
  readonly #monitor: InactivityMonitor;
  readonly #onClose: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  /** Creates the session and opens its first `options.lines` lines; on failure nothing stays bound and `onClose` is not called. */
  static async open(options: MediaSessionOptions): Promise<MediaSession> {
    const session = new MediaSession(options);
    try {
      for (let i = 0; i < (options.lines ?? 1); i++) await session.openLine(i);
    } catch (error) {
      await session.#shutdown(false);
      throw error;
    }
    return session;
  }

  private constructor(options: MediaSessionOptions) {
    const family = isIP(options.listen);
    if (family === 0)
      throw new MediaSessionError(`media listen address ${options.listen} is not an IP literal`);
    this.id = options.id ?? `media-${options.block.start}`;
    this.basePort = options.block.start;
    this.#maxLines = Math.floor(options.block.size / PORTS_PER_LINE);
    this.#listen = options.listen;
    this.#family = family === 6 ? 6 : 4;
    this.#factory = options.socketFactory ?? dgramSocketFactory;
    this.#connectedFlows = options.connectedFlows ?? connectedFlowsByDefault;
    this.engine = resolveRelayEngine(options.engine ?? 'auto');
    this.#aggregate = options.counters ?? createRelayCounters();
    this.#onClose = options.onClose;
    const onInactive = options.onInactive;
    this.#monitor = new InactivityMonitor(
      options.clock ?? systemClock(),
      options.inactivityCheckMs ?? 1000,
      () => this.rtpReceived(),
      () => onInactive?.(this),
    );
    this.#monitor.arm(options.inactivityTimeoutMs ?? 0);
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The line for `m=` number `index`, if open. */
  line(index: number): MediaLine | undefined {
    return this.#lines.get(index);
  }

  /** Open lines in index order. */
  lines(): MediaLine[] {
    return [...this.#lines.values()].sort((x, y) => x.index - y.index);
  }

  /** Opens the line for `m=` number `index` on block ports +4·index … +4·index+3 (a re-INVITE adding video). */
  openLine(index: number): Promise<MediaLine> {
    if (this.closed) return Promise.reject(new MediaSessionError(`media session ${this.id} is closed`));
    if (!Number.isInteger(index) || index < 0 || index >= this.#maxLines) {
      return Promise.reject(
        new MediaSessionError(`media line ${index} does not fit a block of this session`),
      );
    }
    const open = this.#lines.get(index) ?? this.#opening.get(index);
    if (open !== undefined) return Promise.resolve(open);
    const opening = this.#bindLine(index).finally(() => this.#opening.delete(index));
    this.#opening.set(index, opening);
    return opening;
  }

  /** RTP packets accepted from either party on every line so far. */
  rtpReceived(): number {
    let n = 0;
    for (const line of this.#lines.values()) n += line.rtpReceived();
    return n;
  }

  /** A snapshot of this session's counters, summed over its lines. */
  counters(): RelayCounters {
    const sum = createRelayCounters();
    for (const line of this.#lines.values()) addCounters(sum, line.counters);
    return sum;
  }

  /** Changes the media timeout, counted from now; 0 disables it (hold: RFC 3264 §8.4 allows silence). */
  setInactivityTimeout(timeoutMs: number): void {
    if (!this.closed) this.#monitor.arm(timeoutMs);
  }

  /** Closes every line and the timer, then calls `onClose` (which releases the port block) exactly once. */
  close(): Promise<void> {
    return this.#shutdown(true);
  }

  async #bindLine(index: number): Promise<MediaLine> {
    const first = this.basePort + index * PORTS_PER_LINE;
    if (this.engine === 'native') {
      const options = { index, family: this.#family, listen: this.#listen, firstPort: first };
      return this.#adopt(openNativeLine({ ...options, aggregate: this.#aggregate }));
    }
    const connected = this.#connectedFlows;
    const sockets = await bindConsecutive(this.#factory, this.#listen, first, PORTS_PER_LINE, connected);
    const factory = connected ? this.#factory : undefined;
    return this.#adopt(new RelayLine(index, this.#family, toQuad(sockets), this.#aggregate, factory));
  }

  async #adopt(line: MediaLine): Promise<MediaLine> {
    if (this.closed) {
      await line.close();
      throw new MediaSessionError(`media session ${this.id} closed while line ${line.index} was opening`);
    }
    this.#lines.set(line.index, line);
    return line;
  }

  #shutdown(notify: boolean): Promise<void> {
    this.#closing ??= this.#closeAll(notify);
    return this.#closing;
  }

  async #closeAll(notify: boolean): Promise<void> {
    this.#monitor.stop();
    await Promise.allSettled(this.#opening.values());
    await Promise.all([...this.#lines.values()].map((line) => line.close()));
    if (notify) this.#onClose?.();
  }
}

function toQuad(sockets: readonly Socket[]): LineSockets {
  const [aRtp, aRtcp, bRtp, bRtcp] = sockets;
  if (aRtp === undefined || aRtcp === undefined || bRtp === undefined || bRtcp === undefined) {
    throw new MediaSessionError(`a media line needs ${PORTS_PER_LINE} sockets, got ${sockets.length}`);
  }
  return [aRtp, aRtcp, bRtp, bRtcp];
}

/**
 * The engine a session runs on: `auto` is the native relay when its addon is loaded (Linux, built by
 * `make build`), else the Node one; `native` fails with the reason when the addon is unavailable.
 */
export function resolveRelayEngine(engine: RelayEngine): 'native' | 'node' {
  if (engine === 'node') return 'node';
  const load = loadNativeRelay();
  if (load.ok) return 'native';
  if (engine === 'native') throw new MediaSessionError(`media.relayEngine is native, but ${load.reason}`);
  return 'node';
}
