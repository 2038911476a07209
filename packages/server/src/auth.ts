import { looksLikeSessionToken, secretsEqual, sessionIdFor, type VigilConfig, VigilError } from '@vigil/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { readCookie } from './cookies.js';
import { documentSecurity, SECURITY } from './openapi.js';

type CookieConfig = VigilConfig['cookie'];

/** Where a request's session token came from: an explicit header, or the ambient cookie. */
export type TokenSource = 'header' | 'cookie';

declare module 'fastify' {
  interface FastifyRequest {
    /** The session this request speaks for (the token's hash); set by the session-token hook. */
    vigilSessionId: string | null;
    /** How the token came; only a `cookie` one is subject to the CSRF check. */
    vigilTokenSource: TokenSource | null;
  }
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/** The credential of `Authorization: Bearer <credential>`, or null. */
export function bearerCredential(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  return BEARER.exec(header)?.[1] ?? null;
}

/**
 * Checks an API key once, at start-up: a key shaped like a session token would make the two kinds
 * of credential indistinguishable, so it is refused rather than accepted ambiguously.
 */
export function checkApiKey(apiKey: unknown): string {
  if (typeof apiKey !== 'string' || apiKey.length === 0) {
    throw new TypeError('buildApp: apiKey (VIGIL_API_KEY) is required and must be a non-empty string');
  }
  if (apiKey !== apiKey.trim() || /\s/.test(apiKey)) {
    throw new TypeError('buildApp: apiKey must not contain whitespace');
  }
  if (looksLikeSessionToken(apiKey)) {
    throw new TypeError('buildApp: apiKey must not look like a session token (vgl_…)');
  }
  return apiKey;
}

/** The backend's hook: the API key, compared in constant time. A session token is never one. */
export function apiKeyHook(apiKey: string): onRequestAsyncHookHandler {
  return async function requireApiKey(request) {
    const credential = bearerCredential(request);
    if (credential === null) throw new VigilError('unauthenticated', 'An API key is required.');
    if (looksLikeSessionToken(credential)) {
      throw new VigilError('unauthenticated', 'A session token is not an API key.');
    }
    if (!secretsEqual(credential, apiKey)) throw new VigilError('unauthenticated', 'Unknown API key.');
  };
}

export interface SessionTokenOptions {
  /** Cookie mode: when enabled, the cookie is read if `Authorization` holds no session token. */
  cookie: CookieConfig;
  /**
   * Whether a cookie-authenticated state change (POST, PUT, PATCH, DELETE) must come from an allowed
   * `Origin`. Off only for forward-auth, where the method is the proxied request's, not a call to Vigil.
   */
  csrf: boolean;
  /**
   * A request with no credential at all passes with `vigilSessionId` null (the route authenticates
   * it in-band: `/v1/ws` takes an `auth` message). A credential that is sent is still checked.
   */
  optional?: boolean;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Whether a request's `Origin` may change state with the cookie: one of `allowedOrigins`, or the
 * request's own origin (scheme and `Host` as this server sees them; behind a TLS-terminating proxy,
 * list the public origin in `allowedOrigins`). No `Origin` at all is refused: browsers send one on
 * every POST and DELETE, so its absence means a client we cannot vouch for.
 */
export function originAllowed(request: FastifyRequest, cookie: CookieConfig): boolean {
  const origin = request.headers.origin;
  if (typeof origin !== 'string' || origin.length === 0) return false;
  const lower = origin.toLowerCase();
  if (cookie.allowedOrigins.includes(lower)) return true;
  const own = `${request.protocol}://${request.host}`.toLowerCase();
  if (lower === own) return true;
  // `Host: example.com:443` and `Origin: https://example.com` are the same origin.
  try {
    return new URL(own).origin === lower;
  } catch {
    return false;
  }
}

/**
 * The browser's hook: a session token, never the API key (which cannot be token-shaped). A
 * `Bearer vgl_…` header wins; otherwise, in cookie mode, the session cookie (so an app's own
 * `Authorization` header, forwarded by a proxy, does not hide the cookie). Only the token's hash is
 * kept on the request, so nothing downstream can log the token itself.
 */
export function sessionTokenHook({ cookie, csrf, optional }: SessionTokenOptions): onRequestAsyncHookHandler {
  return async function requireSessionToken(request) {
    const credential = bearerCredential(request);
    if (credential !== null && looksLikeSessionToken(credential)) {
      request.vigilSessionId = sessionIdFor(credential);
      request.vigilTokenSource = 'header';
      return;
    }
    const fromCookie = cookie.enabled ? readCookie(request.headers.cookie, cookie.name) : null;
    if (fromCookie !== null && fromCookie !== '') {
      // CSRF first: a forged request is refused before its token is even looked at.
      if (csrf && STATE_CHANGING.has(request.method) && !originAllowed(request, cookie)) {
        throw new VigilError(
          'csrf_rejected',
          'A cookie-authenticated change must come from an allowed Origin.',
        );
      }
      if (!looksLikeSessionToken(fromCookie))
        throw new VigilError('unauthenticated', 'Unknown session token.');
      request.vigilSessionId = sessionIdFor(fromCookie);
      request.vigilTokenSource = 'cookie';
      return;
    }
    if (credential === null && optional === true) return;
    if (credential === null) throw new VigilError('unauthenticated', 'A session token is required.');
    throw new VigilError('unauthenticated', 'Unknown session token.');
  };
}

/** Routes behind the API key, in their own encapsulated scope so the hook reaches only them. */
export function apiKeyScope<O extends object>(apiKey: string, routes: FastifyPluginAsync<O>, options: O) {
  return async function backendApi(scope: FastifyInstance): Promise<void> {
    scope.addHook('onRequest', apiKeyHook(apiKey));
    scope.addHook('onRoute', documentSecurity([SECURITY.apiKey]));
    await scope.register(routes, options);
  };
}

/** Routes behind a session token, in their own encapsulated scope. */
export function sessionTokenScope<O extends object>(
  routes: FastifyPluginAsync<O>,
  options: O,
  auth: SessionTokenOptions,
) {
  return async function sessionApi(scope: FastifyInstance): Promise<void> {
    scope.addHook('onRequest', sessionTokenHook(auth));
    scope.addHook(
      'onRoute',
      documentSecurity(
        auth.cookie.enabled ? [SECURITY.sessionToken, SECURITY.sessionCookie] : [SECURITY.sessionToken],
      ),
    );
    await scope.register(routes, options);
  };
}
