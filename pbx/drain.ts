/**
 * Graceful drain (ARCHITECTURE.md "Drain"): running -> draining -> drained. While draining, new calls
 * are refused and existing ones run to their end; at zero calls the pbx is drained; at the deadline the
 * remaining calls are ended (CDR reason `drain-timeout`) and the pbx is drained.
 */
import type { Clock, TimerHandle } from './core/clock.js';

/** The pbx's run state. */
export type RunState = 'running' | 'draining' | 'drained';

/** What `GET /api/v1/drain` reports. */
export interface DrainStatus {
  readonly state: RunState;
  readonly activeCalls: number;
  /** ISO time at which remaining calls are ended, or null when not draining. */
  readonly deadline: string | null;
}

/** What the drain controller acts on. */
export interface DrainDeps {
  readonly clock: Clock;
  readonly wallClock: () => number;
  readonly activeCalls: () => number;
  /** Ends every remaining call (BYE on both legs). */
  readonly endAll: (reason: string) => Promise<void>;
  /** Default deadline (`shutdown.drainTimeoutSeconds`). */
  readonly defaultTimeoutSeconds: number;
}

/** The drain state machine. */
export interface DrainController {
  state(): RunState;
  status(): DrainStatus;
  /** Starts draining (idempotent: a second call keeps the first deadline unless it is earlier). */
  drain(deadlineSeconds?: number): DrainStatus;
  /** Back to running from draining (scale-up kept this pod); undefined once drained (too late). */
  cancel(): DrainStatus | undefined;
  /** To be called whenever a call ends: completes the drain at zero calls. */
  callEnded(): void;
  /** Resolves once drained. */
  drained(): Promise<void>;
  /** Clears the deadline timer. */
  close(): void;
}

/** Creates the drain controller in state `running`. */
export function createDrainController(deps: DrainDeps): DrainController {
  let state: RunState = 'running';
  let deadline: number | undefined;
  let timer: TimerHandle | undefined;
  let resolve: () => void = () => undefined;
  const done = new Promise<void>((r) => {
    resolve = r;
  });

  const finish = (): void => {
    if (state === 'drained') return;
    state = 'drained';
    if (timer !== undefined) deps.clock.clearTimer(timer);
    timer = undefined;
    resolve();
  };

  const onDeadline = (): void => {
    timer = undefined;
    deps.endAll('drain-timeout').then(finish, finish);
  };

  const status = (): DrainStatus => ({
    state,
    activeCalls: deps.activeCalls(),
    deadline: deadline === undefined ? null : new Date(deadline).toISOString(),
  });

  return {
    state: () => state,
    status,
    drain(deadlineSeconds) {
      if (state === 'drained') return status();
      const seconds = deadlineSeconds ?? deps.defaultTimeoutSeconds;
      const at = deps.wallClock() + seconds * 1000;
      if (state === 'running' || deadline === undefined || at < deadline) {
        deadline = at;
        if (timer !== undefined) deps.clock.clearTimer(timer);
        timer = deps.clock.setTimer(seconds * 1000, onDeadline);
      }
      state = 'draining';
      if (deps.activeCalls() === 0) finish();
      return status();
    },
    cancel() {
      if (state === 'drained') return undefined;
      if (timer !== undefined) deps.clock.clearTimer(timer);
      timer = undefined;
      deadline = undefined;
      state = 'running';
      return status();
    },
    callEnded() {
      if (state === 'draining' && deps.activeCalls() === 0) finish();
    },
    drained: () => done,
    close() {
      if (timer !== undefined) deps.clock.clearTimer(timer);
      timer = undefined;
    },
  };
}
