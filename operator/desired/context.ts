// What the desired-state functions need besides the SipPbx itself.
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, type SipPbx } from '../api/index.js';

/** Inputs from outside the SipPbx. */
export interface DesiredContext {
  /** The operator's version: tag of the default pbx image and `app.kubernetes.io/version` of owned objects. */
  readonly operatorVersion: string;
}

/** Thrown when a SipPbx lacks what the API server always sets (name/namespace/uid): a programming error. */
export class IncompleteSipPbxError extends Error {
  override readonly name = 'IncompleteSipPbxError';
}

/** The namespace of a SipPbx (owned objects live there). */
export function namespaceOf(pbx: SipPbx): string {
  const ns = pbx.metadata.namespace;
  if (ns === undefined || ns === '')
    throw new IncompleteSipPbxError(`SipPbx ${pbx.metadata.name} has no namespace`);
  return ns;
}

/** The controller ownerReference to `pbx`, so owned objects are garbage-collected with it. */
export function ownerReference(pbx: SipPbx): V1OwnerReference {
  const uid = pbx.metadata.uid;
  if (uid === undefined || uid === '')
    throw new IncompleteSipPbxError(`SipPbx ${pbx.metadata.name} has no uid`);
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: pbx.metadata.name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Metadata of an owned object: name, namespace, labels and the ownerReference. */
export function ownedMeta(
  pbx: SipPbx,
  ctx: DesiredContext,
  name: string,
  labels: Record<string, string>,
): V1ObjectMeta & { name: string; namespace: string } {
  return {
    name,
    namespace: namespaceOf(pbx),
    labels: { ...labels, 'app.kubernetes.io/version': ctx.operatorVersion },
    ownerReferences: [ownerReference(pbx)],
  };
}
