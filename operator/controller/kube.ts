// Cluster access for the reconciler: typed reads and writes over client-node, with the HTTP status of a
// failure made explicit (404 -> undefined, 409 -> ConflictError) so reconcile code reads as decisions.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { CoreV1Event, KubeConfig, KubernetesObject, V1Pod, V1Secret } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../api/index.js';

/** A write lost a race (409 Conflict on a stale resourceVersion): reconcile again soon. */
export class ConflictError extends Error {
  /** Stable code, as every sippbx error carries one. */
  readonly code = 'PBX_ERR_OPERATOR_CONFLICT';

  /** Wraps the API server's 409. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConflictError';
  }
}

/** The HTTP status of a client-node error (ApiException `code`), if any. */
export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** A SipPbx as read from the API: raw JSON, parsed by the reconciler. */
export type RawSipPbx = KubernetesObject & { spec?: unknown; status?: unknown };

/** An object with the fields every write needs. */
export type NamedObject = KubernetesObject & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
};

/** What the reconciler needs from the cluster. */
export interface KubeClient {
  /** One object, or undefined when it (or its API) does not exist. */
  read<T extends KubernetesObject>(ref: NamedObject): Promise<T | undefined>;
  create<T extends KubernetesObject>(obj: T & NamedObject): Promise<T>;
  /** Replaces with the object's resourceVersion; 409 throws ConflictError. */
  replace<T extends KubernetesObject>(obj: T & NamedObject): Promise<T>;
  /** JSON merge patch (RFC 7386); a metadata.resourceVersion in the patch is a precondition. */
  mergePatch<T extends KubernetesObject>(ref: NamedObject, patch: object): Promise<T>;
  /** Deletes; a missing object is not an error. */
  remove(ref: NamedObject, opts?: { gracePeriodSeconds?: number }): Promise<void>;
  /** The pods of a namespace matching a label selector. */
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  readSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  readSipPbx(namespace: string, name: string): Promise<RawSipPbx | undefined>;
  /** Every SipPbx the operator may list (all namespaces); empty when RBAC allows no cluster-wide list. */
  listSipPbxes(): Promise<RawSipPbx[]>;
  /** Replaces `status` through the status subresource (409 throws ConflictError). */
  replaceSipPbxStatus(obj: RawSipPbx): Promise<RawSipPbx>;
  /** Merge-patches the SipPbx (metadata only: finalizers), with its resourceVersion as precondition. */
  patchSipPbx(namespace: string, name: string, patch: object): Promise<RawSipPbx>;
  createEvent(namespace: string, body: object): Promise<void>;
}

const mergePatchHeader = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Runs `fn`; 404 gives undefined, 409 a ConflictError, anything else is rethrown. */
async function guard<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const code = statusCodeOf(err);
    if (code === 404) return undefined;
    if (code === 409) throw new ConflictError(`${what}: conflict`, { cause: err });
    throw err;
  }
}

/** Like guard, but a missing object is an error too. */
async function must<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const result = await guard(what, fn);
  if (result === undefined) throw new Error(`${what}: not found`);
  return result;
}

/** The patch with apiVersion, kind, name and namespace, which client-node needs to route it. */
function withIdentity(ref: NamedObject, patch: { metadata?: object }): object {
  const { name, namespace } = ref.metadata;
  return {
    ...patch,
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { ...patch.metadata, name, namespace },
  };
}

const describe = (o: NamedObject): string => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`;

/** Is this a "no such API" failure of client-node's discovery (a CRD that is not installed)? */
function isUnknownKind(err: unknown): boolean {
  return err instanceof Error && /unrecognized API version and kind/i.test(err.message);
}

/** A KubeClient over client-node. */
export function createKubeClient(kc: KubeConfig): KubeClient {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const cr = (namespace: string, name: string) => ({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    namespace,
    name,
  });
  return {
    async read<T extends KubernetesObject>(ref: NamedObject) {
      try {
        return await guard(describe(ref), () => objects.read<T>(ref as T & NamedObject));
      } catch (err) {
        if (isUnknownKind(err)) return undefined;
        throw err;
      }
    },
    create: (obj) => must(describe(obj), () => objects.create(obj)),
    replace: (obj) => must(describe(obj), () => objects.replace(obj)),
    mergePatch: <T extends KubernetesObject>(ref: NamedObject, patch: object) =>
      must(describe(ref), () =>
        objects.patch<T>(
          withIdentity(ref, patch) as T,
          undefined,
          undefined,
          'sippbx-operator',
          undefined,
          PatchStrategy.MergePatch,
        ),
      ),
    async remove(ref, opts = {}) {
      await guard(describe(ref), () => objects.delete(ref, undefined, undefined, opts.gracePeriodSeconds));
    },
    async listPods(namespace, labelSelector) {
      return (await core.listNamespacedPod({ namespace, labelSelector })).items;
    },
    readSecret: (namespace, name) =>
      guard(`Secret ${namespace}/${name}`, () => core.readNamespacedSecret({ namespace, name })),
    async listSipPbxes() {
      try {
        const list = (await custom.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
        })) as {
          items?: RawSipPbx[];
        };
        return list.items ?? [];
      } catch {
        return []; // namespaced RBAC (watchNamespaces): no cluster-wide view, no conflict check
      }
    },
    readSipPbx: (namespace, name) =>
      guard(
        `SipPbx ${namespace}/${name}`,
        () => custom.getNamespacedCustomObject(cr(namespace, name)) as Promise<RawSipPbx>,
      ),
    replaceSipPbxStatus: (obj) => {
      const ns = obj.metadata?.namespace ?? '';
      const name = obj.metadata?.name ?? '';
      return must(
        `SipPbx ${ns}/${name} status`,
        () =>
          custom.replaceNamespacedCustomObjectStatus({ ...cr(ns, name), body: obj }) as Promise<RawSipPbx>,
      );
    },
    patchSipPbx: (namespace, name, patch) =>
      must(
        `SipPbx ${namespace}/${name}`,
        () =>
          custom.patchNamespacedCustomObject(
            { ...cr(namespace, name), body: patch },
            mergePatchHeader,
          ) as Promise<RawSipPbx>,
      ),
    async createEvent(namespace, body) {
      await core.createNamespacedEvent({ namespace, body: body as CoreV1Event });
    },
  };
}
