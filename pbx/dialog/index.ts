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
