import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ConfigInput,
  MemoryStore,
  parseRefreshToken,
  REFRESH_TOKEN_PREFIX,
  type TokenStore,
} from '@vigil/core';
import { backend, bearer, createSession, errorCode, heartbeat, makeApp } from './helpers.js';
import { issueTokens, refresh, type Tokens, verifyWith } from './token-helpers.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/**
 * `default`: idle 10 s, absolute 1 min (the access-token lifetime, 5 min by default, is capped by
 * both); `long`: idle 1 h, tokens of 2 min; `capped`: idle 10 min, absolute 15 min, tokens of 5 min.
 */
const CONFIG: ConfigInput = {
  policies: {
    default: { idleTimeout: '10s', absoluteTimeout: '1m', warnBefore: '2s' },
    long: { idleTimeout: '1h', absoluteTimeout: '8h', accessTokenTtl: '2m', refreshGrace: '10s' },
    capped: { idleTimeout: '10m', absoluteTimeout: '15m', accessTokenTtl: '5m' },
  },
};

async function tokenApp(config: ConfigInput = CONFIG, extra: Parameters<typeof makeApp>[0] = {}) {
  return makeApp({ config, ...extra });
}

function tokensOf(response: {
  statusCode: number;
  body: string;
  json(): unknown;
}): Tokens & { refreshToken: string } {
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as Tokens & { refreshToken: string };
}

function endReason(response: { json(): unknown }): string | undefined {
  return (response.json() as { error?: { reason?: string } }).error?.reason;
}

describe('token mode: POST /v1/token', () => {
  test('issues an access token (a JWT with sub, sid, policy) and a refresh token for a live session', async () => {
    const { app, clock } = await tokenApp();
    const { id } = await createSession(app, { subject: 'alice', policy: 'long' });
    const tokens = await issueTokens(app, id);
    assert.ok(tokens.refreshToken.startsWith(REFRESH_TOKEN_PREFIX));
    assert.equal(parseRefreshToken(tokens.refreshToken)?.sessionId, id);
    assert.equal(tokens.status.id, id);
    assert.equal(tokens.accessExpiresInMs, 2 * MINUTE);
    const { payload, kid } = await verifyWith(app, tokens.accessToken, clock.now());
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.sid, id);
    assert.equal(payload.policy, 'long');
    assert.equal(payload.iss, 'vigil');
    assert.equal(payload.iat, clock.now() / 1000);
    assert.equal(payload.exp, (clock.now() + 2 * MINUTE) / 1000);
    assert.ok(typeof kid === 'string' && kid.length > 0);
  });

  test('touches nothing: issuing is not activity', async () => {
    const { app, clock, store } = await tokenApp();
    const { id } = await createSession(app);
    clock.advance(4 * SECOND);
    await issueTokens(app, id);
    const lookup = await store.get(id, clock.now());
    assert.equal(lookup.kind === 'live' && lookup.record.lastSeenAt, clock.now() - 4 * SECOND);
  });

  test('refuses an unknown session (404), an ended one (401 with the reason), and bad input (400)', async () => {
    const { app } = await tokenApp();
    const { id, token } = await createSession(app);
    const issue = (payload: unknown, headers: Record<string, string> = backend) =>
      app.inject({ method: 'POST', url: '/v1/token', headers, payload: payload as object });
    const unknown = await issue({ sessionId: 'x'.repeat(43) });
    assert.equal(unknown.statusCode, 404);
    assert.equal(errorCode(unknown), 'not_found');
    for (const bad of [{}, { sessionId: 3 }, { sessionId: '' }, { sessionId: id, extra: 1 }, []]) {
      const response = await issue(bad);
      assert.equal(response.statusCode, 400, JSON.stringify(bad));
      assert.equal(errorCode(response), 'validation_failed');
    }
    const asBrowser = await issue({ sessionId: id }, bearer(token));
    assert.equal(asBrowser.statusCode, 401);
    assert.equal(errorCode(asBrowser), 'unauthenticated');
    await app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    const ended = await issue({ sessionId: id });
    assert.equal(ended.statusCode, 401);
    assert.equal(errorCode(ended), 'session_ended');
    assert.equal(endReason(ended), 'revoked');
    assert.equal(ended.json().refreshToken, undefined);
  });
});

