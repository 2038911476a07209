import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { backend } from './helpers.js';

/** Token-mode calls, as a backend and a browser make them. */

export interface Tokens {
  accessToken: string;
  refreshToken?: string;
  accessExpiresInMs: number;
  status: { id: string; idleExpiresInMs: number; absoluteExpiresInMs: number; [key: string]: unknown };
}

export async function issueTokens(
  app: FastifyInstance,
  sessionId: string,
): Promise<Tokens & { refreshToken: string }> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/token',
    headers: backend,
    payload: { sessionId },
  });
  if (response.statusCode !== 200) throw new Error(`POST /v1/token: ${response.statusCode} ${response.body}`);
  return response.json();
}

export function refresh(
  app: FastifyInstance,
  refreshToken: string | undefined,
  state: 'active' | 'sleeping' = 'active',
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/v1/token/refresh',
    headers,
    payload: refreshToken === undefined ? { state } : { refreshToken, state },
  });
}

/** Verifies an access token against the app's own JWKS at `at` (ms), as a resource server would. */
export async function verifyWith(
  app: FastifyInstance,
  accessToken: string,
  at: number,
  options: { issuer?: string; audience?: string } = {},
): Promise<{ payload: JWTPayload & { sid?: string; policy?: string }; kid: string | undefined }> {
  const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
  const { payload, protectedHeader } = await jwtVerify(accessToken, createLocalJWKSet(jwks), {
    issuer: options.issuer ?? 'vigil',
    typ: 'at+jwt',
    currentDate: new Date(at),
    ...(options.audience !== undefined && { audience: options.audience }),
  });
  return { payload, kid: protectedHeader.kid };
}

export function kids(app: FastifyInstance): Promise<string[]> {
  return app
    .inject({ method: 'GET', url: '/.well-known/jwks.json' })
    .then((response) => (response.json() as { keys: { kid: string }[] }).keys.map((key) => key.kid));
}
