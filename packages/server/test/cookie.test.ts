import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConfigInput } from '@vigil/core';
import { readCookie, serializeSessionCookie } from '../src/index.js';
import { backend, bearer, createSession, errorCode, makeApp, type TestApp } from './helpers.js';

const POLICIES = { default: { idleTimeout: '10s', absoluteTimeout: '1m', warnBefore: '2s' } };
const CONFIG: ConfigInput = {
  policies: POLICIES,
  cookie: { enabled: true, allowedOrigins: ['https://app.example.com'] },
};
/** What inject sends as Host (`localhost:80`), as a browser's same-origin Origin would be. */
const SAME_ORIGIN = 'http://localhost';

async function lastSeen(t: TestApp, id: string): Promise<string> {
  return (await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend })).json()
    .lastSeenAt;
}

describe('cookie mode', () => {
  test('POST /v1/session/cookie moves a token into an HttpOnly cookie with the documented attributes', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token } = await createSession(t.app);
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/session/cookie',
      headers: bearer(token),
    });
    assert.equal(response.statusCode, 204);
    assert.equal(
      response.headers['set-cookie'],
      `__Host-vigil=${token}; Path=/; HttpOnly; Secure; SameSite=Lax`,
    );
    assert.doesNotMatch(String(response.headers['set-cookie']), /Max-Age|Expires|Domain/i);
    assert.equal(
      serializeSessionCookie({ name: '__Host-vigil', secure: true, sameSite: 'lax' }, token),
      response.headers['set-cookie'],
      'a backend setting the cookie itself gets the same header',
    );
    await t.app.close();
  });

  test('local HTTP: secure off gives a plain `vigil` cookie without Secure; name and SameSite are configurable', async () => {
    const local = await makeApp({ config: { policies: POLICIES, cookie: { enabled: true, secure: false } } });
    const { token } = await createSession(local.app);
    const response = await local.app.inject({
      method: 'POST',
      url: '/v1/session/cookie',
      headers: bearer(token),
    });
    assert.equal(response.headers['set-cookie'], `vigil=${token}; Path=/; HttpOnly; SameSite=Lax`);
    await local.app.close();

    const custom = await makeApp({
      config: { policies: POLICIES, cookie: { enabled: true, name: '__Secure-sid', sameSite: 'strict' } },
    });
    const other = await createSession(custom.app);
    const set = await custom.app.inject({
      method: 'POST',
      url: '/v1/session/cookie',
      headers: bearer(other.token),
    });
    assert.equal(
      set.headers['set-cookie'],
      `__Secure-sid=${other.token}; Path=/; HttpOnly; Secure; SameSite=Strict`,
    );
    await custom.app.close();
  });

  test('POST /v1/sessions sets no cookie', async () => {
    const t = await makeApp({ config: CONFIG });
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: backend,
      payload: { subject: 'alice' },
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.headers['set-cookie'], undefined);
    await t.app.close();
  });

  test('the cookie route needs the token in Authorization, a live session and an allowed Origin if one is sent', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    const byCookie = await t.app.inject({
      method: 'POST',
      url: '/v1/session/cookie',
      headers: { cookie: `__Host-vigil=${token}`, origin: SAME_ORIGIN },
    });
    assert.equal(byCookie.statusCode, 401);
    assert.equal(errorCode(byCookie), 'unauthenticated');
    const foreign = await t.app.inject({
      method: 'POST',
      url: '/v1/session/cookie',
      headers: { ...bearer(token), origin: 'https://evil.example' },
    });
    assert.equal(foreign.statusCode, 403);
    assert.equal(errorCode(foreign), 'csrf_rejected');
    assert.equal(foreign.headers['set-cookie'], undefined);
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/v1/session/cookie',
      headers: bearer(`vgl_${'B'.repeat(43)}`),
    });
    assert.equal(unknown.statusCode, 401);
    assert.equal(unknown.headers['set-cookie'], undefined);
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    const ended = await t.app.inject({ method: 'POST', url: '/v1/session/cookie', headers: bearer(token) });
    assert.equal(ended.statusCode, 401);
    assert.equal(errorCode(ended), 'session_ended');
    assert.equal(ended.headers['set-cookie'], undefined);
    await t.app.close();
  });

  test('cookie mode is off by default: the cookie is ignored and the cookie route does not exist', async () => {
    const t = await makeApp({ config: { policies: POLICIES } });
    const { token } = await createSession(t.app);
    const read = await t.app.inject({
      method: 'GET',
      url: '/v1/session',
      headers: { cookie: `__Host-vigil=${token}` },
    });
    assert.equal(read.statusCode, 401);
    const route = await t.app.inject({ method: 'POST', url: '/v1/session/cookie', headers: bearer(token) });
    assert.equal(route.statusCode, 404);
    const logout = await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(token) });
    assert.equal(logout.statusCode, 204);
    assert.equal(logout.headers['set-cookie'], undefined);
    await t.app.close();
  });

  test('token routes accept the cookie when no Authorization is sent; reads need no Origin', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    const read = await t.app.inject({
      method: 'GET',
      url: '/v1/session',
      headers: { cookie: `__Host-vigil=${token}` },
    });
    assert.equal(read.statusCode, 200);
    assert.equal(read.json().id, id);
    await t.app.close();
  });

  test('DELETE /v1/session logs out and clears the cookie, also when the session had already ended', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token } = await createSession(t.app);
    const clear =
      '__Host-vigil=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
    const logout = await t.app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: { cookie: `__Host-vigil=${token}`, origin: SAME_ORIGIN },
    });
    assert.equal(logout.statusCode, 204);
    assert.equal(logout.headers['set-cookie'], clear);
    const again = await t.app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: { cookie: `__Host-vigil=${token}`, origin: SAME_ORIGIN },
    });
    assert.equal(again.statusCode, 401);
    assert.equal(again.json().error.reason, 'logout');
    assert.equal(again.headers['set-cookie'], clear);
    await t.app.close();
  });
});

