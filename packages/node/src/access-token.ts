import { type Clock, systemClock } from '@vigil/core';
import { errors, type JWTPayload, jwtVerify } from 'jose';
import { AccessTokenError } from './access-token-error.js';
import { vigilKeys } from './jwks.js';
import { revocationCheck } from './revocation.js';
import { httpUrl, nonNegativeInteger, positiveInteger, vigilEndpoint } from './vigil-http.js';

/** The claims of a Vigil access token (DESIGN: Token mode), checked. */
export interface AccessTokenClaims {
  /** The session's subject (the user). */
  sub: string;
  /** The session id (the session token's hash: safe to log). */
  sid: string;
  /** The session's policy name. */
  policy: string;
  /** Config `tokens.issuer` (default `vigil`). */
  iss: string;
  /** Config `tokens.audience`, when the server sets one. */
  aud?: string | string[];
  /** Signed at, in seconds since the epoch. */
  iat: number;
  /** Expires at, in seconds: never later than the session's idle or absolute deadline when signed. */
  exp: number;
  jti?: string;
}

/** The algorithms Vigil signs with (`tokens.algorithm`); a verifier never accepts any other. */
export type AccessTokenAlgorithm = 'ES256' | 'EdDSA';
const VIGIL_ALGORITHMS: readonly AccessTokenAlgorithm[] = ['ES256', 'EdDSA'];

export interface RevocationOptions {
  /** The backend API key (`VIGIL_API_KEY`): the check reads `GET /v1/sessions/:id`. */
  apiKey: string;
  /** The Vigil server's base URL. Default: the verifier's `vigilUrl`. */
  vigilUrl?: string | URL;
  /** How long a "still live" answer is reused, in ms (default 1000; 0: every verification asks). */
  cacheMs?: number;
  /** Longest a check may take, in ms (default 2000). */
  timeoutMs?: number;
  /** Sessions remembered at most (default 10 000). */
  maxEntries?: number;
  /**
   * When Vigil cannot answer: `refuse` (default) rejects with `vigil_unavailable` (a 503); `accept`
   * trusts the signature alone — the revocation latency becomes the token lifetime during an outage.
   */
  onUnavailable?: 'refuse' | 'accept';
}

export interface AccessTokenVerifierOptions {
  /** The Vigil server's base URL: the JWKS is `{vigilUrl}/.well-known/jwks.json`. Or give `jwksUrl`. */
  vigilUrl?: string | URL;
  /** The JWKS's URL, when it is served elsewhere (a CDN, a proxy). */
  jwksUrl?: string | URL;
  /** The required `iss`: the server's config `tokens.issuer` (default `vigil`). */
  issuer?: string;
  /** The required `aud` (one of them), when the server sets `tokens.audience`. Default: not checked. */
  audience?: string | string[];
  /** Accepted algorithms, a subset of `ES256`, `EdDSA` (default both). */
  algorithms?: AccessTokenAlgorithm[];
  /** Leeway for `exp`, in seconds (default 0: a token never outlives the session's deadline). */
  clockToleranceSec?: number;
  /** The clock `exp` and the revocation cache's ages are measured with (default the system clock). */
  clock?: Clock;
  /** Longest a JWKS fetch may take, in ms (default 2000). */
  timeoutMs?: number;
  /** Least time between two JWKS fetches caused by an unknown `kid`, in ms (default 30 000). */
  jwksCooldownMs?: number;
  /** How long fetched keys are used before they are fetched again, in ms (default 600 000). */
  jwksCacheMaxAgeMs?: number;
  /** What a `503` tells clients to wait when Vigil gave no `Retry-After`, in ms (default 1000). */
  retryAfterMs?: number;
  /** Also ask Vigil whether the session still lives (see `RevocationOptions`). Default `false`. */
  revocation?: RevocationOptions | false;
}

export interface AccessTokenVerifier {
  /**
   * The claims of a valid access token; rejects with an `AccessTokenError` only (`token_invalid`,
   * `token_expired`, `session_ended`, `vigil_unavailable`), whatever the input.
   */
  verify(token: string): Promise<AccessTokenClaims>;
}

