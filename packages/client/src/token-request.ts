import { parseRetryAfter } from './backoff.js';
import { fetchVigil, type Outcome } from './transport.js';
import type { SessionStatus, Timers } from './types.js';

/** DESIGN: `tokens`. `refreshToken` is absent when the server put it in the HttpOnly cookie instead. */
export interface Tokens {
  accessToken: string;
  refreshToken?: string;
  accessExpiresInMs: number;
  status: SessionStatus;
}

/** What a token call came to: the SDK's outcomes, with the tokens in place of a bare status. */
export type TokensOutcome = { kind: 'ok'; tokens: Tokens } | Exclude<Outcome, { kind: 'ok' }>;

export interface TokenRequestOptions {
  baseUrl: string;
  fetch: typeof fetch;
  timers: Timers;
  timeoutMs: number;
  /** `'include'` when Vigil is on another origin than the page and the refresh token is a cookie. */
  credentials?: RequestCredentials | undefined;
}

/**
 * One token-mode call (`POST /v1/token/refresh`, `DELETE /v1/token`), read the way the SDK reads a
 * heartbeat: `401` ends the session with the server's reason (`idle_timeout`, `refresh_reuse`…), `429`,
 * `5xx`, a network error or a timeout are worth retrying, anything else is not.
 */
export async function requestTokens(
  options: TokenRequestOptions,
  method: 'POST' | 'DELETE',
  path: string,
  body?: object,
): Promise<TokensOutcome> {
  const controller = new AbortController();
  const timeout = options.timers.setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    // No `token`: the refresh token travels in the body or the cookie, never in `Authorization`.
    const response = await fetchVigil(options, path, 'application/json', controller.signal, method, body);
    return await interpret(response);
  } catch {
    return { kind: 'retry', retryAfterMs: null, httpStatus: 0 };
  } finally {
    options.timers.clearTimeout(timeout);
  }
}

async function interpret(response: Response): Promise<TokensOutcome> {
  const { status } = response;
  if (status === 204) return { kind: 'done' };
  if (status === 429 || status >= 500) {
    return {
      kind: 'retry',
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      httpStatus: status,
    };
  }
  const json = (await response.json().catch(() => null)) as Record<string, unknown> | null;
  if (status >= 200 && status < 300) {
    // A 200 that is not `tokens` (a proxy's page): the server was not really reached.
    return isTokens(json)
      ? { kind: 'ok', tokens: json }
      : { kind: 'retry', retryAfterMs: null, httpStatus: status };
  }
  const error = (json?.error ?? {}) as { code?: unknown; reason?: unknown };
  const code = typeof error.code === 'string' ? error.code : null;
  if (status === 401) {
    const reason = code === 'session_ended' && typeof error.reason === 'string' ? error.reason : code;
    return { kind: 'ended', reason: reason ?? 'unauthenticated' };
  }
  return { kind: 'failed', httpStatus: status, code };
}

function isTokens(value: unknown): value is Tokens {
  const v = value as Partial<Tokens> | null;
  const s = v?.status;
  return (
    typeof v?.accessToken === 'string' &&
    typeof v.accessExpiresInMs === 'number' &&
    (v.refreshToken === undefined || typeof v.refreshToken === 'string') &&
    typeof s === 'object' &&
    s !== null &&
    typeof s.idleExpiresInMs === 'number' &&
    typeof s.absoluteExpiresInMs === 'number' &&
    typeof s.warnInMs === 'number' &&
    typeof s.heartbeatIntervalMs === 'number'
  );
}
