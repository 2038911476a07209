import {
  ERROR_TABLE,
  type ErrorCode,
  type ErrorDetail,
  RateLimitedError,
  StoreUnavailableError,
  ValidationError,
  VigilError,
} from '@vigil/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The body of every error answer (DESIGN: `{"error": {"code", "message", ...}}`). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string } & Record<string, unknown>;
}

export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

/** Fastify's own 4xx errors, each answered with a code from the table and a fixed message. */
const FRAMEWORK_ERRORS: Record<string, { code: ErrorCode; status: number; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'bad_request', status: 400, message: 'The body is not valid JSON.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'bad_request',
    status: 400,
    message: 'The body is empty but Content-Type says JSON.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'bad_request',
    status: 415,
    message: 'Unsupported Content-Type: send application/json.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'bad_request',
    status: 400,
    message: 'Content-Length does not match the body.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'payload_too_large',
    status: 413,
    message: `The request body is too large.`,
  },
  FST_ERR_BAD_URL: { code: 'bad_request', status: 400, message: 'The URL is not valid.' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'not_found', status: 404, message: 'Not found.' },
};

/** A refusal answered with another status than its code's own (a 415 or a 431 is `bad_request` too). */
export class StatusError extends VigilError {
  override readonly status: number;

  constructor(status: number, code: ErrorCode, message?: string) {
    super(code, message);
    this.status = status;
  }
}

const BY_STATUS: Record<number, ErrorCode> = {
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  429: 'rate_limited',
};

/**
 * Turns anything thrown into the one error shape. Known errors keep their code and message (core's
 * messages never hold a secret); Fastify's get a code from the table and a fixed message (theirs may
 * echo request input); anything else is a bare `500 internal_error`: no message, no stack.
 */
export function toErrorReply(error: unknown): ErrorReply {
  if (error instanceof VigilError) {
    const headers: Record<string, string> = {};
    if (error instanceof RateLimitedError || error instanceof StoreUnavailableError) {
      headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    }
    if (error.status === 401) headers['www-authenticate'] = 'Bearer realm="vigil"';
    return {
      status: error.status,
      headers,
      body: { error: { ...error.extraFields(), code: error.code, message: error.message } },
    };
  }
  const fastifyError = error as Partial<FastifyError> | null;
  if (fastifyError?.validation !== undefined) {
    return toErrorReply(
      new ValidationError(
        fastifyError.validation.map((problem) => validationDetail(problem, fastifyError.validationContext)),
      ),
    );
  }
  const known = typeof fastifyError?.code === 'string' ? FRAMEWORK_ERRORS[fastifyError.code] : undefined;
  if (known !== undefined) return plain(known.code, known.status, known.message);
  const status = fastifyError?.statusCode;
  if (
    typeof fastifyError?.code === 'string' &&
    fastifyError.code.startsWith('FST_') &&
    typeof status === 'number' &&
    status >= 400 &&
    status < 500
  ) {
    const code = BY_STATUS[status] ?? 'bad_request';
    return plain(code, status, ERROR_TABLE[code].message);
  }
  return plain('internal_error', 500, ERROR_TABLE.internal_error.message);
}

function plain(code: ErrorCode, status: number, message: string): ErrorReply {
  const headers: Record<string, string> =
    status === 401 ? { 'www-authenticate': 'Bearer realm="vigil"' } : {};
  return { status, headers, body: { error: { code, message } } };
}

interface AjvProblem {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

const RULES: Record<string, string> = {
  maxLength: 'max_length',
  minLength: 'min_length',
  maxItems: 'max_items',
  minItems: 'min_items',
  additionalProperties: 'unknown_field',
};

/** One ajv problem as `{field: "body.subject", rule: "max_length", message}`: no input echoed. */
function validationDetail(problem: AjvProblem, context: string | undefined): ErrorDetail {
  const segments = problem.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  let subject = '';
  if (problem.keyword === 'required' && typeof problem.params.missingProperty === 'string') {
    segments.push(problem.params.missingProperty);
  } else if (
    problem.keyword === 'additionalProperties' &&
    typeof problem.params.additionalProperty === 'string'
  ) {
    segments.push(problem.params.additionalProperty);
    subject = 'is not a known field';
  }
  const field = [context ?? 'request', ...segments].join('.');
  const rule = RULES[problem.keyword] ?? problem.keyword;
  return { field, rule, message: subject || (problem.message ?? 'is invalid') };
}

export interface ErrorHandlingOptions {
  /** Called for each store failure seen by a request (metrics). */
  onStoreError?: (error: StoreUnavailableError) => void;
}

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  log = true,
): FastifyReply {
  const answer = toErrorReply(error);
  if (log) logError(request, answer, error);
  return reply
    .code(answer.status)
    .headers(answer.headers)
    .type('application/json; charset=utf-8')
    .send(answer.body);
}

/** 5xx at `error` with the cause (for operators); 4xx at `info` with the code only (their messages are the client's business). */
function logError(request: FastifyRequest, answer: ErrorReply, error: unknown): void {
  const { code } = answer.body.error;
  if (answer.status >= 500 && code === 'internal_error') {
    request.log.error({ err: error, code }, 'request failed');
  } else if (error instanceof StoreUnavailableError) {
    const cause = error.cause as { name?: unknown; code?: unknown; message?: unknown } | undefined;
    request.log.warn(
      {
        code,
        reason: error.message,
        cause: cause && { name: cause.name, code: cause.code, message: cause.message },
      },
      'store unavailable',
    );
  } else {
    request.log.info({ code, statusCode: answer.status }, 'request refused');
  }
}

/** Installs the error handler, the 404 handler and the handler for URLs Fastify cannot route. */
export function registerErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions = {}): void {
  app.setErrorHandler(function vigilErrorHandler(error, request, reply) {
    if (error instanceof StoreUnavailableError) options.onStoreError?.(error);
    if (clientWentAway(request, error)) {
      // Not a server error, and there is nobody to answer: no stack, no `error` line.
      request.log.debug({ cause: 'ECONNRESET' }, 'client went away');
      return sendError(request, reply, new VigilError('bad_request', 'The request was aborted.'), false);
    }
    return sendError(request, reply, error);
  });
  app.setNotFoundHandler(function vigilNotFound(request, reply) {
    return sendError(request, reply, new VigilError('not_found'), false);
  });
}

/**
 * The client closed the connection while its request was being read (a half-sent body): Node
 * destroys the request with `ECONNRESET` "aborted", which reaches the error handler like a failure.
 */
function clientWentAway(request: FastifyRequest, error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ECONNRESET' && request.raw.destroyed;
}

/** For Fastify's `frameworkErrors` option: bad URL encodings and over-long parameters. */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  // These replies skip the app's hooks, so the headers they would add are set here.
  sendError(request, reply.header('cache-control', 'no-store'), error);
}
