// The API's verbs over the store, independent of HTTP: used by the REST handlers and by tests
// through `ApiServer.store`.
import { CrdController } from './crd.js';
import { builtinAdmitter } from './defaults.js';
import { Deleter, type DeleteOptions } from './deletion.js';
import { badRequest, methodNotAllowed, noRoute, notFound, unsupportedMediaType } from './errors.js';
import { jsonPatch, mergePatch, strategicMerge } from './patch.js';
import { apiVersionOf, TypeRegistry } from './registry.js';
import { fromScale, toScale } from './scale.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { Store, type StoreOptions, type WriteOptions } from './store.js';
import type { KubeObject, ResourceType } from './types.js';
import { clone, isObject } from './util.js';
import { CustomResourceValidator } from './validation.js';

/** The kinds of PATCH body, by Content-Type. */
export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** Maps a PATCH Content-Type to its patch type (415 for anything else). */
export function patchTypeOf(contentType: string | undefined): PatchType {
  const ct = (contentType ?? '').split(';')[0]?.trim();
  if (ct === 'application/json-patch+json') return 'json';
  if (ct === 'application/merge-patch+json') return 'merge';
  if (ct === 'application/strategic-merge-patch+json') return 'strategic';
  if (ct === 'application/apply-patch+yaml' || ct === 'application/apply-patch+cbor') return 'apply';
  throw unsupportedMediaType(ct ?? '');
}

/** Where a request points: a type at a version, in a namespace, maybe an object and subresource. */
export interface Target {
  type: ResourceType;
  version: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Options shared by writes. */
export interface RequestOptions {
  dryRun?: boolean;
  fieldValidation?: string;
  fieldManager?: string;
  force?: boolean;
}

/** The API server's state and verbs. */
export class Api {
  /** Served resource types. */
  readonly types = new TypeRegistry();
  /** Object storage. */
  readonly store: Store;
  /** Deletion and garbage collection. */
  readonly deleter: Deleter;
  /** CRD serving. */
  readonly crds: CrdController;

  constructor(opts: StoreOptions = {}) {
    this.store = new Store(opts);
    this.deleter = new Deleter(this.store);
    this.crds = new CrdController(this.store, this.types);
    this.store.addAdmitter(builtinAdmitter(this.store, this.types));
    this.store.addAdmitter(new CustomResourceValidator(this.crds).admit);
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.store.create(this.type('', 'v1', 'namespaces'), undefined, { metadata: { name } });
    }
  }

  /** The type served at group/version/resource, or a 404. */
  type(group: string, version: string, resource: string): ResourceType {
    const t = this.types.lookup(group, version, resource);
    if (!t) throw noRoute(`${apiVersionOf(group, version)}/${resource}`);
    return t;
  }

  /** The object as the request version sees it. */
  present(obj: KubeObject, t: Target): KubeObject {
    return { ...obj, apiVersion: apiVersionOf(t.type.group, t.version) };
  }

  private ns(t: Target): string | undefined {
    return t.type.namespaced ? t.namespace : undefined;
  }

  private named(t: Target): string {
    if (t.name === undefined) throw methodNotAllowed('collection');
    return t.name;
  }

  /** GET of an object or subresource. */
  get(t: Target): unknown {
    const obj = this.store.get(t.type, this.ns(t), this.named(t));
    if (t.subresource === 'scale') return toScale(obj, t.type, this.scalePaths(t));
    return this.present(obj, t);
  }

  /** LIST with label and field selectors. */
  list(
    t: Target,
    labelSelector?: string,
    fieldSelector?: string,
  ): { items: KubeObject[]; resourceVersion: string } {
    const labels = parseLabelSelector(labelSelector);
    const fields = parseFieldSelector(fieldSelector);
    const { items, resourceVersion } = this.store.list(t.type, this.ns(t));
    return {
      items: items.filter((o) => labels(o) && fields(o)).map((o) => this.present(o, t)),
      resourceVersion,
    };
  }

  private writeOpts(t: Target, o: RequestOptions, sub?: 'status'): WriteOptions {
    return {
      version: t.version,
      ...(o.dryRun ? { dryRun: true } : {}),
      ...(o.fieldValidation === undefined ? {} : { fieldValidation: o.fieldValidation }),
      ...(sub ? { subresource: sub } : {}),
    };
  }

