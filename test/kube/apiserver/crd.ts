// CustomResourceDefinitions: turning a CRD object into a served resource type, and the small
// "apiextensions controller" that marks a CRD Established and serves (or stops serving) its resource.
import type { TypeRegistry } from './registry.js';
import type { Store, StoreEvent } from './store.js';
import type { KubeObject, PrinterColumn, ResourceType, ScalePaths } from './types.js';
import { clone } from './util.js';

/** One entry of `spec.versions` of a CRD (the fields this server uses). */
export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: Record<string, unknown> };
  subresources?: { status?: object; scale?: ScalePaths };
  additionalPrinterColumns?: PrinterColumn[];
}

/** The spec of an apiextensions.k8s.io/v1 CustomResourceDefinition. */
export interface CrdSpec {
  group: string;
  scope: 'Namespaced' | 'Cluster';
  names: {
    plural: string;
    singular?: string;
    kind: string;
    listKind?: string;
    shortNames?: string[];
    categories?: string[];
  };
  versions: CrdVersion[];
}

/** The CRD's spec, typed. */
export function crdSpec(crd: KubeObject): CrdSpec {
  return crd.spec as CrdSpec;
}

/** The version entry a request version refers to. */
export function crdVersion(crd: KubeObject, version: string): CrdVersion | undefined {
  return crdSpec(crd).versions.find((v) => v.name === version);
}

/** The resource type a CRD serves (subresources and columns from its storage version). */
export function crdToType(crd: KubeObject): ResourceType {
  const s = crdSpec(crd);
  const served = s.versions.filter((v) => v.served);
  const storage = s.versions.find((v) => v.storage) ?? served[0];
  const ordered = [...served].sort((a, b) => Number(b === storage) - Number(a === storage));
  return {
    group: s.group,
    versions: ordered.map((v) => v.name),
    resource: s.names.plural,
    singular: s.names.singular ?? s.names.kind.toLowerCase(),
    kind: s.names.kind,
    listKind: s.names.listKind ?? `${s.names.kind}List`,
    namespaced: s.scope === 'Namespaced',
    shortNames: s.names.shortNames ?? [],
    categories: s.names.categories ?? [],
    status: storage?.subresources?.status !== undefined,
    ...(storage?.subresources?.scale ? { scale: storage.subresources.scale } : {}),
    columns: storage?.additionalPrinterColumns ?? [],
    custom: true,
    hasSpec: true,
  };
}

/** Serves the resources of CRDs as they are created, changed and deleted. */
export class CrdController {
  private readonly served = new Map<string, ResourceType>();

  private readonly store: Store;
  private readonly types: TypeRegistry;

  constructor(store: Store, types: TypeRegistry) {
    this.store = store;
    this.types = types;
    store.addObserver((t, ev) => {
      if (t.group === 'apiextensions.k8s.io' && t.resource === 'customresourcedefinitions') this.onCrd(t, ev);
    });
  }

  /** The CRD object behind a custom resource type, if any. */
  crdFor(group: string, resource: string): KubeObject | undefined {
    const crdType = this.types.lookup('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
    return crdType ? this.store.find(crdType, undefined, `${resource}.${group}`) : undefined;
  }

  private onCrd(crdType: ResourceType, ev: StoreEvent): void {
    const name = ev.object.metadata.name ?? '';
    const previous = this.served.get(name);
    if (ev.type === 'DELETED') {
      if (previous) {
        this.types.remove(previous.group, previous.resource);
        this.store.dropType(previous);
        this.served.delete(name);
      }
      return;
    }
    const t = crdToType(ev.object);
    if (previous && previous.resource !== t.resource) this.types.remove(previous.group, previous.resource);
    this.types.add(t);
    this.served.set(name, t);
    this.establish(crdType, ev.object);
  }

  private establish(crdType: ResourceType, crd: KubeObject): void {
    if (crd.metadata.deletionTimestamp) return;
    const s = crdSpec(crd);
    const next = clone(crd);
    const since = crd.metadata.creationTimestamp ?? '';
    const cond = (type: string, reason: string, message: string): Record<string, string> => ({
      type,
      status: 'True',
      lastTransitionTime: since,
      reason,
      message,
    });
    next.status = {
      conditions: [
        cond('NamesAccepted', 'NoConflicts', 'no conflicts found'),
        cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
      ],
      acceptedNames: {
        ...s.names,
        singular: s.names.singular ?? s.names.kind.toLowerCase(),
        listKind: s.names.listKind ?? `${s.names.kind}List`,
      },
      storedVersions: s.versions.filter((v) => v.storage).map((v) => v.name),
    };
    this.store.update(crdType, undefined, crd.metadata.name ?? '', next, { subresource: 'status' });
  }
}
