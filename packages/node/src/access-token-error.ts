import { type EndReason, SessionEndedError, StoreUnavailableError, VigilError } from '@vigil/core';
import { type ErrorReply, errorReply } from './enforce.js';

/**
 * Why an access token was refused. `token_invalid`: not a token Vigil signed for this verifier
 * (malformed, bad signature, an algorithm or `kid` it does not use, wrong `iss`/`aud`/`typ`, a
 * session Vigil does not know); `token_expired`: past `exp`; `session_ended`: the revocation check
 * found the session over (`reason`); `vigil_unavailable`: the keys or the session could not be
 * checked right now (retry; never a logout).
 */
export type AccessTokenErrorCode = 'token_invalid' | 'token_expired' | 'session_ended' | 'vigil_unavailable';

const STATUS: Record<AccessTokenErrorCode, 401 | 503> = {
  token_invalid: 401,
  token_expired: 401,
  session_ended: 401,
  vigil_unavailable: 503,
};

const MESSAGE: Record<AccessTokenErrorCode, string> = {
  token_invalid: 'The access token is not valid.',
  token_expired: 'The access token has expired.',
  session_ended: 'The session has ended.',
  vigil_unavailable: 'Vigil cannot check the access token right now; retry later.',
};

export interface AccessTokenErrorDetails {
  /** `session_ended` only. */
  reason?: EndReason;
  /** `session_ended` only: when the session ended (ms since the epoch). */
  endedAt?: number;
  /** `vigil_unavailable` only: what a `503` tells clients to wait (default 1000 ms). */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * The one error `verify()` rejects with: switch on `code`. Messages are terse and never carry the
 * token, a key or the API key; what went wrong in detail is the `cause`, for logs.
 */
export class AccessTokenError extends Error {
  readonly code: AccessTokenErrorCode;
  readonly status: 401 | 503;
  readonly reason: EndReason | null;
  readonly endedAt: number | null;
  readonly retryAfterMs: number | null;

  constructor(code: AccessTokenErrorCode, message = MESSAGE[code], details: AccessTokenErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AccessTokenError';
    this.code = code;
    this.status = STATUS[code];
    this.reason = code === 'session_ended' ? (details.reason ?? null) : null;
    this.endedAt = code === 'session_ended' ? (details.endedAt ?? null) : null;
    this.retryAfterMs = code === 'vigil_unavailable' ? (details.retryAfterMs ?? 1000) : null;
  }

  /**
   * The refusal in the protocol's terms (DESIGN's error codes), so that an API answers exactly as
   * Vigil does: `unauthenticated` (invalid or expired: refresh and retry), `session_ended` with the
   * reason (sign out), `store_unavailable` with `Retry-After` (retry later).
   */
  toVigilError(): VigilError {
    switch (this.code) {
      case 'session_ended':
        if (this.reason !== null && this.endedAt !== null)
          return new SessionEndedError(this.reason, this.endedAt);
        return new VigilError('unauthenticated', this.message);
      case 'vigil_unavailable':
        return new StoreUnavailableError(this.message, { retryAfterMs: this.retryAfterMs ?? 1000 });
      default:
        return new VigilError('unauthenticated', this.message);
    }
  }
}

export function isAccessTokenError(error: unknown): error is AccessTokenError {
  return error instanceof AccessTokenError;
}

/**
 * The HTTP answer to a refused access token: the Vigil server's error shape and headers, and for a
 * token that was presented but refused, RFC 6750's `error="invalid_token"` in `WWW-Authenticate`.
 */
export function accessTokenReply(error: AccessTokenError | VigilError): ErrorReply {
  if (!(error instanceof AccessTokenError)) return errorReply(error);
  const reply = errorReply(error.toVigilError());
  if (error.status === 401) {
    reply.headers['www-authenticate'] =
      `Bearer realm="vigil", error="invalid_token", error_description="${error.code}"`;
  }
  return reply;
}
