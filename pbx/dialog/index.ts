/** Dialog state per leg (RFC 3261 §12). */
export {
  acceptRemoteSeq,
  applyUacResponse,
  inDialogRequest,
  newBranch,
  refreshTarget,
  uacDialog,
  uasDialog,
} from './dialog.js';
export type {
  Dialog,
  DialogRole,
  DialogState,
  InDialogRequestOptions,
  LocalAddress,
  UacDialogSpec,
} from './dialog.js';
export {
  expiryDelayMs,
  minSe,
  refreshDelayMs,
  sessionExpires,
  supportsTimer,
  uacAgreed,
  uacTimerHeaders,
  uasDecide,
} from './session-timer.js';
export type {
  LegTimer,
  Refresher,
  SessionExpires,
  SessionTimerConfig,
  UasDecision,
} from './session-timer.js';
