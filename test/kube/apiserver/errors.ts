// Kubernetes API errors as `v1 Status` objects (apimachinery pkg/api/errors).

/** A `metav1.StatusCause`, one reason a request was invalid. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** A `metav1.Status` body as the real server sends it for failures. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[] };
  code: number;
}

/** What an error names: the object's name and its resource's group and kind (plural resource). */
export interface ErrorTarget {
  group: string;
  resource: string;
  name?: string;
}

/** A failure of an API call, carrying its HTTP code and the `v1 Status` to send. */
export class ApiError extends Error {
  /** The HTTP status code. */
  readonly code: number;
  /** The `v1 Status` body. */
  readonly status: StatusBody;

  constructor(code: number, reason: string, message: string, details?: StatusBody['details']) {
    super(message);
    this.code = code;
    this.status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details === undefined ? {} : { details }),
      code,
    };
  }
}

function qualified(t: ErrorTarget): string {
  return t.group === '' ? t.resource : `${t.resource}.${t.group}`;
}

function details(t: ErrorTarget): NonNullable<StatusBody['details']> {
  return { ...(t.name === undefined ? {} : { name: t.name }), group: t.group, kind: t.resource };
}

/** 404 NotFound for a named object. */
export function notFound(t: ErrorTarget): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(t)} "${t.name ?? ''}" not found`, details(t));
}

/** 409 AlreadyExists on create. */
export function alreadyExists(t: ErrorTarget): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(t)} "${t.name ?? ''}" already exists`, details(t));
}

/** 409 Conflict when the resourceVersion precondition is stale. */
export function conflict(t: ErrorTarget): ApiError {
  const msg =
    `Operation cannot be fulfilled on ${qualified(t)} "${t.name ?? ''}": ` +
    'the object has been modified; please apply your changes to the latest version and try again';
  return new ApiError(409, 'Conflict', msg, details(t));
}

/** 422 Invalid with field causes. */
export function invalid(t: ErrorTarget & { kind: string }, causes: StatusCause[]): ApiError {
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  const g = t.group === '' ? t.kind : `${t.kind}.${t.group}`;
  return new ApiError(422, 'Invalid', `${g} "${t.name ?? ''}" is invalid: [${list}]`, {
    ...(t.name === undefined ? {} : { name: t.name }),
    group: t.group,
    kind: t.kind,
    causes,
  });
}

/** 400 BadRequest. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

/** 410 Gone for a resourceVersion older than the kept history. */
export function gone(rv: string | number): ApiError {
  return new ApiError(410, 'Expired', `too old resource version: ${rv}`);
}

/** 404 for a path that names no served resource. */
export function noRoute(path: string): ApiError {
  return new ApiError(404, 'NotFound', `the server could not find the requested resource (${path})`, {});
}

/** 405 MethodNotAllowed for a verb a resource does not support. */
export function methodNotAllowed(method: string): ApiError {
  return new ApiError(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${method})`,
  );
}

/** 415 UnsupportedMediaType, e.g. strategic merge patch on a custom resource. */
export function unsupportedMediaType(type: string): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml; got ${type}`,
  );
}

/** Wraps any thrown value into an ApiError (500 for unknowns). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`);
}