describe('token mode: exp is capped by the session', () => {
  test('by the idle deadline, and by the absolute deadline, never later', async () => {
    const { app, clock } = await tokenApp();
    // default: idle 10 s < token lifetime 5 min.
    const { id } = await createSession(app);
    const first = await issueTokens(app, id);
    assert.equal(first.accessExpiresInMs, 10 * SECOND);
    assert.equal(
      (await verifyWith(app, first.accessToken, clock.now())).payload.exp,
      (clock.now() + 10 * SECOND) / 1000,
    );

    // capped: refreshed actively every 4 min, the idle deadline moves; at 12 min the absolute
    // deadline (15 min) is nearer than now + 5 min.
    const created = clock.now();
    const capped = await createSession(app, { subject: 'bob', policy: 'capped' });
    let { refreshToken } = await issueTokens(app, capped.id);
    for (const at of [4, 8, 12]) {
      clock.set(created + at * MINUTE);
      const tokens = tokensOf(await refresh(app, refreshToken, 'active'));
      refreshToken = tokens.refreshToken;
      const { payload } = await verifyWith(app, tokens.accessToken, clock.now());
      const cap = Math.min(created + 15 * MINUTE, clock.now() + 10 * MINUTE, clock.now() + 5 * MINUTE);
      assert.equal(payload.exp, cap / 1000, `at ${at} min`);
      assert.equal(tokens.accessExpiresInMs, cap - clock.now());
    }
    assert.equal(refreshToken.length > 0, true);
  });

  test('rounds exp down to the second, so a deadline between two seconds is not overshot', async () => {
    const { app, clock } = await tokenApp();
    clock.advance(400); // the idle deadline now falls 400 ms into a second
    const { id } = await createSession(app);
    const tokens = await issueTokens(app, id);
    const { payload } = await verifyWith(app, tokens.accessToken, clock.now());
    assert.ok((payload.exp as number) * 1000 <= clock.now() + 10 * SECOND);
    assert.equal(tokens.accessExpiresInMs, 10 * SECOND - 400);
  });
});

