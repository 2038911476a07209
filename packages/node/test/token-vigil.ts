import { ManualClock, MemoryStore, resolveConfig } from '@vigil/core';
import { buildApp, rotateSigningKey } from '@vigil/server';
import type { FastifyInstance } from 'fastify';
import { importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import { API_KEY, faultyStore, portOf } from './helpers.js';

/**
 * A real Vigil server in token mode, listening on a free loopback port, for the access-token
 * verifier's tests: sessions and tokens are made through its API, its JWKS is fetched over HTTP.
 * `default`: idle 1 h, tokens of 2 min; `short`: idle 90 s (tokens capped by it: a 5 min lifetime
 * would outlive the session).
 */
export const TOKEN_CONFIG = {
  policies: {
    default: { idleTimeout: '1h', absoluteTimeout: '8h', accessTokenTtl: '2m', refreshGrace: '10s' },
    short: { idleTimeout: '90s', absoluteTimeout: '8h', accessTokenTtl: '5m' },
  },
  storeTimeout: '150ms',
};

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  accessExpiresInMs: number;
}

export interface TokenVigil {
  url: string;
  server: FastifyInstance;
  clock: ManualClock;
  /** The session store: `mode = 'hang'` makes every session read time out (a store outage). */
  store: ReturnType<typeof faultyStore>;
  memory: MemoryStore;
  /** How many times the JWKS was asked for. */
  jwksRequests(): number;
  createSession(body?: Record<string, unknown>): Promise<string>;
  issue(sessionId: string): Promise<TokenPair>;
  refresh(refreshToken: string): Promise<{ status: number; body: Record<string, unknown> }>;
  revoke(sessionId: string): Promise<void>;
  /** `vigil keys rotate`: a new key, published now, signing from `activateInMs` on. */
  rotate(activateInMs: number): Promise<string>;
  /** Signs any claims with the server's newest private key (its kid unless `header` says otherwise). */
  signWithServerKey(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startTokenVigil(): Promise<TokenVigil> {
  const clock = new ManualClock();
  const memory = new MemoryStore();
  const store = faultyStore(memory);
  const server = await buildApp({
    apiKey: API_KEY,
    config: resolveConfig(TOKEN_CONFIG),
    store,
    clock,
    sweeper: false,
    // Keys straight from the store: a rotation is served at once.
    tokens: { store: memory.tokenStore(), keyReloadMs: 0 },
  });
  let jwksRequests = 0;
  server.addHook('onRequest', async (request) => {
    if (request.url === '/.well-known/jwks.json') jwksRequests++;
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${portOf(server)}`;
  const backend = { authorization: `Bearer ${API_KEY}` };
  let closed = false;

  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = backend,
  ) {
    const response = await server.inject({
      method: method as 'GET',
      url: path,
      headers,
      ...(body !== undefined && { payload: body as object }),
    });
    return { status: response.statusCode, body: response.body === '' ? {} : response.json() };
  }

  return {
    url,
    server,
    clock,
    store,
    memory,
    jwksRequests: () => jwksRequests,
    async createSession(body = { subject: 'alice' }) {
      const answer = await call('POST', '/v1/sessions', body);
      if (answer.status !== 201) throw new Error(`create: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body.session.id as string;
    },
    async issue(sessionId) {
      const answer = await call('POST', '/v1/token', { sessionId });
      if (answer.status !== 200) throw new Error(`token: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body as TokenPair;
    },
    refresh: (refreshToken) => call('POST', '/v1/token/refresh', { refreshToken, state: 'active' }, {}),
    async revoke(sessionId) {
      const answer = await call('DELETE', `/v1/sessions/${sessionId}`);
      if (answer.status !== 204) throw new Error(`revoke: ${answer.status}`);
    },
    async rotate(activateInMs) {
      return (await rotateSigningKey(memory.tokenStore(), 'ES256', clock.now(), activateInMs)).kid;
    },
    async signWithServerKey(claims, header = {}) {
      const stored = (await memory.tokenStore().listSigningKeys()).at(-1);
      if (stored === undefined) throw new Error('no signing key yet: issue a token first');
      const key = await importJWK(JSON.parse(stored.privateJwk) as JWK, stored.alg);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: stored.alg, kid: stored.kid, typ: 'at+jwt', ...header })
        .sign(key);
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await store.close();
    },
  };
}

/** A Vigil-shaped claims set, signed at the clock's now and valid for `ttlSec`. */
export function claimsAt(
  clock: ManualClock,
  overrides: JWTPayload = {},
  ttlSec = 120,
): JWTPayload & { iat: number; exp: number } {
  const iat = Math.floor(clock.now() / 1000);
  return {
    sub: 'alice',
    sid: 'A'.repeat(43),
    policy: 'default',
    iss: 'vigil',
    iat,
    exp: iat + ttlSec,
    ...overrides,
  } as JWTPayload & { iat: number; exp: number };
}
