// The REST front: routes a request to discovery, OpenAPI, or a resource verb, and writes JSON or
// `v1 Status` errors.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { patchTypeOf, type Api, type RequestOptions, type Target } from './api.js';
import type { DeleteOptions, PropagationPolicy } from './deletion.js';
import { coreVersions, groupInfo, groupList, resourceList, versionInfo } from './discovery.js';
import { ApiError, badRequest, methodNotAllowed, noRoute, toApiError } from './errors.js';
import { openApiV2, openApiV3Doc, openApiV3Index } from './openapi.js';
import { parseResourcePath, type ResourceRoute } from './router.js';
import { toTable, wantsTable } from './table.js';
import type { KubeObject } from './types.js';
import { isObject } from './util.js';
import { serveWatch, type WatchSettings } from './watch-http.js';

/** A finished response: status code and JSON body. */
interface Reply {
  code: number;
  body: unknown;
}

/** Everything the handler needs besides the request. */
export interface HandlerContext {
  api: Api;
  token: string;
  address: () => string;
  watch: WatchSettings;
}

function sendJson(res: ServerResponse, r: Reply): void {
  const text = JSON.stringify(r.body);
  res.writeHead(r.code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text.trim() === '') return undefined;
  const ct = contentType ?? '';
  if (ct.includes('protobuf') || ct.includes('cbor'))
    throw new ApiError(415, 'UnsupportedMediaType', `unsupported media type: ${ct}`);
  try {
    return ct.includes('yaml') ? (parseYaml(text) as unknown) : (JSON.parse(text) as unknown);
  } catch (err) {
    throw badRequest(`invalid request body: ${(err as Error).message}`);
  }
}

function discovery(ctx: HandlerContext, path: string): Reply | undefined {
  const segs = path.split('/').filter((s) => s !== '');
  const ok = (body: unknown): Reply | undefined => (body === undefined ? undefined : { code: 200, body });
  if (path === '/version' || path === '/version/') return ok(versionInfo());
  if (['/healthz', '/livez', '/readyz'].includes(path)) return ok('ok');
  if (path === '/api') return ok(coreVersions(ctx.address()));
  if (path === '/apis') return ok(groupList(ctx.api.types));
  if (segs[0] === 'api' && segs.length === 2) return ok(resourceList(ctx.api.types, '', segs[1] ?? ''));
  if (segs[0] === 'apis' && segs.length === 2) return ok(groupInfo(ctx.api.types, segs[1] ?? ''));
  if (segs[0] === 'apis' && segs.length === 3)
    return ok(resourceList(ctx.api.types, segs[1] ?? '', segs[2] ?? ''));
  if (path === '/openapi/v2') return ok(openApiV2());
  if (path === '/openapi/v3') return ok(openApiV3Index(ctx.api.types));
  if (segs[0] === 'openapi' && segs[1] === 'v3') {
    const [, , kind, a = '', b = ''] = segs;
    return ok(kind === 'api' ? openApiV3Doc(ctx.api.types, '', a) : openApiV3Doc(ctx.api.types, a, b));
  }
  return undefined;
}

function requestOptions(q: URLSearchParams, body?: unknown): RequestOptions {
  const fv = q.get('fieldValidation');
  const fm = q.get('fieldManager');
  const dry =
    q.get('dryRun') === 'All' ||
    (isObject(body) && Array.isArray(body.dryRun) && body.dryRun.includes('All'));
  return {
    ...(dry ? { dryRun: true } : {}),
    ...(fv ? { fieldValidation: fv } : {}),
    ...(fm ? { fieldManager: fm } : {}),
    ...(q.get('force') === 'true' ? { force: true } : {}),
  };
}

function deleteOptions(q: URLSearchParams, body: unknown): DeleteOptions {
  const b = isObject(body) ? (body as DeleteOptions & { orphanDependents?: boolean }) : {};
  const policy = (q.get('propagationPolicy') ??
    b.propagationPolicy ??
    (b.orphanDependents ? 'Orphan' : undefined)) as PropagationPolicy | undefined;
  const grace = q.get('gracePeriodSeconds') ?? b.gracePeriodSeconds;
  return {
    ...(policy ? { propagationPolicy: policy } : {}),
    ...(grace === undefined || grace === null ? {} : { gracePeriodSeconds: Number(grace) }),
    ...(b.preconditions ? { preconditions: b.preconditions } : {}),
    ...(requestOptions(q, body).dryRun ? { dryRun: true } : {}),
  };
}