describe('token mode: refresh', () => {
  test('rotates the refresh token on every use; only `active` extends the session', async () => {
    const { app, clock } = await tokenApp();
    const { id } = await createSession(app);
    const issued = await issueTokens(app, id);
    clock.advance(4 * SECOND);
    const slept = tokensOf(await refresh(app, issued.refreshToken, 'sleeping'));
    assert.notEqual(slept.refreshToken, issued.refreshToken);
    assert.equal(slept.status.idleExpiresInMs, 6 * SECOND, 'sleeping does not extend');
    clock.advance(4 * SECOND);
    const woke = tokensOf(await refresh(app, slept.refreshToken, 'active'));
    assert.notEqual(woke.refreshToken, slept.refreshToken);
    assert.equal(woke.status.idleExpiresInMs, 10 * SECOND, 'active extends');
    assert.notEqual(woke.accessToken, slept.accessToken);
    assert.equal(
      parseRefreshToken(woke.refreshToken)?.family,
      parseRefreshToken(issued.refreshToken)?.family,
    );
  });

  test('two tabs racing with one refresh token: one rotation, both get the same new token, nobody is logged out', async () => {
    const { app, clock } = await tokenApp(CONFIG);
    const { id, token } = await createSession(app, { subject: 'ada', policy: 'long' });
    const { refreshToken } = await issueTokens(app, id);
    const answers = await Promise.all([
      refresh(app, refreshToken, 'active'),
      refresh(app, refreshToken, 'sleeping'),
      refresh(app, refreshToken, 'active'),
    ]);
    const pairs = answers.map(tokensOf);
    const next = new Set(pairs.map((p) => p.refreshToken));
    assert.equal(next.size, 1, 'everyone holds the same refresh token');
    assert.ok(!next.has(refreshToken));
    for (const pair of pairs) await verifyWith(app, pair.accessToken, clock.now());
    // The shared token is the current one: it rotates, and the session lives on.
    clock.advance(30 * SECOND);
    tokensOf(await refresh(app, [...next][0], 'active'));
    assert.equal((await heartbeat(app, token)).statusCode, 200);
  });

  test('a retry within the grace window gets the current refresh token again, and a fresh access token', async () => {
    const { app, clock } = await tokenApp();
    const { id } = await createSession(app, { subject: 'ada', policy: 'long' });
    const { refreshToken } = await issueTokens(app, id);
    const lost = tokensOf(await refresh(app, refreshToken));
    clock.advance(10 * SECOND); // the grace window's last moment
    const retried = tokensOf(await refresh(app, refreshToken));
    assert.equal(retried.refreshToken, lost.refreshToken);
    assert.notEqual(retried.accessToken, lost.accessToken);
    tokensOf(await refresh(app, retried.refreshToken));
  });

  test('a used refresh token after the grace window ends the whole session (refresh_reuse)', async () => {
    const { app, clock, seen } = await tokenApp();
    const { id, token } = await createSession(app, { subject: 'ada', policy: 'long' });
    const { refreshToken: stolen } = await issueTokens(app, id);
    const owner = tokensOf(await refresh(app, stolen));
    clock.advance(10 * SECOND + 1);
    const thief = await refresh(app, stolen);
    assert.equal(thief.statusCode, 401);
    assert.equal(errorCode(thief), 'session_ended');
    assert.equal(endReason(thief), 'refresh_reuse');
    // Like a revocation: the current refresh token and the session token are refused too.
    const again = await refresh(app, owner.refreshToken);
    assert.equal(endReason(again), 'refresh_reuse');
    const beat = await heartbeat(app, token);
    assert.equal(beat.statusCode, 401);
    assert.equal(endReason(beat), 'refresh_reuse');
    const ends = seen.filter((e) => e.type === 'session.revoked');
    assert.deepEqual(
      ends.map((e) => e.session.reason),
      ['refresh_reuse'],
    );
  });

  test('a token older than the previous one is a reuse even within the grace window', async () => {
    const { app } = await tokenApp();
    const { id } = await createSession(app, { subject: 'ada', policy: 'long' });
    const { refreshToken: first } = await issueTokens(app, id);
    const second = tokensOf(await refresh(app, first));
    tokensOf(await refresh(app, second.refreshToken));
    const old = await refresh(app, first);
    assert.equal(endReason(old), 'refresh_reuse');
  });

  test('after the idle or absolute timeout, a refresh is refused with the reason', async () => {
    const { app, clock } = await tokenApp();
    const idle = await createSession(app);
    const idleTokens = await issueTokens(app, idle.id);
    clock.advance(10 * SECOND);
    const late = await refresh(app, idleTokens.refreshToken, 'active');
    assert.equal(late.statusCode, 401);
    assert.equal(errorCode(late), 'session_ended');
    assert.equal(endReason(late), 'idle_timeout');

    const start = clock.now();
    const absolute = await createSession(app, { subject: 'bob' });
    let { refreshToken } = await issueTokens(app, absolute.id);
    for (let t = 8; t < 60; t += 8) {
      clock.set(start + t * SECOND);
      refreshToken = tokensOf(await refresh(app, refreshToken, 'active')).refreshToken;
    }
    clock.set(start + MINUTE);
    const over = await refresh(app, refreshToken, 'active');
    assert.equal(over.statusCode, 401);
    assert.equal(endReason(over), 'absolute_timeout');
  });

  test('refuses unknown, malformed and made-up tokens as unauthenticated, ending nothing', async () => {
    const { app } = await tokenApp();
    const { id, token } = await createSession(app, { subject: 'ada', policy: 'long' });
    const { refreshToken } = await issueTokens(app, id);
    const parts = parseRefreshToken(refreshToken);
    for (const bad of [
      'nope',
      token,
      `${REFRESH_TOKEN_PREFIX}${id}.${'A'.repeat(22)}.${'B'.repeat(43)}`, // knows the session id only
      `${REFRESH_TOKEN_PREFIX}${'C'.repeat(43)}.${parts?.family}.${parts?.secret}`,
    ]) {
      const response = await refresh(app, bad);
      assert.equal(response.statusCode, 401, bad);
      assert.equal(errorCode(response), 'unauthenticated');
    }
    const missing = await refresh(app, undefined);
    assert.equal(errorCode(missing), 'unauthenticated');
    tokensOf(await refresh(app, refreshToken));
    assert.equal((await heartbeat(app, token)).statusCode, 200);
  });

  test('rate-limits per family before rotating: after a 429 the same token still works', async () => {
    const { app, clock } = await tokenApp({ ...CONFIG, heartbeatRateLimit: { burst: 2, perSecond: 1 } });
    const { id } = await createSession(app, { subject: 'ada', policy: 'long' });
    let { refreshToken } = await issueTokens(app, id);
    refreshToken = tokensOf(await refresh(app, refreshToken)).refreshToken;
    refreshToken = tokensOf(await refresh(app, refreshToken)).refreshToken;
    const limited = await refresh(app, refreshToken);
    assert.equal(limited.statusCode, 429);
    assert.equal(errorCode(limited), 'rate_limited');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    clock.advance(1000);
    tokensOf(await refresh(app, refreshToken));
  });

  test('a store that cannot answer is a 503 with Retry-After, never a 401', async () => {
    const inner = new MemoryStore();
    let down = false;
    const tokens = inner.tokenStore();
    const flaky: TokenStore = {
      issueFamily: (f) => tokens.issueFamily(f),
      rotate: (r) => (down ? Promise.reject(new Error('connection refused')) : tokens.rotate(r)),
      purgeExpiredFamilies: (n, l) => tokens.purgeExpiredFamilies(n, l),
      listSigningKeys: () => tokens.listSigningKeys(),
      addSigningKey: (k) => tokens.addSigningKey(k),
      deleteSigningKeys: (g) => tokens.deleteSigningKeys(g),
    };
    const { app } = await tokenApp(CONFIG, { store: inner, tokens: { store: flaky } });
    const { id } = await createSession(app, { subject: 'ada', policy: 'long' });
    const { refreshToken } = await issueTokens(app, id);
    down = true;
    const response = await refresh(app, refreshToken);
    assert.equal(response.statusCode, 503);
    assert.equal(errorCode(response), 'store_unavailable');
    assert.ok(response.headers['retry-after']);
    down = false;
    tokensOf(await refresh(app, refreshToken));
  });
});

