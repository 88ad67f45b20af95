/** One ioredis connection with fail-fast behaviour, up/down tracking and typed errors for both stores. */
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { RegistryUnavailable } from './errors.js';
import * as callScripts from './redis-scripts-calls.js';
import * as locationScripts from './redis-scripts-locations.js';

/** Connection options of the Redis backend (config `registry.redis`, secrets from file or env). */
export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://` for TLS. */
  readonly url: string;
  /** Prepended to every key (default `sippbx:`). */
  readonly keyPrefix?: string;
  /** Overrides a password in the URL. */
  readonly password?: string;
  /** TLS on (`true`) or Node TLS options (CA, client certificate, servername). */
  readonly tls?: boolean | ConnectionOptions;
  /** Milliseconds a connection attempt may take (default 2000). */
  readonly connectTimeoutMs?: number;
  /** Milliseconds a command may wait for its reply before it fails (default 500). */
  readonly commandTimeoutMs?: number;
  /** Upper bound of the reconnect back-off in milliseconds (default 1000). */
  readonly maxReconnectDelayMs?: number;
  /** Called on every transition: true once Redis answers, false once when an outage starts. */
  readonly onStateChange?: (up: boolean) => void;
  /** Called for every failed operation (count it in `sippbx_registry_errors_total`). */
  readonly onError?: (err: RegistryUnavailable) => void;
}

/** Default key prefix, as in the config schema. */
export const DEFAULT_KEY_PREFIX = 'sippbx:';

const SCRIPTS = { ...callScripts, ...locationScripts };
/** Name of a Lua script the link has registered (EVALSHA, falling back to EVAL after a Redis restart). */
export type ScriptName = keyof typeof SCRIPTS;

type ScriptFn = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

/** A shared connection: runs commands and scripts, maps every failure to RegistryUnavailable. */
export class RedisLink {
  /** Key prefix every store built on this link uses. */
  readonly prefix: string;
  private readonly client: Redis;
  private state: 'unknown' | 'up' | 'down' = 'unknown';
  private closed = false;
  private failures = 0;
  private readonly stateListeners = new Set<(up: boolean) => void>();
  private readonly errorListeners = new Set<(err: RegistryUnavailable) => void>();

  constructor(options: RedisConnectionOptions) {
    this.prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    if (options.onStateChange !== undefined) this.stateListeners.add(options.onStateChange);
    if (options.onError !== undefined) this.errorListeners.add(options.onError);
    const maxDelay = options.maxReconnectDelayMs ?? 1000;
    // Fail fast (no offline queue, no per-request retries): the pbx serves from local state meanwhile
    // and resyncs on 'up'. Reconnects go on forever with a bounded back-off.
    this.client = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      commandTimeout: options.commandTimeoutMs ?? 500,
      retryStrategy: (times) => Math.min(50 * times, maxDelay),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...tlsOption(options.tls),
    });
    for (const [name, lua] of Object.entries(SCRIPTS)) this.client.defineCommand(name, { lua });
    this.client.on('ready', () => this.setState('up'));
    this.client.on('close', () => this.setState('down'));
    // Connection errors also surface as 'close'; the listener keeps ioredis from logging them.
    this.client.on('error', () => this.setState('down'));
  }

  /** True while the last thing seen from Redis was a success. */
  get up(): boolean {
    return this.state === 'up';
  }

  /** Operations failed since construction. */
  get errorCount(): number {
    return this.failures;
  }

  /** Subscribes to up/down transitions; returns the unsubscribe function. */
  onStateChange(listener: (up: boolean) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Subscribes to failed operations; returns the unsubscribe function. */
  onError(listener: (err: RegistryUnavailable) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Resolves true once connected, false after `timeoutMs` (startup waits a little, never forever). */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, timeoutMs);
      const off = this.onStateChange((up) => {
        if (!up) return;
        clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }

  /** Runs a registered Lua script with `args` (no declared keys: the scripts derive them from the prefix). */
  script(name: ScriptName, args: readonly (string | number)[]): Promise<unknown> {
    const fn = (this.client as unknown as Record<ScriptName, ScriptFn>)[name];
    return this.run(() => fn.call(this.client, 0, ...args));
  }

  /** Runs one plain command through the same error mapping. */
  command<T>(op: (client: Redis) => Promise<T>): Promise<T> {
    return this.run(() => op(this.client));
  }

  /** Disconnects at once (no reconnect); safe to call twice. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.stateListeners.clear();
    this.client.disconnect(false);
    return Promise.resolve();
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed) throw this.fail(new RegistryUnavailable('registry is closed'));
    try {
      const result = await op();
      this.setState('up');
      return result;
    } catch (err) {
      // A reply error means Redis answered (a script fault); anything else is a connection problem.
      if (!isReplyError(err)) this.setState('down');
      const message = err instanceof Error ? err.message : String(err);
      throw this.fail(new RegistryUnavailable(`redis: ${message}`, { cause: err }));
    }
  }

  private fail(err: RegistryUnavailable): RegistryUnavailable {
    this.failures++;
    for (const listener of this.errorListeners) listener(err);
    return err;
  }

  private setState(next: 'up' | 'down'): void {
    if (this.closed || this.state === next) return;
    this.state = next;
    for (const listener of this.stateListeners) listener(next === 'up');
  }
}

function tlsOption(tls: boolean | ConnectionOptions | undefined): { tls?: ConnectionOptions } {
  if (tls === undefined || tls === false) return {};
  return { tls: tls === true ? {} : tls };
}

function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}
