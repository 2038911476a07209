import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStore, resolveConfig } from '@vigil/core';
import { backend, bearer, createSession, errorCode, heartbeat, makeApp } from './helpers.js';

const STATUS_KEYS = [
  'absoluteExpiresAt',
  'absoluteExpiresInMs',
  'heartbeatIntervalMs',
  'id',
  'idleExpiresAt',
  'idleExpiresInMs',
  'policy',
  'serverTime',
  'state',
  'subject',
  'warnInMs',
].sort();

describe('POST /v1/heartbeat and GET /v1/session', () => {
  test('200 status with exactly the contract fields, relative durations and ISO times', async () => {
    const t = await makeApp();
    const { token, id } = await createSession(t.app);
    t.clock.advance(4000);
    const response = await heartbeat(t.app, token);
    assert.equal(response.statusCode, 200);
    const status = response.json();
    assert.deepEqual(Object.keys(status).sort(), STATUS_KEYS);
    assert.deepEqual(status, {
      id,
      subject: 'alice',
      policy: 'default',
      state: 'active',
      idleExpiresInMs: 10_000,
      absoluteExpiresInMs: 56_000,
      warnInMs: 8000,
      heartbeatIntervalMs: 3333,
      idleExpiresAt: '2026-01-01T00:00:14.000Z',
      absoluteExpiresAt: '2026-01-01T00:01:00.000Z',
      serverTime: '2026-01-01T00:00:04.000Z',
    });
    await t.app.close();
  });

  test('GET /v1/session touches nothing', async () => {
    const t = await makeApp();
    const { token, id } = await createSession(t.app);
    t.clock.advance(3000);
    const read = await t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) });
    assert.equal(read.statusCode, 200);
    assert.equal(read.json().idleExpiresInMs, 7000);
    const admin = await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend });
    assert.equal(admin.json().lastSeenAt, '2026-01-01T00:00:00.000Z');
    t.clock.advance(7000);
    const ended = await t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) });
    assert.equal(ended.statusCode, 401);
    assert.equal(ended.json().error.reason, 'idle_timeout');
    await t.app.close();
  });

  test('sleeping heartbeats keep lastSeenAt but never extend; they emit heartbeat.sleeping with params', async () => {
    const t = await makeApp();
    const { token, id } = await createSession(t.app);
    t.clock.advance(5000);
    const response = await heartbeat(t.app, token, { state: 'sleeping', params: { tab: 'x' } });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().idleExpiresInMs, 5000);
    const admin = await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend });
    assert.equal(admin.json().lastSeenAt, '2026-01-01T00:00:05.000Z');
    assert.equal(admin.json().lastActivityAt, '2026-01-01T00:00:00.000Z');
    const sleeping = t.seen.filter((e) => e.type === 'heartbeat.sleeping');
    assert.equal(sleeping.length, 1);
    assert.deepEqual(sleeping[0]?.type === 'heartbeat.sleeping' && sleeping[0].params, { tab: 'x' });
    t.clock.advance(5000);
    const late = await heartbeat(t.app, token, { state: 'sleeping' });
    assert.equal(late.statusCode, 401);
    assert.equal(late.json().error.reason, 'idle_timeout');
    await t.app.close();
  });

  test('warning state exactly when warnInMs is 0; an active heartbeat extends and emits session.extended', async () => {
    const t = await makeApp();
    const { token } = await createSession(t.app);
    t.clock.advance(8000);
    const warned = await t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) });
    assert.equal(warned.json().state, 'warning');
    assert.equal(warned.json().warnInMs, 0);
    t.clock.advance(1000);
    const extended = await heartbeat(t.app, token, { state: 'active', warning: 'extended' });
    assert.equal(extended.json().state, 'active');
    assert.equal(extended.json().idleExpiresInMs, 10_000);
    assert.equal(t.seen.filter((e) => e.type === 'session.extended').length, 1);
    await t.app.close();
  });

  test('idle timeout: a heartbeat at the deadline is refused and never revives', async () => {
    const t = await makeApp();
    const { token } = await createSession(t.app);
    t.clock.advance(9999);
    assert.equal((await heartbeat(t.app, token)).statusCode, 200);
    t.clock.advance(10_000);
    const late = await heartbeat(t.app, token);
    assert.equal(late.statusCode, 401);
    assert.equal(errorCode(late), 'session_ended');
    assert.deepEqual(late.json().error.reason, 'idle_timeout');
    assert.equal(late.json().error.endedAt, '2026-01-01T00:00:19.999Z');
    assert.equal(late.headers['www-authenticate'], 'Bearer realm="vigil"');
    const again = await heartbeat(t.app, token);
    assert.equal(again.statusCode, 401);
    assert.equal(again.json().error.reason, 'idle_timeout');
    assert.equal(t.seen.filter((e) => e.type === 'session.expired').length, 1);
    await t.app.close();
  });

  test('absolute timeout holds however active the session is', async () => {
    const t = await makeApp();
    const { token } = await createSession(t.app);
    for (let at = 5000; at < 60_000; at += 5000) {
      t.clock.advance(5000);
      assert.equal((await heartbeat(t.app, token)).statusCode, 200, `at ${at}`);
    }
    const last = await heartbeat(t.app, token);
    assert.equal(last.json().absoluteExpiresInMs, 5000);
    assert.equal(last.json().idleExpiresInMs, 10_000);
    t.clock.advance(5000);
    const late = await heartbeat(t.app, token);
    assert.equal(late.statusCode, 401);
    assert.equal(late.json().error.reason, 'absolute_timeout');
    await t.app.close();
  });

  test('an unknown or purged token → 401 unauthenticated', async () => {
    const store = new MemoryStore();
    const t = await makeApp({ store });
    const { token } = await createSession(t.app);
    const fake = `vgl_${'A'.repeat(43)}`;
    for (const response of [
      await heartbeat(t.app, fake),
      await t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(fake) }),
      await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(fake) }),
    ]) {
      assert.equal(response.statusCode, 401);
      assert.equal(errorCode(response), 'unauthenticated');
    }
    await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(token) });
    t.clock.advance(1000);
    await store.purgeEnded(t.clock.now(), 100);
    const purged = await heartbeat(t.app, token);
    assert.equal(purged.statusCode, 401);
    assert.equal(errorCode(purged), 'unauthenticated');
    await t.app.close();
  });

  test('a session whose policy left the config falls back to default', async () => {
    const store = new MemoryStore();
    const first = await makeApp({
      store,
      config: { policies: { short: { idleTimeout: '2s', absoluteTimeout: '1m' } } },
    });
    const { token } = await createSession(first.app, { subject: 'g', policy: 'short' });
    await first.app.close();
    const second = await makeApp({ store, clock: first.clock });
    const response = await heartbeat(second.app, token);
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().policy, 'short');
    assert.equal(response.json().idleExpiresInMs, 10_000);
    assert.equal(response.json().heartbeatIntervalMs, 3333);
    await second.app.close();
  });

  test('params over 4 KB or a bad state → 400 validation_failed, nothing touched', async () => {
    const t = await makeApp();
    const { token, id } = await createSession(t.app);
    t.clock.advance(1000);
    for (const [body, field] of [
      [{ state: 'active', params: { x: 'y'.repeat(5000) } }, 'body.params'],
      [{ state: 'awake' }, 'body.state'],
      [{}, 'body.state'],
      [{ state: 'active', params: 'x' }, 'body.params'],
      [{ state: 'active', warning: 'maybe' }, 'body.warning'],
    ] as const) {
      const response = await heartbeat(t.app, token, body);
      assert.equal(response.statusCode, 400);
      assert.equal(errorCode(response), 'validation_failed');
      assert.equal(response.json().error.details[0].field, field);
    }
    const admin = await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend });
    assert.equal(admin.json().lastSeenAt, '2026-01-01T00:00:00.000Z');
    await t.app.close();
  });

  test('unknown heartbeat fields are ignored (older servers, newer SDKs)', async () => {
    const t = await makeApp();
    const { token } = await createSession(t.app);
    assert.equal((await heartbeat(t.app, token, { state: 'active', future: true })).statusCode, 200);
    await t.app.close();
  });
});

