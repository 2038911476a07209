import type { AddressInfo } from 'node:net';
import { MemoryStore, type PolicyInput, resolveConfig } from '@vigil/core';
import { buildApp } from '@vigil/server';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Page } from 'playwright-core';
import { bundle, html } from './browser.js';

const API_KEY = 'token-browser-test-api-key';

/** One request to `/v1/…` as the server saw it. */
export interface SeenTokenRequest {
  method: string;
  path: string;
  state: string | null;
  /** Whether the refresh token came in the body (else the cookie, if any). */
  bodyToken: boolean;
  /** Whether the refresh cookie came along. */
  cookie: boolean;
  /** Which page sent it (`?tab=…` in the page's URL, carried by Referer). */
  tab: string | null;
  statusCode: number;
  /** The answer's error reason or code, for a refusal. */
  refusal: string | null;
  at: number;
}

export interface TokenVigil {
  app: FastifyInstance;
  origin: string;
  requests: SeenTokenRequest[];
  /** The refresh requests so far (optionally only those answered with `statusCode`). */
  refreshes(statusCode?: number): SeenTokenRequest[];
  /** The backend's part: a session and its first token pair (`POST /v1/sessions`, `POST /v1/token`). */
  signIn(subject?: string): Promise<{ sessionToken: string; sessionId: string; refreshToken: string }>;
  /** `GET /v1/session` with the session token: the server's current word on the session. */
  read(sessionToken: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** `POST /v1/token/refresh` from outside the browser (a thief, say) with `refreshToken` in the body. */
  refreshFromOutside(refreshToken: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Calls the app's own API (`GET /api/me`) with an access token, as any client of that API would. */
  api(accessToken: string): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** The refresh cookie's name with `cookie: {enabled: true, secure: false}` (plain HTTP on loopback). */
export const REFRESH_COOKIE = 'vigil-refresh';

/**
 * The real Vigil server in token mode (memory store, signing keys made on start) on a free port,
 * serving the token test page on the same origin and an "app API" (`GET /api/me`) that accepts
 * only access tokens it can verify against Vigil's JWKS, as a resource server would.
 */
export async function startTokenVigil(options: {
  policy: PolicyInput;
  cookie: boolean;
}): Promise<TokenVigil> {
  const app = await buildApp({
    config: resolveConfig({
      policies: { default: options.policy },
      cookie: { enabled: options.cookie, secure: false },
    }),
    store: new MemoryStore(),
    apiKey: API_KEY,
    logger: false,
    sweeper: { intervalMs: 200 },
  });
  const requests: SeenTokenRequest[] = [];
  const arrivals = new WeakMap<object, number>();
  app.addHook('onRequest', async (request) => {
    arrivals.set(request.raw, Date.now());
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.url.startsWith('/v1/') || request.headers.authorization?.includes(API_KEY)) return payload;
    const body = (request.body ?? {}) as { state?: string; refreshToken?: string };
    const referer = request.headers.referer;
    let refusal: string | null = null;
    if (reply.statusCode >= 400 && typeof payload === 'string') {
      const error = (JSON.parse(payload) as { error?: { code?: string; reason?: string } }).error;
      refusal = error?.reason ?? error?.code ?? null;
    }
    requests.push({
      method: request.method,
      path: request.url.split('?')[0] ?? request.url,
      state: body.state ?? null,
      bodyToken: typeof body.refreshToken === 'string',
      cookie: (request.headers.cookie ?? '').includes(`${REFRESH_COOKIE}=`),
      tab: referer ? new URL(referer).searchParams.get('tab') : null,
      statusCode: reply.statusCode,
      refusal,
      at: arrivals.get(request.raw) ?? Date.now(),
    });
    return payload;
  });

  app.get('/api/me', async (request, reply) => {
    const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!token) return reply.code(401).send({ error: 'no_token' });
    const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: 'vigil', typ: 'at+jwt' });
      return { sub: payload.sub, sid: payload.sid };
    } catch (error) {
      return reply.code(401).send({ error: (error as { code?: string }).code ?? 'invalid' });
    }
  });
  app.get('/test/token.html', async (_request, reply) =>
    reply.type('text/html').send(
      html(
        `<main><h1>Token app</h1><label>Notes <textarea></textarea></label>
           <p>State: <span id="state"></span></p></main><vigil-warning></vigil-warning>`,
        '/test/token.js',
      ),
    ),
  );
  app.get('/test/token.js', async (_request, reply) =>
    reply.type('text/javascript').send(await bundle('token-host.ts')),
  );

  await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const backend = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
  const answer = async (response: Response) => ({
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
  });
  return {
    app,
    origin,
    requests,
    refreshes: (statusCode) =>
      requests.filter(
        (r) => r.path === '/v1/token/refresh' && (statusCode === undefined || r.statusCode === statusCode),
      ),
    async signIn(subject = 'ada') {
      const created = await fetch(`${origin}/v1/sessions`, {
        method: 'POST',
        headers: backend,
        body: JSON.stringify({ subject }),
      });
      if (created.status !== 201) throw new Error(`POST /v1/sessions answered ${created.status}`);
      const { token, session } = (await created.json()) as { token: string; session: { id: string } };
      const issued = await fetch(`${origin}/v1/token`, {
        method: 'POST',
        headers: backend,
        body: JSON.stringify({ sessionId: session.id }),
      });
      if (issued.status !== 200) throw new Error(`POST /v1/token answered ${issued.status}`);
      const { refreshToken } = (await issued.json()) as { refreshToken: string };
      return { sessionToken: token, sessionId: session.id, refreshToken };
    },
    read: async (sessionToken) =>
      answer(await fetch(`${origin}/v1/session`, { headers: { authorization: `Bearer ${sessionToken}` } })),
    refreshFromOutside: async (refreshToken) =>
      answer(
        await fetch(`${origin}/v1/token/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken, state: 'active' }),
        }),
      ),
    api: async (accessToken) =>
      answer(await fetch(`${origin}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } })),
    close: () => app.close(),
  };
}

