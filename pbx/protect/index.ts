/**
 * Protection for new INVITEs (ARCHITECTURE "A call, as data", step 3): per-source rate limit, scanner filter and
 * overload guard, as pure clock-injected logic. Wiring from config: `limits.invitesPerSecondPerIp` ->
 * createRateLimiter({ ratePerSecond }), `limits.scannerUserAgents` -> createScannerFilter, `media.maxCalls` and
 * `limits.maxMemoryMb` -> createOverloadGuard, `limits.overload` -> createEventLoopProbe + createLoadShedder and
 * the guard's `callsInSetup` cap, `limits.rateLimitAction` -> createInviteGate({ action }).
 */
export { createRateLimiter } from './rate-limiter.js';
export type { RateLimiter, RateLimiterOptions } from './rate-limiter.js';
export { createScannerFilter, MAX_USER_AGENT_INSPECTED } from './scanner-filter.js';
export type { ScannerFilter } from './scanner-filter.js';
export { createOverloadGuard, OVERLOAD_REASONS } from './overload-guard.js';
export type {
  Admission,
  CallsInSetupLimit,
  OverloadGuard,
  OverloadGuardOptions,
  OverloadReason,
  OverloadStatus,
} from './overload-guard.js';
export { createLoadShedder } from './load-shedder.js';
export type {
  LoadShedder,
  LoadShedderOptions,
  LoadSignal,
  LoadSnapshot,
  ShedderState,
} from './load-shedder.js';
export { createEventLoopProbe } from './event-loop-probe.js';
export type { EventLoopProbeOptions, LoopProbe, LoopReading } from './event-loop-probe.js';
export { createInviteGate } from './invite-gate.js';
export type {
  GateCounters,
  InviteAttempt,
  InviteGate,
  InviteGateOptions,
  InviteVerdict,
  RateLimitAction,
  RefusalReason,
} from './invite-gate.js';
export { sourceKey, IPV6_PREFIX_GROUPS } from './source-key.js';
export { ProtectConfigError } from './errors.js';
