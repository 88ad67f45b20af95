// What one reconcile of one SipPbx works with: clients, clock, logger, the parsed object and its token.
import type { Logger } from 'pino';
import { API_VERSION, KIND, type SipPbx } from '../../api/index.js';
import type { EventRecorder, EventSubject } from '../events.js';
import type { KubeClient } from '../kube.js';
import type { PbxClient, PbxTarget } from '../pbx-client.js';

/** Per-reconcile context. */
export interface ReconcileContext {
  readonly kube: KubeClient;
  readonly pbxApi: PbxClient;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly now: () => Date;
  readonly pbx: SipPbx;
  readonly namespace: string;
  /** The admin token the pods accept (from the admin-token Secret). */
  readonly token: string;
}

/** The SipPbx as the subject of Events. */
export function subjectOf(c: Pick<ReconcileContext, 'pbx' | 'namespace'>): EventSubject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: c.pbx.metadata.name,
    namespace: c.namespace,
    uid: c.pbx.metadata.uid,
  };
}

/** Records a Normal Event about the SipPbx (best effort). */
export function notify(c: ReconcileContext, reason: string, message: string): Promise<void> {
  return c.events.record(subjectOf(c), 'Normal', reason, message);
}

/** The management API of the pod at `ip`. */
export function targetOf(c: ReconcileContext, ip: string): PbxTarget {
  return { host: ip, token: c.token };
}
