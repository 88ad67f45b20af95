// Names of the SipPbx custom resource (CONTRACTS.md "Custom resource"); a public contract.

/** API group of the SipPbx custom resource. */
export const GROUP = 'sippbx.dev';

/** The one served (and stored) version. */
export const VERSION = 'v1alpha1';

/** `apiVersion` of SipPbx objects. */
export const API_VERSION = `${GROUP}/${VERSION}` as const;

/** `kind` of SipPbx objects. */
export const KIND = 'SipPbx';

/** Plural resource name (`kubectl get sippbxes`). */
export const PLURAL = 'sippbxes';

/** Short name (`kubectl get pbx`). */
export const SHORT_NAME = 'pbx';

/** Image repository of the pbx; the tag defaults to the operator's version. */
export const PBX_IMAGE_REPOSITORY = 'ghcr.io/sippbx/sippbx';

/** The pbx image used when `spec.image` is absent: the release that matches the operator. */
export function defaultImage(operatorVersion: string): string {
  return `${PBX_IMAGE_REPOSITORY}:${operatorVersion}`;
}