describe('token mode: logout', () => {
  test('DELETE /v1/token ends the session (logout); its tokens are refused after', async () => {
    const { app } = await tokenApp();
    const { id, token } = await createSession(app, { subject: 'ada', policy: 'long' });
    const { refreshToken } = await issueTokens(app, id);
    const next = tokensOf(await refresh(app, refreshToken));
    const out = await app.inject({
      method: 'DELETE',
      url: '/v1/token',
      payload: { refreshToken: next.refreshToken },
    });
    assert.equal(out.statusCode, 204);
    assert.equal(endReason(await heartbeat(app, token)), 'logout');
    assert.equal(endReason(await refresh(app, next.refreshToken)), 'logout');
    const none = await app.inject({ method: 'DELETE', url: '/v1/token' });
    assert.equal(errorCode(none), 'unauthenticated');
  });
});

describe('token mode: cookie mode', () => {
  const cookieConfig: ConfigInput = {
    ...CONFIG,
    cookie: { enabled: true, secure: false, allowedOrigins: ['https://app.example.com'] },
  };
  const origin = { origin: 'https://app.example.com' };

  function refreshCookie(response: { headers: Record<string, unknown> }): string | null {
    const header = response.headers['set-cookie'];
    const value = Array.isArray(header) ? header.join('\n') : String(header ?? '');
    return /(?:^|\n)vigil-refresh=([^;]*)/.exec(value)?.[1] ?? null;
  }

  test('a browser gets its refresh token in an HttpOnly cookie, and refreshes with it', async () => {
    const { app } = await tokenApp(cookieConfig);
    const { id } = await createSession(app, { subject: 'ada', policy: 'long' });
    const { refreshToken } = await issueTokens(app, id);
    const moved = await refresh(app, refreshToken, 'active', origin);
    assert.equal(moved.statusCode, 200);
    assert.equal(moved.json().refreshToken, undefined, 'not in the body');
    const header = String(moved.headers['set-cookie']);
    assert.match(header, /^vigil-refresh=vrt_[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
    const cookie = refreshCookie(moved);

    const viaCookie = await refresh(app, undefined, 'active', {
      ...origin,
      cookie: `vigil-refresh=${cookie}`,
    });
    assert.equal(viaCookie.statusCode, 200);
    assert.notEqual(refreshCookie(viaCookie), cookie, 'rotated');

    // Without a body token nor the right Origin, the cookie is refused before it is looked at.
    const forgeries: Record<string, string>[] = [{}, { origin: 'https://evil.example' }];
    for (const headers of forgeries) {
      const forged = await refresh(app, undefined, 'active', {
        ...headers,
        cookie: `vigil-refresh=${refreshCookie(viaCookie)}`,
      });
      assert.equal(forged.statusCode, 403);
      assert.equal(errorCode(forged), 'csrf_rejected');
    }
    const out = await app.inject({
      method: 'DELETE',
      url: '/v1/token',
      headers: { ...origin, cookie: `vigil-refresh=${refreshCookie(viaCookie)}` },
    });
    assert.equal(out.statusCode, 204);
    assert.match(String(out.headers['set-cookie']), /^vigil-refresh=; .*Max-Age=0/);
  });

  test('a refused cookie is cleared; a backend without Origin still gets the token in the body', async () => {
    const { app, clock } = await tokenApp(cookieConfig);
    const { id } = await createSession(app);
    const { refreshToken } = await issueTokens(app, id);
    const serverSide = tokensOf(await refresh(app, refreshToken));
    assert.ok(serverSide.refreshToken.startsWith(REFRESH_TOKEN_PREFIX));
    clock.advance(10 * SECOND);
    const late = await refresh(app, undefined, 'active', {
      ...origin,
      cookie: `vigil-refresh=${serverSide.refreshToken}`,
    });
    assert.equal(endReason(late), 'idle_timeout');
    assert.match(String(late.headers['set-cookie']), /^vigil-refresh=; .*Max-Age=0/);
  });
});

describe('token mode: the JWKS', () => {
  test('is public, cacheable for a minute, and holds public keys only', async () => {
    const { app } = await tokenApp();
    const response = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['cache-control'], 'public, max-age=60');
    const { keys } = response.json() as { keys: Record<string, unknown>[] };
    assert.equal(keys.length, 1);
    assert.deepEqual(Object.keys(keys[0] ?? {}).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(keys[0]?.alg, 'ES256');
  });

  test('is not served when token mode is off', async () => {
    const { app } = await tokenApp(CONFIG, { tokens: false });
    assert.equal((await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).statusCode, 404);
    assert.equal((await refresh(app, 'x')).statusCode, 404);
  });

  test('survives a restart: a new app on the same store publishes the same key, and old tokens refresh', async () => {
    const store = new MemoryStore();
    const before = await tokenApp(CONFIG, { store });
    const { id } = await createSession(before.app, { subject: 'ada', policy: 'long' });
    const tokens = await issueTokens(before.app, id);
    const kid = (await verifyWith(before.app, tokens.accessToken, before.clock.now())).kid;
    await before.app.close();
    const after = await tokenApp(CONFIG, { store, clock: before.clock });
    assert.equal((await verifyWith(after.app, tokens.accessToken, after.clock.now())).kid, kid);
    tokensOf(await refresh(after.app, tokens.refreshToken));
  });

  test('signs with EdDSA when configured, with an audience and an issuer', async () => {
    const { app, clock } = await tokenApp({
      ...CONFIG,
      tokens: { algorithm: 'EdDSA', issuer: 'https://vigil.example.com', audience: 'api' },
    });
    const { id } = await createSession(app);
    const tokens = await issueTokens(app, id);
    const { payload } = await verifyWith(app, tokens.accessToken, clock.now(), {
      issuer: 'https://vigil.example.com',
      audience: 'api',
    });
    assert.equal(payload.aud, 'api');
    const { keys } = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    assert.equal(keys[0].alg, 'EdDSA');
    assert.equal(keys[0].crv, 'Ed25519');
  });
});