  /** POST to a collection. */
  create(t: Target, body: unknown, o: RequestOptions = {}): KubeObject {
    if (!isObject(body)) throw badRequest('request body must be an object');
    const obj = body as KubeObject;
    obj.metadata ??= {};
    if (t.type.namespaced && t.namespace === undefined)
      throw badRequest('namespace is required for namespaced resources');
    return this.present(this.store.create(t.type, this.ns(t), obj, this.writeOpts(t, o)), t);
  }

  private statusSub(t: Target): 'status' | undefined {
    if (t.subresource === undefined) return undefined;
    if (t.subresource === 'status' && t.type.status) return 'status';
    throw noRoute(`${t.type.resource}/${t.subresource}`);
  }

  /** PUT of an object, its status, or its scale. */
  update(t: Target, body: unknown, o: RequestOptions = {}): unknown {
    if (!isObject(body)) throw badRequest('request body must be an object');
    const name = this.named(t);
    if (t.subresource === 'scale') return this.writeScale(t, body, o);
    const obj = body as KubeObject;
    obj.metadata ??= {};
    const stored = this.store.update(t.type, this.ns(t), name, obj, this.writeOpts(t, o, this.statusSub(t)));
    return this.present(stored, t);
  }

  private scalePaths(t: Target): NonNullable<ResourceType['scale']> {
    if (!t.type.scale) throw noRoute(`${t.type.resource}/scale`);
    return t.type.scale;
  }

  private writeScale(t: Target, scale: unknown, o: RequestOptions): unknown {
    const paths = this.scalePaths(t);
    const name = this.named(t);
    const current = this.store.get(t.type, this.ns(t), name);
    const next = fromScale(current, scale, paths);
    const stored = this.store.update(t.type, this.ns(t), name, next, this.writeOpts(t, o));
    return toScale(stored, t.type, paths);
  }

  /** PATCH of an object, its status, or its scale; server-side apply creates when missing. */
  patch(t: Target, type: PatchType, body: unknown, o: RequestOptions = {}): unknown {
    const name = this.named(t);
    if (type === 'strategic' && t.type.custom)
      throw unsupportedMediaType('application/strategic-merge-patch+json');
    if (type === 'apply' && !o.fieldManager)
      throw badRequest('PATCH with apply requires fieldManager to be set');
    const current = this.store.find(t.type, this.ns(t), name);
    if (!current) {
      if (type === 'apply' && t.subresource === undefined) return this.create(t, body, o);
      throw notFound({ group: t.type.group, resource: t.type.resource, name });
    }
    if (t.subresource === 'scale') {
      const paths = this.scalePaths(t);
      return this.writeScale(t, applyPatch(toScale(current, t.type, paths), type, body, t.type), o);
    }
    const patched = applyPatch(this.present(current, t), type, body, t.type);
    if (!isObject(patched)) throw badRequest('patch produced a non-object');
    const obj = patched as KubeObject;
    return this.present(
      this.store.update(t.type, this.ns(t), name, obj, this.writeOpts(t, o, this.statusSub(t))),
      t,
    );
  }

  /** DELETE of one object. */
  delete(t: Target, opts: DeleteOptions = {}): KubeObject {
    return this.present(this.deleter.delete(t.type, this.ns(t), this.named(t), opts), t);
  }

  /** DELETE of a collection (selectors apply). */
  deleteCollection(
    t: Target,
    labelSelector?: string,
    fieldSelector?: string,
    opts: DeleteOptions = {},
  ): KubeObject[] {
    const { items } = this.list(t, labelSelector, fieldSelector);
    return items.map((obj) => this.delete({ ...t, name: obj.metadata.name ?? '' }, opts));
  }
}

/** Applies a patch body of a given type to a document. */
export function applyPatch(doc: unknown, type: PatchType, body: unknown, t: ResourceType): unknown {
  switch (type) {
    case 'json':
      return jsonPatch(doc, body);
    case 'merge':
      return mergePatch(doc, body);
    case 'strategic':
      return strategicMerge(doc, body);
    case 'apply':
      return t.custom ? applyMerge(doc, body) : strategicMerge(doc, body);
  }
}

/** Server-side apply without field ownership: the applied configuration merged over the live object. */
function applyMerge(doc: unknown, body: unknown): unknown {
  if (!isObject(body) || !isObject(doc)) return clone(body);
  const out = clone(doc);
  for (const [k, v] of Object.entries(body)) out[k] = isObject(v) ? applyMerge(out[k], v) : clone(v);
  return out;
}
