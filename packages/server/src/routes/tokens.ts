import { type Signal, type VigilConfig, VigilError } from '@vigil/core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { originAllowed } from '../auth.js';
import { clearSessionCookie, readCookie, serializeSessionCookie } from '../cookies.js';
import { errorResponses, ref } from '../schemas.js';
import type { KeyRing } from '../token-keys.js';
import type { TokenPair, TokenService } from '../token-service.js';

/**
 * Token mode's routes (DESIGN: Token mode). `POST /v1/token` is the backend's (API key, registered
 * in its scope); the refresh and logout take a refresh token in the body or, in cookie mode, in the
 * HttpOnly refresh cookie; the JWKS is public.
 */

const durationMs = { type: 'integer', minimum: 0 } as const;
/** A refresh token is 116 characters; anything much longer cannot be one. */
const refreshToken = { type: 'string', minLength: 1, maxLength: 512 } as const;

const tokensSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['accessToken', 'accessExpiresInMs', 'status'],
  properties: {
    accessToken: {
      type: 'string',
      description: 'A JWT (`at+jwt`): `sub`, `sid`, `policy`, `iss`, `iat`, `exp`.',
    },
    refreshToken: {
      type: 'string',
      description: 'The next refresh token; absent when it was put in the HttpOnly refresh cookie instead.',
    },
    accessExpiresInMs: { ...durationMs, description: 'When the access token expires, from now.' },
    status: ref.status,
  },
} as const;

export const issueTokensSchema = {
  summary: 'Issue tokens for a session (token mode)',
  description:
    'A new refresh-token family and an access token for a live session. Touches nothing. `404` for an unknown session, `401 session_ended` for an ended one.',
  tags: ['Tokens'],
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['sessionId'],
    properties: { sessionId: { type: 'string', minLength: 1, maxLength: 256 } },
  },
  response: { 200: tokensSchema, ...errorResponses },
} as const;

export const refreshTokensSchema = {
  summary: 'Refresh the access token (token mode)',
  description:
    "Rotates the refresh token (body, or the refresh cookie in cookie mode) and signs a new access token. `state: active` counts as activity, `sleeping` does not. A used refresh token ends the session (`401`, reason `refresh_reuse`), except the one just replaced, within the policy's `refreshGrace`: that one gets the current refresh token again. In cookie mode a browser (an allowed `Origin`) gets the new refresh token in the cookie, not the body.",
  tags: ['Tokens'],
  body: {
    type: 'object',
    required: ['state'],
    properties: {
      refreshToken,
      state: { type: 'string', enum: ['active', 'sleeping'] },
    },
  },
  response: { 200: tokensSchema, ...errorResponses },
} as const;

export const tokenLogoutSchema = {
  summary: 'Log out with a refresh token (token mode)',
  description:
    'Ends the session (`logout`); the refresh cookie is cleared. The body is optional in cookie mode.',
  tags: ['Tokens'],
  body: { type: ['object', 'null'], properties: { refreshToken } },
  response: { 204: { type: 'null', description: 'Logged out.' }, ...errorResponses },
} as const;

export const jwksSchema = {
  summary: 'The public keys that sign access tokens',
  description:
    'A JWK Set: the signing key, any key about to sign, and replaced keys until their last token has expired. Verify access tokens against it (`kid` in the header).',
  tags: ['Tokens'],
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['keys'],
      properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } },
    },
    ...errorResponses,
  },
} as const;

/** The refresh cookie's name: the session cookie's, with `-refresh` (so `__Host-vigil-refresh`). */
export function refreshCookieName(cookie: VigilConfig['cookie']): string {
  return `${cookie.name}-refresh`;
}

export interface BackendTokenRoutesOptions {
  tokens: TokenService;
}

/** `POST /v1/token`, behind the API key. */
export const backendTokenRoutes: FastifyPluginAsync<BackendTokenRoutesOptions> = async (app, { tokens }) => {
  app.post<{ Body: { sessionId: string } }>('/v1/token', { schema: issueTokensSchema }, async (request) =>
    tokens.issue(request.body.sessionId),
  );
};

export interface TokenRoutesOptions {
  tokens: TokenService;
  keys: KeyRing;
  cookie: VigilConfig['cookie'];
  now: () => number;
}

interface Presented {
  token: string;
  fromCookie: boolean;
}

/** Refresh, logout and the JWKS: authenticated by a refresh token, or public. */
export const tokenRoutes: FastifyPluginAsync<TokenRoutesOptions> = async (
  app,
  { tokens, keys, cookie, now },
) => {
  const cookieOptions = { ...cookie, name: refreshCookieName(cookie) };

  /** The refresh token of a request: the body's wins; else, in cookie mode, the cookie (CSRF-checked). */
  function presented(request: FastifyRequest, body: { refreshToken?: string } | null | undefined): Presented {
    if (typeof body?.refreshToken === 'string') return { token: body.refreshToken, fromCookie: false };
    const fromCookie = cookie.enabled ? readCookie(request.headers.cookie, cookieOptions.name) : null;
    if (fromCookie === null || fromCookie === '') {
      throw new VigilError('unauthenticated', 'A refresh token is required.');
    }
    // CSRF first: a forged request is refused before its token is even looked at.
    if (!originAllowed(request, cookie)) {
      throw new VigilError(
        'csrf_rejected',
        'A cookie-authenticated change must come from an allowed Origin.',
      );
    }
    return { token: fromCookie, fromCookie: true };
  }

  /** A refusal for a cookie's token also clears the cookie: it holds nothing usable any more. */
  async function clearingOnRefusal<T>(
    reply: FastifyReply,
    from: Presented,
    work: () => Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (from.fromCookie && error instanceof VigilError && error.status === 401) {
        reply.header('set-cookie', clearSessionCookie(cookieOptions));
      }
      throw error;
    }
  }

  app.post<{ Body: { refreshToken?: string; state: Signal } }>(
    '/v1/token/refresh',
    { schema: refreshTokensSchema },
    async (request, reply): Promise<Partial<TokenPair>> => {
      const from = presented(request, request.body);
      const pair = await clearingOnRefusal(reply, from, () => tokens.refresh(from.token, request.body.state));
      // A browser's refresh token goes (back) into the HttpOnly cookie, out of reach of scripts.
      if (cookie.enabled && originAllowed(request, cookie)) {
        const { refreshToken, ...rest } = pair;
        reply.header('set-cookie', serializeSessionCookie(cookieOptions, refreshToken));
        return rest;
      }
      return pair;
    },
  );

  app.delete<{ Body: { refreshToken?: string } | null }>(
    '/v1/token',
    { schema: tokenLogoutSchema },
    async (request, reply) => {
      const from = presented(request, request.body);
      if (cookie.enabled) reply.header('set-cookie', clearSessionCookie(cookieOptions));
      await tokens.logout(from.token);
      return reply.code(204).send();
    },
  );

  app.get('/.well-known/jwks.json', { schema: jwksSchema }, async () => {
    return keys.jwks(now());
  });
  // The app marks every answer `no-store`; the JWKS is public and slow to change, so it may be
  // cached for a minute (verifiers re-fetch on an unknown `kid` anyway). Runs after the app's hook.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.routeOptions.url === '/.well-known/jwks.json' && reply.statusCode === 200) {
      reply.header('cache-control', 'public, max-age=60');
    }
    return payload;
  });
};
