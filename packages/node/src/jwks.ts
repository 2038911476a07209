import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTVerifyGetKey,
} from 'jose';
import { AccessTokenError } from './access-token-error.js';
import { isTimeout, parseJson, retryAfterOf } from './vigil-http.js';

export interface VigilKeysOptions {
  /** Longest a JWKS fetch may take. */
  timeoutMs: number;
  /** Least time between two fetches caused by an unknown `kid` (or after a failed fetch). */
  cooldownMs: number;
  /** How long fetched keys are used before they are fetched again. */
  cacheMaxAgeMs: number;
  /** What a `503` tells clients to wait when Vigil gave no `Retry-After`. */
  retryAfterMs: number;
}

/**
 * The keys that verify access tokens: Vigil's JWKS, fetched over Node's keep-alive `fetch`, kept
 * for `cacheMaxAgeMs`, fetched again on an unknown `kid` (at most once per `cooldownMs`: a flood of
 * made-up kids costs Vigil one request per cooldown). When Vigil cannot answer, the keys it last
 * published keep verifying — a Vigil outage does not stop local verification; a token whose `kid`
 * is not among them then gets `vigil_unavailable` (it may be signed by a key published since),
 * never a pass. Failures of the fetch are `AccessTokenError('vigil_unavailable')`; anything else
 * thrown is about the token itself.
 */
export function vigilKeys(url: string, options: VigilKeysOptions): JWTVerifyGetKey {
  const unavailable = (message: string, cause?: unknown, retryAfterMs = options.retryAfterMs) =>
    new AccessTokenError('vigil_unavailable', `Vigil's signing keys cannot be fetched: ${message}.`, {
      cause,
      retryAfterMs,
    });

  /** jose's fetch, made strict: every way the JWKS can fail to arrive is one `vigil_unavailable`. */
  async function fetchJwks(input: string, init: RequestInit): Promise<Response> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(input, init);
      // Always read the body: an unread body keeps its connection out of the keep-alive pool.
      text = await response.text();
    } catch (error) {
      throw unavailable(isTimeout(error) ? `no answer within ${options.timeoutMs} ms` : 'unreachable', error);
    }
    if (response.status !== 200) {
      throw unavailable(`answered ${response.status}`, undefined, retryAfterOf(response.headers));
    }
    if (!Array.isArray(parseJson(text)?.keys)) throw unavailable('the answer is not a JWK Set');
    return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
  }

  const remote = createRemoteJWKSet(new URL(url), {
    timeoutDuration: options.timeoutMs,
    cooldownDuration: options.cooldownMs,
    cacheMaxAge: options.cacheMaxAgeMs,
    [customFetch]: fetchJwks,
  });
  /** When the last fetch failed: until a cooldown has passed, the last known keys answer alone. */
  let failedAt = Number.NEGATIVE_INFINITY;

  async function lastKnownKey(header: JWSHeaderParameters, token: FlattenedJWSInput, failure: unknown) {
    const known: JSONWebKeySet | undefined = remote.jwks();
    if (known === undefined) throw failure;
    try {
      return await createLocalJWKSet(known)(header, token);
    } catch (error) {
      // Maybe signed by a key published after the last fetch: unknown, not invalid.
      throw error instanceof errors.JWKSNoMatchingKey ? failure : error;
    }
  }

  return async function vigilKey(header, token) {
    // DESIGN: every access token names its key; without a `kid` any key of the set could match.
    if (typeof header.kid !== 'string' || header.kid === '') {
      throw new AccessTokenError('token_invalid', 'The access token names no key (kid).');
    }
    if (Date.now() - failedAt < options.cooldownMs) {
      return lastKnownKey(header, token, unavailable('an earlier fetch failed moments ago'));
    }
    try {
      return await remote(header, token);
    } catch (error) {
      const fetchFailed =
        (error instanceof AccessTokenError && error.code === 'vigil_unavailable') ||
        error instanceof errors.JWKSTimeout ||
        error instanceof errors.JWKSInvalid;
      if (!fetchFailed) throw error;
      failedAt = Date.now();
      const failure = error instanceof AccessTokenError ? error : unavailable('a bad answer', error);
      return lastKnownKey(header, token, failure);
    }
  };
}