function targetOf(api: Api, r: ResourceRoute): Target {
  return {
    type: api.type(r.group, r.version, r.resource),
    version: r.version,
    ...(r.namespace === undefined ? {} : { namespace: r.namespace }),
    ...(r.name === undefined ? {} : { name: r.name }),
    ...(r.subresource === undefined ? {} : { subresource: r.subresource }),
  };
}

function listReply(api: Api, t: Target, q: URLSearchParams, accept: string | undefined): Reply {
  const { items, resourceVersion } = api.list(
    t,
    q.get('labelSelector') ?? undefined,
    q.get('fieldSelector') ?? undefined,
  );
  if (wantsTable(accept))
    return {
      code: 200,
      body: toTable(t.type, items, api.store.now(), q.get('includeObject') ?? 'Metadata', resourceVersion),
    };
  const apiVersion = t.type.group === '' ? t.version : `${t.type.group}/${t.version}`;
  return { code: 200, body: { kind: t.type.listKind, apiVersion, metadata: { resourceVersion }, items } };
}

function getReply(api: Api, t: Target, q: URLSearchParams, accept: string | undefined): Reply {
  const obj = api.get(t);
  if (wantsTable(accept) && t.subresource === undefined) {
    return {
      code: 200,
      body: toTable(t.type, [obj as KubeObject], api.store.now(), q.get('includeObject') ?? 'Metadata'),
    };
  }
  return { code: 200, body: obj };
}

async function resourceReply(
  ctx: HandlerContext,
  req: IncomingMessage,
  t: Target,
  q: URLSearchParams,
): Promise<Reply> {
  const { api } = ctx;
  const body = req.method === 'GET' ? undefined : parseBody(await readBody(req), req.headers['content-type']);
  switch (req.method) {
    case 'GET':
      return t.name === undefined
        ? listReply(api, t, q, req.headers.accept)
        : getReply(api, t, q, req.headers.accept);
    case 'POST':
      if (t.name !== undefined) throw methodNotAllowed('POST');
      return { code: 201, body: api.create(t, body, requestOptions(q)) };
    case 'PUT':
      return { code: 200, body: api.update(t, body, requestOptions(q)) };
    case 'PATCH':
      return {
        code: 200,
        body: api.patch(t, patchTypeOf(req.headers['content-type']), body, requestOptions(q)),
      };
    case 'DELETE':
      return deleteReply(api, t, q, body);
    default:
      throw methodNotAllowed(req.method ?? '');
  }
}

function deleteReply(api: Api, t: Target, q: URLSearchParams, body: unknown): Reply {
  const opts = deleteOptions(q, body);
  if (t.name === undefined) {
    const items = api.deleteCollection(
      t,
      q.get('labelSelector') ?? undefined,
      q.get('fieldSelector') ?? undefined,
      opts,
    );
    return {
      code: 200,
      body: {
        kind: t.type.listKind,
        apiVersion: t.type.group === '' ? t.version : `${t.type.group}/${t.version}`,
        metadata: {},
        items,
      },
    };
  }
  const obj = api.delete(t, opts);
  const pending =
    obj.metadata.deletionTimestamp !== undefined &&
    api.store.find(t.type, obj.metadata.namespace, obj.metadata.name ?? '');
  return { code: pending ? 202 : 200, body: obj };
}

function isWatch(q: URLSearchParams, r: ResourceRoute): boolean {
  const w = q.get('watch');
  return r.legacyWatch || w === 'true' || w === '1';
}

/** Handles one HTTP request. */
export async function handle(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if (req.headers.authorization !== `Bearer ${ctx.token}`)
      throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    const url = new URL(req.url ?? '/', 'https://localhost');
    const route = parseResourcePath(url.pathname);
    if (!route) {
      const reply = req.method === 'GET' ? discovery(ctx, url.pathname.replace(/\/$/, '') || '/') : undefined;
      if (!reply) throw noRoute(url.pathname);
      return sendJson(res, reply);
    }
    const t = targetOf(ctx.api, route);
    if (req.method === 'GET' && isWatch(url.searchParams, route)) {
      return serveWatch(ctx.api, t, url.searchParams, req, res, ctx.watch);
    }
    sendJson(res, await resourceReply(ctx, req, t, url.searchParams));
  } catch (err) {
    const e = toApiError(err);
    if (!res.headersSent) sendJson(res, { code: e.code, body: e.status });
    else res.end();
  }
}
