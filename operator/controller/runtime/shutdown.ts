// Graceful shutdown: on SIGTERM the operator stops its controllers (reconciles in flight finish), then
// releases the lease so a standby takes over at once instead of after a lease duration, then stops the
// informers and the HTTP servers.
import type { EventEmitter } from 'node:events';
import type { Logger } from '../../../pbx/core/logger.js';

/** One part to stop, in order. */
export interface ShutdownStep {
  name: string;
  stop: () => Promise<void>;
}

/**
 * Stops `steps` one after the other; a step that fails or outlives `stepTimeoutMs` (default 10,000)
 * is logged and skipped so the rest still stop. Resolves true when every step stopped cleanly.
 */
export async function shutdownInOrder(
  steps: readonly ShutdownStep[],
  opts: { logger?: Logger; stepTimeoutMs?: number } = {},
): Promise<boolean> {
  const timeout = opts.stepTimeoutMs ?? 10_000;
  let clean = true;
  for (const step of steps) {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeout);
    });
    try {
      const outcome = await Promise.race([step.stop().then(() => 'stopped' as const), expired]);
      if (outcome === 'timeout') {
        clean = false;
        opts.logger?.warn({ step: step.name, timeoutMs: timeout }, 'shutdown step timed out');
      }
    } catch (err) {
      clean = false;
      opts.logger?.error({ err, step: step.name }, 'shutdown step failed');
    } finally {
      clearTimeout(timer);
    }
  }
  return clean;
}

/** The part of `process` signal handling uses (tests pass an EventEmitter). */
export type SignalSource = Pick<EventEmitter, 'on' | 'off'>;

/**
 * Calls `onSignal` once, on the first of `signals` (default SIGTERM and SIGINT); a second signal calls
 * `forceExit` (default process.exit(1)) for an operator that hangs. Returns a function that uninstalls.
 */
export function onShutdownSignal(
  onSignal: (signal: string) => Promise<void>,
  opts: { signals?: readonly string[]; source?: SignalSource; forceExit?: () => void; logger?: Logger } = {},
): () => void {
  const source = opts.source ?? process;
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const forceExit = opts.forceExit ?? (() => process.exit(1));
  let received = false;
  const handler = (signal: string): void => {
    if (received) {
      opts.logger?.warn({ signal }, 'second signal; exiting now');
      forceExit();
      return;
    }
    received = true;
    opts.logger?.info({ signal }, 'shutting down');
    onSignal(signal).catch((err: unknown) => opts.logger?.error({ err }, 'shutdown failed'));
  };
  for (const s of signals) source.on(s, handler);
  return () => {
    for (const s of signals) source.off(s, handler);
  };
}
