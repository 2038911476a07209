import { looksLikeSessionToken, secretsEqual, sessionIdFor, VigilError } from '@vigil/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The session this request speaks for (the token's hash); set by the session-token hook. */
    vigilSessionId: string | null;
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

/**
 * The browser's hook: a session token, never the API key (which cannot be token-shaped). Only the
 * token's hash is kept on the request, so nothing downstream can log the token itself.
 */
export const sessionTokenHook: onRequestAsyncHookHandler = async function requireSessionToken(request) {
  const credential = bearerCredential(request);
  if (credential === null) throw new VigilError('unauthenticated', 'A session token is required.');
  if (!looksLikeSessionToken(credential)) throw new VigilError('unauthenticated', 'Unknown session token.');
  request.vigilSessionId = sessionIdFor(credential);
};

/** Routes behind the API key, in their own encapsulated scope so the hook reaches only them. */
export function apiKeyScope<O extends object>(apiKey: string, routes: FastifyPluginAsync<O>, options: O) {
  return async function backendApi(scope: FastifyInstance): Promise<void> {
    scope.addHook('onRequest', apiKeyHook(apiKey));
    await scope.register(routes, options);
  };
}

/** Routes behind a session token, in their own encapsulated scope. */
export function sessionTokenScope<O extends object>(routes: FastifyPluginAsync<O>, options: O) {
  return async function sessionApi(scope: FastifyInstance): Promise<void> {
    scope.addHook('onRequest', sessionTokenHook);
    await scope.register(routes, options);
  };
}