/** The token page's config, carried in the URL fragment (no request and no Referer carries that). */
export interface TokenPageConfig {
  /** Body mode, or the first exchange into the cookie; omitted: the cookie is already there. */
  refreshToken?: string;
  /** Refresh this long after each token arrives, instead of the default schedule. */
  refreshAfterMs?: number;
  /** `false`: no Web Locks (the fallback). */
  locks?: false;
}

export function tokenPageUrl(origin: string, tab: string, config: TokenPageConfig): string {
  return `${origin}/test/token.html?tab=${tab}#${encodeURIComponent(JSON.stringify(config))}`;
}

/** What `accessToken()` gave in the page: the token, or the refusal's outcome. */
export type PageToken = { token: string } | { error: { kind: string; reason?: string } };

export function pageAccessToken(page: Page): Promise<PageToken> {
  return page.evaluate(() =>
    (window as unknown as { tokenTest: { token(): Promise<PageToken> } }).tokenTest.token(),
  );
}

/** The page's call to the app's API with its current access token. */
export function pageApiCall(
  page: Page,
): Promise<{ status: number; body: Record<string, unknown>; token: string }> {
  return page.evaluate(() =>
    (
      window as unknown as {
        tokenTest: { api(): Promise<{ status: number; body: Record<string, unknown>; token: string }> };
      }
    ).tokenTest.api(),
  );
}

/** The SDK's events in the page. */
export function pageEvents(page: Page): Promise<Array<{ type: string; payload: unknown; at: number }>> {
  return page.evaluate(() => (window as unknown as { tokenTest: { log: [] } }).tokenTest.log);
}

/** Waits until the page's SDK is in `state` (`active`, `warning`, `ended`). */
export async function pageState(page: Page, state: string, timeout = 5000): Promise<void> {
  await page
    .locator('#state')
    .filter({ hasText: new RegExp(`^${state}$`) })
    .waitFor({ timeout });
}
