// Admission for custom resources: prune and default by the CRD schema, validate with ajv, run CEL
// rules; failures become 422 Invalid with causes, unknown fields under fieldValidation=Strict a 400.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { celCauses } from './cel.js';
import { crdVersion, type CrdController } from './crd.js';
import { badRequest, invalid, type StatusCause } from './errors.js';
import { splitApiVersion } from './registry.js';
import { pruneAndDefault, rootSchema, type Schema } from './schema.js';
import type { Admission, Admitter } from './store.js';
import type { KubeObject } from './types.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function newAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password', 'quantity'])
    ajv.addFormat(f, true);
  return ajv;
}

function fieldOf(e: ErrorObject): string {
  const base = e.instancePath
    .split('/')
    .filter((s) => s !== '')
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join('')
    .replace(/^\./, '');
  const missing = (e.params as { missingProperty?: string }).missingProperty;
  return missing ? (base ? `${base}.${missing}` : missing) : base;
}

function causeOf(e: ErrorObject, data: unknown): StatusCause {
  const field = fieldOf(e);
  if (e.keyword === 'required') return { reason: 'FieldValueRequired', message: 'Required value', field };
  const value = JSON.stringify(
    e.instancePath
      .split('/')
      .filter((s) => s !== '')
      .reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], data),
  );
  if (e.keyword === 'enum') {
    const allowed = ((e.params as { allowedValues?: unknown[] }).allowedValues ?? [])
      .map((v) => JSON.stringify(v))
      .join(', ');
    return {
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${value}: supported values: ${allowed}`,
      field,
    };
  }
  const reason = e.keyword === 'type' ? 'FieldValueTypeInvalid' : 'FieldValueInvalid';
  return { reason, message: `Invalid value: ${value}: ${field} in body ${e.message ?? 'is invalid'}`, field };
}

/** Validates custom resources against their CRD (schema, defaults, pruning, CEL). */
export class CustomResourceValidator {
  private readonly ajv = newAjv();
  private readonly compiled = new Map<string, ValidateFunction>();

  private readonly crds: CrdController;

  constructor(crds: CrdController) {
    this.crds = crds;
  }

  /** The admission step; pass it to `Store.addAdmitter`. */
  readonly admit: Admitter = (a) => (a.type.custom ? this.validate(a) : a.obj);

  private schemaFor(a: Admission): Schema | undefined {
    const crd = this.crds.crdFor(a.type.group, a.type.resource);
    const version = a.opts.version ?? splitApiVersion(a.obj.apiVersion ?? '').version;
    const raw = crd ? crdVersion(crd, version)?.schema?.openAPIV3Schema : undefined;
    return raw ? raw : undefined;
  }

  private validate(a: Admission): KubeObject {
    const raw = this.schemaFor(a);
    if (!raw) return a.obj;
    const schema = rootSchema(raw);
    const obj = a.obj;
    const pruned = pruneAndDefault(obj, schema);
    if (pruned.length > 0 && a.opts.fieldValidation === 'Strict') {
      throw badRequest(`strict decoding error: ${pruned.map((p) => `unknown field "${p}"`).join(', ')}`);
    }
    const causes = this.schemaCauses(raw, obj);
    if (causes.length === 0 && a.opts.subresource === undefined)
      causes.push(...celCauses(obj, a.old, schema));
    if (causes.length > 0) {
      throw invalid(
        { group: a.type.group, resource: a.type.resource, kind: a.type.kind, name: obj.metadata.name ?? '' },
        causes,
      );
    }
    return obj;
  }

  private schemaCauses(raw: Schema, obj: KubeObject): StatusCause[] {
    const key = JSON.stringify(raw);
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(rootSchema(raw));
      this.compiled.set(key, validate);
    }
    return validate(obj) ? [] : (validate.errors ?? []).map((e) => causeOf(e, obj));
  }
}
