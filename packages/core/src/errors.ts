/**
 * Every error Vigil can answer with, declared once: a stable code, its HTTP status and a default
 * message. Codes are part of the protocol (DESIGN.md); messages may improve freely and never carry a
 * token, a key or an attribute value.
 */
export const ERROR_TABLE = {
  bad_request: { status: 400, message: 'The request is malformed.' },
  validation_failed: { status: 400, message: 'The request does not satisfy the schema.' },
  unauthenticated: { status: 401, message: 'Missing or unknown credentials.' },
  forbidden: { status: 403, message: 'These credentials may not do this.' },
  not_found: { status: 404, message: 'Not found.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  rate_limited: { status: 429, message: 'Too many requests; retry later.' },
  csrf_rejected: { status: 403, message: 'Cross-site request refused.' },
  session_ended: { status: 401, message: 'The session has ended.' },
  store_unavailable: { status: 503, message: 'The session store cannot answer right now; retry later.' },
  internal_error: { status: 500, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;
export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

export interface ErrorDetail {
  /** Where the problem is, as a dotted path (`policies.admin.warnBefore`, `body.subject`). */
  field: string;
  /** The rule that was broken, stable for programs (`lt_idleTimeout`, `required`, `max_length`). */
  rule: string;
  message: string;
}

export class VigilError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string = ERROR_TABLE[code].message, options?: ErrorOptions) {
    super(message, options);
    this.name = 'VigilError';
    this.code = code;
    this.status = ERROR_TABLE[code].status;
  }

  /** Extra fields for the `error` object of an HTTP answer, besides `code` and `message`. */
  extraFields(): Record<string, unknown> {
    return {};
  }
}

export type EndReason =
  | 'idle_timeout'
  | 'absolute_timeout'
  | 'revoked'
  | 'logout'
  | 'upstream_rejected'
  | 'evicted'
  | 'refresh_reuse';

export const END_REASONS: readonly EndReason[] = [
  'idle_timeout',
  'absolute_timeout',
  'revoked',
  'logout',
  'upstream_rejected',
  'evicted',
  'refresh_reuse',
];

export class SessionEndedError extends VigilError {
  readonly reason: EndReason;
  readonly endedAt: number;

  constructor(reason: EndReason, endedAt: number) {
    super('session_ended', `The session has ended (${reason}).`);
    this.name = 'SessionEndedError';
    this.reason = reason;
    this.endedAt = endedAt;
  }

  override extraFields(): Record<string, unknown> {
    return { reason: this.reason, endedAt: new Date(this.endedAt).toISOString() };
  }
}

export class StoreUnavailableError extends VigilError {
  readonly retryAfterMs: number;

  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super('store_unavailable', message, { cause: options.cause });
    this.name = 'StoreUnavailableError';
    this.retryAfterMs = options.retryAfterMs ?? 1000;
  }
}

export class RateLimitedError extends VigilError {
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number) {
    super('rate_limited');
    this.name = 'RateLimitedError';
    this.retryAfterMs = retryAfterMs;
  }
}

export class ValidationError extends VigilError {
  readonly details: ErrorDetail[];

  constructor(details: ErrorDetail[], message?: string) {
    super('validation_failed', message ?? details.map((d) => `${d.field}: ${d.message}`).join('; '));
    this.name = 'ValidationError';
    this.details = details;
  }

  override extraFields(): Record<string, unknown> {
    return { details: this.details };
  }
}

export function isVigilError(error: unknown): error is VigilError {
  return error instanceof VigilError;
}
