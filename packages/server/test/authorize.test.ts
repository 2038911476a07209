import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConfigInput } from '@vigil/core';
import { subjectHeader } from '../src/index.js';
import { backend, bearer, createSession, errorCode, faultyStore, heartbeat, makeApp } from './helpers.js';

const CONFIG: ConfigInput = {
  policies: { default: { idleTimeout: '10s', absoluteTimeout: '1m', warnBefore: '2s' } },
  passivePaths: ['/api/poll', '/api/notifications/*', '/static/**'],
  cookie: { enabled: true },
};

async function adminView(t: Awaited<ReturnType<typeof makeApp>>, id: string) {
  const response = await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend });
  return response.json();
}

describe('GET /v1/authorize (forward-auth)', () => {
  test('200 with the subject, session id and time left as headers, the status as body; never the token', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app, { subject: 'alice@example.com' });
    t.clock.advance(3000);
    const response = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['x-vigil-subject'], 'alice@example.com');
    assert.equal(response.headers['x-vigil-session'], id);
    assert.equal(response.headers['x-vigil-expires-in-ms'], '10000');
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.json().id, id);
    assert.equal(response.json().idleExpiresInMs, 10_000);
    assert.ok(!JSON.stringify(response.headers).includes(token));
    assert.ok(!response.body.includes(token));
    await t.app.close();
  });

  test('X-Vigil-Expires-In-Ms is the nearer of the two deadlines', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token } = await createSession(t.app);
    for (let i = 0; i < 11; i++) {
      t.clock.advance(5000);
      await heartbeat(t.app, token);
    }
    const response = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal(response.headers['x-vigil-expires-in-ms'], '5000');
    assert.equal(response.json().absoluteExpiresInMs, 5000);
    await t.app.close();
  });

  test('counts as activity: it moves the idle deadline like an active heartbeat', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    t.clock.advance(6000);
    await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    const view = await adminView(t, id);
    assert.equal(view.lastActivityAt, '2026-01-01T00:00:06.000Z');
    t.clock.advance(6000);
    const later = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal(later.statusCode, 200, 'alive 12 s after creation thanks to the request at 6 s');
    t.clock.advance(10_000);
    const late = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal(late.statusCode, 401);
    assert.equal(errorCode(late), 'session_ended');
    assert.equal(late.json().error.reason, 'idle_timeout');
    assert.equal(late.headers['x-vigil-reason'], 'idle_timeout');
    await t.app.close();
  });

  test('touches are coalesced exactly as heartbeats are (touchGranularity)', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    t.clock.advance(50); // less than the granularity (1% of 10 s = 100 ms): nothing written
    await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal((await adminView(t, id)).lastActivityAt, '2026-01-01T00:00:00.000Z');
    t.clock.advance(100);
    await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal((await adminView(t, id)).lastActivityAt, '2026-01-01T00:00:00.150Z');
    await t.app.close();
  });

  test('passive: X-Vigil-Activity, or a forwarded URI matching a pattern, updates lastSeenAt only', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    const passiveRequests = [
      { 'x-vigil-activity': 'passive' },
      { 'x-vigil-activity': 'Passive, passive' },
      { 'x-original-uri': '/api/poll?since=42' },
      { 'x-forwarded-uri': '/api/notifications/17' },
      { 'x-forwarded-uri': '/static/css/site.css' },
      { 'x-original-uri': '/api/%70oll' },
      { 'x-original-uri': '/api/x/../poll' },
      // X-Original-URI (nginx) wins over X-Forwarded-Uri.
      { 'x-original-uri': '/api/poll', 'x-forwarded-uri': '/account' },
    ];
    for (const [index, headers] of passiveRequests.entries()) {
      t.clock.advance(1000);
      const response = await t.app.inject({
        method: 'GET',
        url: '/v1/authorize',
        headers: { ...bearer(token), ...headers },
      });
      assert.equal(response.statusCode, 200, JSON.stringify(headers));
      const view = await adminView(t, id);
      assert.equal(view.lastActivityAt, '2026-01-01T00:00:00.000Z', `request ${index} counted as activity`);
      assert.equal(view.lastSeenAt, new Date(Date.UTC(2026, 0, 1) + (index + 1) * 1000).toISOString());
    }
    assert.equal(
      t.seen.filter((e) => e.type === 'heartbeat.sleeping').length,
      0,
      'a poll is not a heartbeat',
    );
    t.clock.advance(2000); // 10 s since the last activity
    const ended = await t.app.inject({
      method: 'GET',
      url: '/v1/authorize',
      headers: { ...bearer(token), 'x-original-uri': '/api/poll' },
    });
    assert.equal(ended.statusCode, 401, 'passive polling does not keep a session alive');
    assert.equal(ended.json().error.reason, 'idle_timeout');
    await t.app.close();
  });

  test('paths that do not match a passive pattern are active', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    for (const uri of ['/api/poll/', '/api/polling', '/api/notifications/1/2', '/account', '/API/poll']) {
      t.clock.advance(1000);
      await t.app.inject({
        method: 'GET',
        url: '/v1/authorize',
        headers: { ...bearer(token), 'x-original-uri': uri },
      });
      assert.equal((await adminView(t, id)).lastActivityAt, new Date(t.clock.now()).toISOString(), uri);
    }
    await t.app.close();
  });

  test('HEAD answers like GET, without a body', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    const ok = await t.app.inject({ method: 'HEAD', url: '/v1/authorize', headers: bearer(token) });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers['x-vigil-session'], id);
    assert.equal(ok.body, '');
    const refused = await t.app.inject({ method: 'HEAD', url: '/v1/authorize' });
    assert.equal(refused.statusCode, 401);
    await t.app.close();
  });

  test('Envoy ext_authz: any method, the original path appended to /v1/authorize', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
      t.clock.advance(1000);
      const passive = await t.app.inject({
        method,
        url: '/v1/authorize/api/poll?since=1',
        headers: { ...bearer(token), 'content-length': '0' },
      });
      assert.equal(passive.statusCode, 200, method);
      assert.equal((await adminView(t, id)).lastActivityAt, '2026-01-01T00:00:00.000Z', method);
    }
    t.clock.advance(1000);
    const active = await t.app.inject({
      method: 'POST',
      url: '/v1/authorize/orders',
      headers: bearer(token),
    });
    assert.equal(active.statusCode, 200);
    assert.equal((await adminView(t, id)).lastActivityAt, new Date(t.clock.now()).toISOString());
    await t.app.close();
  });

  test('the session cookie works in place of Authorization, and an app’s own bearer token does not hide it', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    for (const headers of [
      { cookie: `theme=dark; __Host-vigil=${token}; other=1` },
      { cookie: `__Host-vigil=${token}`, authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.app.token' },
      // Forwarded from a cross-site POST: forward-auth is a check, never subject to Vigil's CSRF rule.
      { cookie: `__Host-vigil=${token}`, origin: 'https://elsewhere.example' },
    ]) {
      const response = await t.app.inject({ method: 'POST', url: '/v1/authorize', headers });
      assert.equal(response.statusCode, 200, JSON.stringify(headers));
      assert.equal(response.headers['x-vigil-session'], id);
    }
    await t.app.close();
  });

  test('the cookie is ignored unless cookie mode is on', async () => {
    const t = await makeApp({ config: { ...CONFIG, cookie: { enabled: false } } });
    const { token } = await createSession(t.app);
    const response = await t.app.inject({
      method: 'GET',
      url: '/v1/authorize',
      headers: { cookie: `__Host-vigil=${token}` },
    });
    assert.equal(response.statusCode, 401);
    assert.equal(errorCode(response), 'unauthenticated');
    await t.app.close();
  });

  test('401 unauthenticated for no, malformed or unknown tokens, with X-Vigil-Reason', async () => {
    const t = await makeApp({ config: CONFIG });
    for (const headers of [
      {},
      bearer('nope'),
      bearer(`vgl_${'A'.repeat(43)}`),
      { cookie: '__Host-vigil=garbage' },
      { authorization: 'Basic dXNlcjpwYXNz' },
    ]) {
      const response = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers });
      assert.equal(response.statusCode, 401, JSON.stringify(headers));
      assert.equal(errorCode(response), 'unauthenticated');
      assert.equal(response.headers['x-vigil-reason'], 'unauthenticated');
    }
    await t.app.close();
  });

  test('a revoked session is refused at once with its reason', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token, id } = await createSession(t.app);
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    const response = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal(response.statusCode, 401);
    assert.equal(response.json().error.reason, 'revoked');
    assert.equal(response.headers['x-vigil-reason'], 'revoked');
    await t.app.close();
  });

  test('an active request in the warning period extends the session and emits session.extended', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token } = await createSession(t.app);
    t.clock.advance(8500);
    const passive = await t.app.inject({
      method: 'GET',
      url: '/v1/authorize',
      headers: { ...bearer(token), 'x-vigil-activity': 'passive' },
    });
    assert.equal(passive.json().state, 'warning');
    assert.equal(t.seen.filter((e) => e.type === 'session.extended').length, 0);
    const active = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal(active.json().state, 'active');
    assert.equal(t.seen.filter((e) => e.type === 'session.extended').length, 1);
    await t.app.close();
  });

  test('503 with Retry-After when the store cannot answer (never 401, never 200)', async () => {
    const store = faultyStore();
    const t = await makeApp({ config: { ...CONFIG, storeTimeout: '100ms' }, store });
    const { token } = await createSession(t.app);
    for (const mode of ['throw', 'hang'] as const) {
      store.mode = mode;
      const response = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
      assert.equal(response.statusCode, 503, mode);
      assert.equal(errorCode(response), 'store_unavailable');
      assert.ok(Number(response.headers['retry-after']) >= 1);
      assert.equal(response.headers['x-vigil-subject'], undefined);
    }
    store.mode = 'ok';
    const back = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal(back.statusCode, 200);
    await t.app.close();
  });

  test('no rate limit: a page with many subresources is not refused', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token } = await createSession(t.app);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) }),
      ),
    );
    assert.deepEqual(new Set(answers.map((r) => r.statusCode)), new Set([200]));
    await t.app.close();
  });

  test('metrics count checks by activity and outcome', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token } = await createSession(t.app);
    await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    await t.app.inject({
      method: 'GET',
      url: '/v1/authorize',
      headers: { ...bearer(token), 'x-original-uri': '/api/poll' },
    });
    await t.app.inject({ method: 'GET', url: '/v1/authorize' });
    const metrics = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /vigil_authorize_total\{activity="active",outcome="ok"\} 1/);
    assert.match(metrics, /vigil_authorize_total\{activity="passive",outcome="ok"\} 1/);
    assert.match(metrics, /vigil_authorize_total\{activity="active",outcome="unauthenticated"\} 1/);
    await t.app.close();
  });
});

describe('X-Vigil-Subject encoding', () => {
  test('printable ASCII as is; %, spaces, controls and non-ASCII percent-encoded as UTF-8', () => {
    const cases = [
      'alice',
      'alice@example.com',
      'user:42|tenant=7',
      'Jane Doe',
      'josé',
      '100%',
      'a\r\nX-Evil: 1',
      '用户',
    ];
    for (const subject of cases) {
      const header = subjectHeader(subject);
      assert.match(header, /^[\x21-\x7e]*$/, subject);
      assert.equal(decodeURIComponent(header), subject);
    }
    assert.equal(subjectHeader('alice@example.com'), 'alice@example.com');
    assert.equal(subjectHeader('josé'), 'jos%C3%A9');
  });

  test('the app receives a subject it can decode, whatever the subject', async () => {
    const t = await makeApp({ config: CONFIG });
    const { token } = await createSession(t.app, { subject: 'Zoë Ünicode 100%' });
    const response = await t.app.inject({ method: 'GET', url: '/v1/authorize', headers: bearer(token) });
    assert.equal(decodeURIComponent(String(response.headers['x-vigil-subject'])), 'Zoë Ünicode 100%');
    await t.app.close();
  });
});