const KNOWN = new Set([
  'vigilUrl',
  'jwksUrl',
  'issuer',
  'audience',
  'algorithms',
  'clockToleranceSec',
  'clock',
  'timeoutMs',
  'jwksCooldownMs',
  'jwksCacheMaxAgeMs',
  'retryAfterMs',
  'revocation',
]);
const REVOCATION_KNOWN = new Set([
  'apiKey',
  'vigilUrl',
  'cacheMs',
  'timeoutMs',
  'maxEntries',
  'onUnavailable',
]);
/** A compact JWS: three base64url parts. Vigil's tokens are well under 1 KB; 8 KB bounds the work. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 8192;

/**
 * Verifies Vigil access tokens in a resource server, locally: the signature against Vigil's JWKS
 * (fetched once and cached, see `vigilKeys`), the algorithm, `typ: at+jwt`, `iss`, `aud` when asked,
 * `exp`, and the claims `sub`, `sid`, `policy`. Without `revocation` that is all — a revoked
 * session's token is accepted until its `exp` (at most the policy's `accessTokenTtl`). With it, each
 * verification also asks Vigil whether the session lives (cached `cacheMs`). Options are checked here
 * (a `TypeError` naming the option).
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const caller = 'createAccessTokenVerifier';
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${caller}: options are required ({ vigilUrl | jwksUrl, issuer?, revocation?, … })`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key))
      throw new TypeError(`${caller}: unknown option '${key}' (known: ${[...KNOWN].join(', ')})`);
  }
  if ((options.vigilUrl === undefined) === (options.jwksUrl === undefined)) {
    throw new TypeError(`${caller}: give exactly one of options.vigilUrl and options.jwksUrl`);
  }
  const jwksUrl =
    options.jwksUrl !== undefined
      ? httpUrl(caller, 'jwksUrl', options.jwksUrl).href
      : vigilEndpoint(caller, 'vigilUrl', options.vigilUrl, '.well-known/jwks.json');
  const issuer = options.issuer ?? 'vigil';
  if (typeof issuer !== 'string' || issuer === '') {
    throw new TypeError(`${caller}: options.issuer must be the server's tokens.issuer (default 'vigil')`);
  }
  const audience = options.audience;
  if (
    audience !== undefined &&
    !(typeof audience === 'string' && audience !== '') &&
    !(
      Array.isArray(audience) &&
      audience.length > 0 &&
      audience.every((a) => typeof a === 'string' && a !== '')
    )
  ) {
    throw new TypeError(`${caller}: options.audience must be a non-empty string or array of strings`);
  }
  const algorithms = options.algorithms ?? [...VIGIL_ALGORITHMS];
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    algorithms.some((alg) => !VIGIL_ALGORITHMS.includes(alg))
  ) {
    throw new TypeError(`${caller}: options.algorithms must list some of ${VIGIL_ALGORITHMS.join(', ')}`);
  }
  const tolerance = options.clockToleranceSec ?? 0;
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) {
    throw new TypeError(`${caller}: options.clockToleranceSec must be a non-negative number of seconds`);
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw new TypeError(`${caller}: options.clock must be a Clock ({ now(): number })`);
  }
  const retryAfterMs = positiveInteger(caller, 'retryAfterMs', options.retryAfterMs ?? 1000);
  const getKey = vigilKeys(jwksUrl, {
    timeoutMs: positiveInteger(caller, 'timeoutMs', options.timeoutMs ?? 2000),
    cooldownMs: nonNegativeInteger(caller, 'jwksCooldownMs', options.jwksCooldownMs ?? 30_000),
    cacheMaxAgeMs: positiveInteger(caller, 'jwksCacheMaxAgeMs', options.jwksCacheMaxAgeMs ?? 600_000),
    retryAfterMs,
  });
  const checkSession = sessionCheckFor(caller, options, clock, retryAfterMs);

  async function verify(token: string): Promise<AccessTokenClaims> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
      throw new AccessTokenError('token_invalid', 'The access token is not a JWT.');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms: [...algorithms],
        issuer,
        ...(audience !== undefined && { audience }),
        typ: 'at+jwt',
        requiredClaims: ['sub', 'iat', 'exp'],
        clockTolerance: tolerance,
        currentDate: new Date(clock.now()),
      }));
    } catch (error) {
      throw refusal(error);
    }
    const claims = claimsOf(payload);
    await checkSession?.(claims.sid);
    return claims;
  }

  return { verify };
}

function sessionCheckFor(
  caller: string,
  options: AccessTokenVerifierOptions,
  clock: Clock,
  retryAfterMs: number,
): ((sessionId: string) => Promise<void>) | null {
  const revocation = options.revocation ?? false;
  if (revocation === false) return null;
  if (typeof revocation !== 'object' || revocation === null) {
    throw new TypeError(`${caller}: options.revocation must be { apiKey, vigilUrl?, cacheMs?, … } or false`);
  }
  for (const key of Object.keys(revocation)) {
    if (!REVOCATION_KNOWN.has(key)) {
      throw new TypeError(
        `${caller}: unknown option 'revocation.${key}' (known: ${[...REVOCATION_KNOWN].join(', ')})`,
      );
    }
  }
  if (typeof revocation.apiKey !== 'string' || revocation.apiKey === '' || /\s/.test(revocation.apiKey)) {
    throw new TypeError(`${caller}: options.revocation.apiKey must be the backend API key (VIGIL_API_KEY)`);
  }
  const base = revocation.vigilUrl ?? options.vigilUrl;
  if (base === undefined) {
    throw new TypeError(`${caller}: options.revocation.vigilUrl is required when only jwksUrl is given`);
  }
  const onUnavailable = revocation.onUnavailable ?? 'refuse';
  if (onUnavailable !== 'refuse' && onUnavailable !== 'accept') {
    throw new TypeError(`${caller}: options.revocation.onUnavailable must be 'refuse' or 'accept'`);
  }
  return revocationCheck({
    sessionsUrl: vigilEndpoint(caller, 'revocation.vigilUrl', base, 'v1/sessions/'),
    apiKey: revocation.apiKey,
    cacheMs: nonNegativeInteger(caller, 'revocation.cacheMs', revocation.cacheMs ?? 1000),
    timeoutMs: positiveInteger(caller, 'revocation.timeoutMs', revocation.timeoutMs ?? 2000),
    maxEntries: positiveInteger(caller, 'revocation.maxEntries', revocation.maxEntries ?? 10_000),
    retryAfterMs,
    onUnavailable,
    now: () => clock.now(),
  });
}

/** What jose (or the key lookup) threw, as the one error `verify` rejects with. */
function refusal(error: unknown): AccessTokenError {
  if (error instanceof AccessTokenError) return error;
  if (error instanceof errors.JWTExpired)
    return new AccessTokenError('token_expired', undefined, { cause: error });
  // Everything else jose reports is about the token: its form, signature, algorithm, kid or claims.
  // An unexpected error is a refusal too: a token that cannot be checked is never let through.
  return new AccessTokenError('token_invalid', undefined, { cause: error });
}

function claimsOf(payload: JWTPayload): AccessTokenClaims {
  const { sub, sid, policy, iss, aud, iat, exp, jti } = payload;
  if (
    typeof sub !== 'string' ||
    sub === '' ||
    typeof sid !== 'string' ||
    sid === '' ||
    typeof policy !== 'string' ||
    policy === '' ||
    typeof iss !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number'
  ) {
    throw new AccessTokenError('token_invalid', 'The access token lacks a Vigil claim (sub, sid, policy).');
  }
  return {
    sub,
    sid,
    policy,
    iss,
    ...(aud !== undefined && { aud }),
    iat,
    exp,
    ...(typeof jti === 'string' && { jti }),
  };
}
