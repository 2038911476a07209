import type { IncomingHttpHeaders } from 'node:http';
import { VigilError } from '@vigil/core';
import type { AccessTokenClaims, AccessTokenVerifier } from './access-token.js';
import { tokenOf } from './token.js';

/** The options of the Express middleware and the Fastify plugin that verify access tokens. */
export interface AccessTokenGuardOptions {
  /** `createAccessTokenVerifier(…)` (or any `AccessTokenVerifier`), shared by every route it guards. */
  verifier: AccessTokenVerifier;
}

export type GuardRequest = (headers: IncomingHttpHeaders) => Promise<AccessTokenClaims>;

/**
 * Validates the options once (throws `TypeError`) and returns the per-request check: the claims of
 * the request's `Authorization: Bearer` access token, or a rejection with an `AccessTokenError`
 * (a token given but refused) or a `VigilError('unauthenticated')` (no token at all).
 */
export function createAccessTokenGuard(
  caller: string,
  input: unknown,
  ignore: readonly string[] = [],
): GuardRequest {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`${caller}: options are required ({ verifier })`);
  }
  const options = input as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (key !== 'verifier' && !ignore.includes(key)) {
      throw new TypeError(`${caller}: unknown option '${key}' (known: verifier)`);
    }
  }
  const verifier = options.verifier as AccessTokenVerifier | undefined;
  if (typeof verifier !== 'object' || verifier === null || typeof verifier.verify !== 'function') {
    throw new TypeError(
      `${caller}: options.verifier must be an AccessTokenVerifier: createAccessTokenVerifier(…)`,
    );
  }
  return async function guardRequest(headers) {
    // Access tokens travel as bearer credentials only: a cookie would need CSRF checks of its own.
    const token = tokenOf(headers, null);
    if (token === null) throw new VigilError('unauthenticated', 'An access token is required.');
    return verifier.verify(token);
  };
}