describe('CSRF: cookie-authenticated state changes need an allowed Origin', () => {
  const hb = (headers: Record<string, string>) => ({
    method: 'POST' as const,
    url: '/v1/heartbeat',
    headers,
    payload: { state: 'active' },
  });

  test('a cross-origin cookie heartbeat or logout is refused and changes nothing', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    t.clock.advance(3000);
    const cookie = `__Host-vigil=${token}`;
    for (const request of [
      hb({ cookie, origin: 'https://evil.example' }),
      hb({ cookie, origin: 'https://app.example.com.evil.example' }),
      hb({ cookie, origin: 'null' }),
      hb({ cookie }),
      { method: 'DELETE' as const, url: '/v1/session', headers: { cookie, origin: 'https://evil.example' } },
      { method: 'DELETE' as const, url: '/v1/session', headers: { cookie } },
    ]) {
      const response = await t.app.inject(request);
      assert.equal(response.statusCode, 403, JSON.stringify(request.headers));
      assert.equal(errorCode(response), 'csrf_rejected');
    }
    assert.equal(await lastSeen(t, id), '2026-01-01T00:00:00.000Z', 'no refused request touched the session');
    assert.equal(t.seen.filter((e) => e.type === 'session.revoked').length, 0);
    await t.app.close();
  });

  test('the same-origin request passes, and so does one from an allowed origin', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    const cookie = `__Host-vigil=${token}`;
    for (const origin of [
      SAME_ORIGIN,
      'http://localhost:80',
      'https://app.example.com',
      'HTTPS://APP.EXAMPLE.COM',
    ]) {
      t.clock.advance(1000);
      const response = await t.app.inject(hb({ cookie, origin }));
      assert.equal(response.statusCode, 200, origin);
      assert.equal(await lastSeen(t, id), new Date(t.clock.now()).toISOString());
    }
    const logout = await t.app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: { cookie, origin: 'https://app.example.com' },
    });
    assert.equal(logout.statusCode, 204);
    await t.app.close();
  });

  test('the same-origin check uses the Host the request was sent to', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token } = await createSession(t.app);
    const cookie = `__Host-vigil=${token}`;
    const ok = await t.app.inject(
      hb({ cookie, host: 'vigil.example:8443', origin: 'http://vigil.example:8443' }),
    );
    assert.equal(ok.statusCode, 200);
    const wrongPort = await t.app.inject(
      hb({ cookie, host: 'vigil.example:8443', origin: 'http://vigil.example' }),
    );
    assert.equal(wrongPort.statusCode, 403);
    await t.app.close();
  });

  test('requests authenticated by Authorization are not subject to it (not ambient)', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token } = await createSession(t.app);
    const response = await t.app.inject(hb({ ...bearer(token), origin: 'https://evil.example' }));
    assert.equal(response.statusCode, 200);
    const withBoth = await t.app.inject(hb({ ...bearer(token), cookie: '__Host-vigil=whatever' }));
    assert.equal(withBoth.statusCode, 200, 'a Bearer session token wins over the cookie');
    await t.app.close();
  });

  test('a forged request is refused before its token is looked at (a wrong cookie is still 403)', async () => {
    const t = await makeApp({ config: CONFIG });
    const response = await t.app.inject(
      hb({ cookie: '__Host-vigil=not-a-token', origin: 'https://evil.example' }),
    );
    assert.equal(response.statusCode, 403);
    assert.equal(errorCode(response), 'csrf_rejected');
    await t.app.close();
  });
});

describe('readCookie', () => {
  test('finds one cookie by exact name in a Cookie header', () => {
    assert.equal(readCookie('a=1; vigil=tok; b=2', 'vigil'), 'tok');
    assert.equal(readCookie('vigil=tok', 'vigil'), 'tok');
    assert.equal(readCookie('xvigil=no; vigil=yes', 'vigil'), 'yes');
    assert.equal(readCookie('vigilx=no', 'vigil'), null);
    assert.equal(readCookie(' vigil = "quoted" ', 'vigil'), 'quoted');
    assert.equal(readCookie('vigil=first; vigil=second', 'vigil'), 'first');
    assert.equal(readCookie('vigil', 'vigil'), null);
    assert.equal(readCookie('vigil=', 'vigil'), '');
    assert.equal(readCookie('', 'vigil'), null);
    assert.equal(readCookie(undefined, 'vigil'), null);
    assert.equal(readCookie(';;;=;vigil=a=b', 'vigil'), 'a=b');
  });
});
