// Shared shapes: Kubernetes objects as plain JSON and the description of a served resource.

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Object metadata as stored (a subset of `metav1.ObjectMeta`, plus anything else the client sent). */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  [key: string]: unknown;
}

/** A `metav1.OwnerReference`. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

/** Group, version and plural resource name: how the store is addressed. */
export interface ResourceRef {
  group: string;
  version: string;
  resource: string;
}

/** The JSON paths of a scale subresource (CRD `subresources.scale`). */
export interface ScalePaths {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

/** A CRD additionalPrinterColumn. */
export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  format?: string;
  description?: string;
  priority?: number;
}

/** Everything the server knows about one served resource. */
export interface ResourceType {
  group: string;
  /** Versions served; the first is the preferred (storage) version. */
  versions: string[];
  resource: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Has a `/status` subresource (main writes ignore status). */
  status: boolean;
  /** Scale subresource paths, if it has `/scale`. */
  scale?: ScalePaths;
  /** Printer columns for Table output (besides NAME). */
  columns: PrinterColumn[];
  /** A custom resource (defined by a CRD): no strategic merge patch. */
  custom: boolean;
  /** Whether `metadata.generation` is tracked (objects with a spec). */
  hasSpec: boolean;
}