describe('rate limit', () => {
  test('a burst, then 429 rate_limited with Retry-After; per session; refills with time', async () => {
    const t = await makeApp({
      config: {
        policies: { default: { idleTimeout: '1h', absoluteTimeout: '2h' } },
        heartbeatRateLimit: { burst: 3, perSecond: 0.5 },
      },
    });
    const a = await createSession(t.app);
    const b = await createSession(t.app);
    for (let i = 0; i < 3; i++) assert.equal((await heartbeat(t.app, a.token)).statusCode, 200);
    const limited = await heartbeat(t.app, a.token);
    assert.equal(limited.statusCode, 429);
    assert.equal(errorCode(limited), 'rate_limited');
    assert.equal(limited.headers['retry-after'], '2');
    assert.equal((await heartbeat(t.app, b.token)).statusCode, 200, 'another session has its own bucket');
    t.clock.advance(2000);
    assert.equal((await heartbeat(t.app, a.token)).statusCode, 200);
    assert.equal((await heartbeat(t.app, a.token)).statusCode, 429);
    await t.app.close();
  });

  test('the default allows a burst of 10', async () => {
    const t = await makeApp({ config: {} });
    const { token } = await createSession(t.app);
    for (let i = 0; i < 10; i++) assert.equal((await heartbeat(t.app, token)).statusCode, 200);
    const limited = await heartbeat(t.app, token);
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers['retry-after'], '1');
    await t.app.close();
  });
});

describe('DELETE /v1/session (logout)', () => {
  test('204, one session.revoked (logout), then 401 session_ended logout', async () => {
    const t = await makeApp();
    const { token } = await createSession(t.app);
    const response = await t.app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: bearer(token),
      payload: { warning: 'signed_out' },
    });
    assert.equal(response.statusCode, 204);
    const revoked = t.seen.filter((e) => e.type === 'session.revoked');
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]?.session.reason, 'logout');
    const again = await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(token) });
    assert.equal(again.statusCode, 401);
    assert.equal(again.json().error.reason, 'logout');
    await t.app.close();
  });

  test('an empty body is fine whatever its Content-Type', async () => {
    const t = await makeApp();
    for (const type of ['application/json', 'text/plain']) {
      const { token } = await createSession(t.app);
      const response = await t.app.inject({
        method: 'DELETE',
        url: '/v1/session',
        headers: { ...bearer(token), 'content-type': type, 'content-length': '0' },
      });
      assert.equal(response.statusCode, 204, type);
    }
    await t.app.close();
  });

  test('logging out an expired session → 401 with the timeout, one session.expired', async () => {
    const t = await makeApp();
    const { token } = await createSession(t.app);
    t.clock.advance(10_000);
    const response = await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(token) });
    assert.equal(response.statusCode, 401);
    assert.equal(response.json().error.reason, 'idle_timeout');
    assert.equal(t.seen.filter((e) => e.type === 'session.expired').length, 1);
    assert.equal(t.seen.filter((e) => e.type === 'session.revoked').length, 0);
    await t.app.close();
  });
});

test('resolveConfig defaults are usable as is', () => {
  assert.ok(resolveConfig({}).policies.has('default'));
});
