// The SipPbx reconciler and the names of the state it keeps in the cluster.
export { createSipPbxReconciler } from './reconciler.js';
export type { SipPbxReconcilerOptions } from './reconciler.js';
export { FINALIZER as FINALIZER_NAME } from './finalize.js';
export {
  DRAIN_STARTED_ANNOTATION,
  DRAIN_REASON_ANNOTATION,
  DRAINED_ANNOTATION,
  REVISION_LABEL,
} from './pods.js';
export { APPLIED_HASH_ANNOTATION } from './apply.js';
export { DRAIN_MARGIN_SECONDS } from './drain.js';
export { parseForReconcile } from './parse.js';
