/** The management API's error envelope `{ error: { code, message } }` and its error handler. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../core/logger.js';

/** Stable error codes of the management API (docs/api.md "Errors"). */
export type ApiErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'invalid_body'
  | 'not_found'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'bad_request'
  | 'drained'
  | 'internal';

/** The JSON body of every error answer. */
export interface ApiErrorBody {
  readonly error: { readonly code: ApiErrorCode; readonly message: string };
}

/** Sends an error answer with the envelope. */
export function sendError(reply: FastifyReply, status: number, code: ApiErrorCode, message: string): void {
  const body: ApiErrorBody = { error: { code, message } };
  void reply.code(status).type('application/json; charset=utf-8').send(body);
}

const CLIENT_CODES: Readonly<Record<number, ApiErrorCode>> = {
  413: 'body_too_large',
  415: 'unsupported_media_type',
};

const BODY_ERRORS = new Set(['FST_ERR_CTP_EMPTY_JSON_BODY', 'FST_ERR_CTP_INVALID_JSON_BODY']);

function clientCode(err: FastifyError, status: number): ApiErrorCode {
  if (BODY_ERRORS.has(err.code)) return 'invalid_body';
  return CLIENT_CODES[status] ?? 'bad_request';
}

/**
 * Maps errors thrown while serving an API request: fastify's own 4xx (bad JSON, body too large,
 * unsupported content type) keep their status and message; anything else is a logged 500 whose details
 * stay in the log.
 */
export function apiErrorHandler(
  logger: Pick<Logger, 'error'>,
): (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (err, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      sendError(reply, status, clientCode(err, status), err.message);
      return;
    }
    logger.error({ err, method: request.method, url: request.url.split('?')[0] }, 'api request failed');
    sendError(reply, 500, 'internal', 'internal error');
  };
}
