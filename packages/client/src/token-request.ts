import { isSessionStatus, type Outcome, requestVigil, type TransportOptions } from './transport.js';
import type { SessionStatus } from './types.js';

/** DESIGN: `tokens`. `refreshToken` is absent when the server put it in the HttpOnly cookie instead. */
export interface Tokens {
  accessToken: string;
  refreshToken?: string;
  accessExpiresInMs: number;
  status: SessionStatus;
}

/** What a token call came to: the SDK's outcomes, with the tokens in place of a bare status. */
export type TokensOutcome = { kind: 'ok'; tokens: Tokens } | Exclude<Outcome, { kind: 'ok' }>;

/** No `token`: the refresh token travels in the body or the cookie, never in `Authorization`. */
export type TokenRequestOptions = Omit<TransportOptions, 'token'>;

/**
 * One token-mode call (`POST /v1/token/refresh`, `DELETE /v1/token`), read the way the SDK reads a
 * heartbeat: `401` ends the session with the server's reason (`idle_timeout`, `refresh_reuse`…), `429`,
 * `5xx`, a network error or a timeout are worth retrying, anything else is not.
 */
export function requestTokens(
  options: TokenRequestOptions,
  method: 'POST' | 'DELETE',
  path: string,
  body?: object,
): Promise<TokensOutcome> {
  return requestVigil(options, method, path, body, (json) =>
    isTokens(json) ? { kind: 'ok' as const, tokens: json } : undefined,
  );
}

function isTokens(value: unknown): value is Tokens {
  const v = value as Partial<Tokens> | null;
  return (
    typeof v?.accessToken === 'string' &&
    typeof v.accessExpiresInMs === 'number' &&
    (v.refreshToken === undefined || typeof v.refreshToken === 'string') &&
    isSessionStatus(v.status)
  );
}
