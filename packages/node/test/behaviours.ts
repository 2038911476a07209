import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type ConfigInput, sessionIdFor } from '@vigil/core';
import {
  type AppOptions,
  bearer,
  errorOf,
  type Framework,
  get,
  makeBackend,
  TEST_CONFIG,
} from './helpers.js';

const PASSIVE = { 'x-vigil-activity': 'passive' };

/**
 * The enforcement contract, the same for each framework and each backend: these tests run four times
 * (Express and Fastify, local store and remote Vigil).
 */
export function describeEnforcement(framework: Framework, mode: 'local' | 'remote'): void {
  describe(`${framework.name} · ${mode}`, () => {
    const open: Array<{ close(): Promise<void> }> = [];
    async function setUp(options: AppOptions = { passivePaths: ['/api/poll/**'] }, config?: ConfigInput) {
      const backend = await makeBackend(mode, config === undefined ? {} : { config });
      const app = await framework.start(backend.checker, options);
      open.push(app, backend);
      return { backend, app };
    }
    after(async () => {
      for (const resource of open.reverse()) await resource.close();
    });

    test('a live session is on the request, with the status the server would answer', async () => {
      const { backend, app } = await setUp();
      const { token, id } = await backend.createSession({ subject: 'alice' });
      backend.clock.advance(4000);
      const answer = await get(`${app.url}/api/data`, bearer(token));
      assert.equal(answer.status, 200);
      const session = answer.body as Record<string, unknown>;
      assert.equal(session.sessionId, id);
      assert.equal(session.sessionId, sessionIdFor(token));
      assert.equal(session.subject, 'alice');
      assert.equal(session.policy, 'default');
      const read = await backend.serverRead(token);
      assert.deepEqual(session.status, read.body);
      assert.equal((session.status as { idleExpiresInMs: number }).idleExpiresInMs, 10_000);
    });

    test('after the idle timeout the next request is 401 session_ended idle_timeout, as the server says', async () => {
      const { backend, app } = await setUp();
      const { token } = await backend.createSession();
      assert.equal((await get(`${app.url}/api/data`, bearer(token))).status, 200);
      backend.clock.advance(10_000);
      const answer = await get(`${app.url}/api/data`, bearer(token));
      assert.equal(answer.status, 401);
      assert.equal(errorOf(answer).code, 'session_ended');
      assert.equal(errorOf(answer).reason, 'idle_timeout');
      assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="vigil"');
      assert.equal(answer.headers.get('cache-control'), 'no-store');
      const read = await backend.serverRead(token);
      assert.equal(read.status, 401);
      assert.deepEqual(answer.body, read.body);
      // One end, one event, whoever noticed it.
      assert.equal((await get(`${app.url}/api/data`, bearer(token))).status, 401);
      assert.deepEqual(
        backend.seen.filter((event) => event.type !== 'session.created').map((event) => event.type),
        ['session.expired'],
      );
    });

    test('an active route extends the session; the absolute timeout ends it anyway', async () => {
      const { backend, app } = await setUp();
      const { token } = await backend.createSession();
      for (let at = 8000; at < 60_000; at += 8000) {
        backend.clock.set(Date.UTC(2026, 0, 1) + at);
        const answer = await get(`${app.url}/api/data`, bearer(token));
        assert.equal(answer.status, 200, `alive at ${at} ms`);
        const status = (answer.body as { status: { idleExpiresInMs: number; absoluteExpiresInMs: number } })
          .status;
        assert.equal(status.idleExpiresInMs, 10_000);
        assert.equal(status.absoluteExpiresInMs, 60_000 - at);
      }
      backend.clock.set(Date.UTC(2026, 0, 1) + 60_000);
      const answer = await get(`${app.url}/api/data`, bearer(token));
      assert.equal(answer.status, 401);
      assert.equal(errorOf(answer).reason, 'absolute_timeout');
    });

    test('a passive path is checked but never extends: a session only polled expires', async () => {
      const { backend, app } = await setUp();
      const { token } = await backend.createSession();
      for (const at of [3000, 6000, 9000]) {
        backend.clock.set(Date.UTC(2026, 0, 1) + at);
        const answer = await get(`${app.url}/api/poll/status?since=1`, bearer(token));
        assert.equal(answer.status, 200);
        assert.equal(
          (answer.body as { status: { idleExpiresInMs: number } }).status.idleExpiresInMs,
          10_000 - at,
        );
      }
      backend.clock.set(Date.UTC(2026, 0, 1) + 10_000);
      const answer = await get(`${app.url}/api/poll/status`, bearer(token));
      assert.equal(answer.status, 401);
      assert.equal(errorOf(answer).reason, 'idle_timeout');
    });

    test('X-Vigil-Activity: passive on an active route does not extend; the same route without it does', async () => {
      const { backend, app } = await setUp();
      const { token } = await backend.createSession();
      backend.clock.advance(6000);
      const passive = await get(`${app.url}/api/data`, { ...bearer(token), ...PASSIVE });
      assert.equal((passive.body as { status: { idleExpiresInMs: number } }).status.idleExpiresInMs, 4000);
      const active = await get(`${app.url}/api/data`, bearer(token));
      assert.equal((active.body as { status: { idleExpiresInMs: number } }).status.idleExpiresInMs, 10_000);
      backend.clock.advance(9000);
      assert.equal((await get(`${app.url}/api/data`, { ...bearer(token), ...PASSIVE })).status, 200);
      backend.clock.advance(1000);
      const ended = await get(`${app.url}/api/data`, { ...bearer(token), ...PASSIVE });
      assert.equal(ended.status, 401);
      assert.equal(errorOf(ended).reason, 'idle_timeout');
    });

    test('the passive callback marks requests passive', async () => {
      const { backend, app } = await setUp({ passiveByCallback: true });
      const { token } = await backend.createSession();
      backend.clock.advance(7000);
      const polled = await get(`${app.url}/api/notifications`, { ...bearer(token), 'x-poll': '1' });
      assert.equal((polled.body as { status: { idleExpiresInMs: number } }).status.idleExpiresInMs, 3000);
      // Without passivePaths configured, /api/poll/… is an ordinary active route.
      const active = await get(`${app.url}/api/poll/status`, bearer(token));
      assert.equal((active.body as { status: { idleExpiresInMs: number } }).status.idleExpiresInMs, 10_000);
    });

    test("the Vigil config's passivePaths apply too (one list for forward-auth and middleware); never the query", async () => {
      const { backend, app } = await setUp({}, { ...TEST_CONFIG, passivePaths: ['/api/notifications'] });
      const { token } = await backend.createSession();
      backend.clock.advance(6000);
      const polled = await get(`${app.url}/api/notifications?page=2`, bearer(token));
      assert.equal((polled.body as { status: { idleExpiresInMs: number } }).status.idleExpiresInMs, 4000);
      const active = await get(`${app.url}/api/data`, bearer(token));
      assert.equal((active.body as { status: { idleExpiresInMs: number } }).status.idleExpiresInMs, 10_000);
    });

    test('no, malformed, unknown or non-bearer credentials are 401 unauthenticated', async () => {
      const { backend, app } = await setUp();
      const { token } = await backend.createSession();
      const unknown = `vgl_${'A'.repeat(43)}`;
      const attempts: Record<string, string>[] = [
        {},
        bearer('not-a-token'),
        bearer(unknown),
        { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` },
        { cookie: `vigil=${token}` },
      ];
      for (const headers of attempts) {
        const answer = await get(`${app.url}/api/data`, headers);
        assert.equal(answer.status, 401, JSON.stringify(headers));
        assert.equal(errorOf(answer).code, 'unauthenticated');
        assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="vigil"');
      }
      const read = await backend.serverRead(unknown);
      assert.deepEqual((await get(`${app.url}/api/data`, bearer(unknown))).body, read.body);
    });

    test('the token may come from the configured cookie; Authorization wins over it', async () => {
      const { backend, app } = await setUp({ cookieName: '__Host-vigil' });
      const alice = await backend.createSession({ subject: 'alice' });
      const bob = await backend.createSession({ subject: 'bob' });
      const byCookie = await get(`${app.url}/api/data`, {
        cookie: `theme=dark; __Host-vigil=${alice.token}`,
      });
      assert.equal(byCookie.status, 200);
      assert.equal((byCookie.body as { subject: string }).subject, 'alice');
      const both = await get(`${app.url}/api/data`, {
        cookie: `__Host-vigil=${alice.token}`,
        ...bearer(bob.token),
      });
      assert.equal((both.body as { subject: string }).subject, 'bob');
    });

    test('a revoked session is refused with its reason', async () => {
      const { backend, app } = await setUp();
      const { token, id } = await backend.createSession();
      assert.equal((await get(`${app.url}/api/data`, bearer(token))).status, 200);
      const revoke = await backend.server.inject({
        method: 'DELETE',
        url: `/v1/sessions/${id}`,
        headers: { authorization: 'Bearer test-api-key-0123456789' },
      });
      assert.equal(revoke.statusCode, 204);
      const answer = await get(`${app.url}/api/data`, bearer(token));
      assert.equal(answer.status, 401);
      assert.equal(errorOf(answer).reason, 'revoked');
    });

    test('a failing or hanging store is 503 store_unavailable with Retry-After, never 401; then it serves again', async () => {
      const { backend, app } = await setUp();
      const { token } = await backend.createSession();
      assert.equal((await get(`${app.url}/api/data`, bearer(token))).status, 200);
      for (const mode of ['throw', 'hang'] as const) {
        backend.store.mode = mode;
        const started = performance.now();
        const answer = await get(`${app.url}/api/data`, bearer(token));
        assert.equal(answer.status, 503, mode);
        assert.equal(errorOf(answer).code, 'store_unavailable');
        assert.match(answer.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
        assert.ok(performance.now() - started < 1500, `${mode} answered within the storeTimeout`);
        assert.doesNotMatch(JSON.stringify(answer.body), /db\.internal|vgl_/);
      }
      backend.store.mode = 'ok';
      const answer = await get(`${app.url}/api/data`, bearer(token));
      assert.equal(answer.status, 200);
    });

    test('routes outside the guarded scope are not checked; route errors reach the app', async () => {
      const { backend, app } = await setUp();
      const open = await get(`${app.url}/public`);
      assert.equal(open.status, 200);
      assert.deepEqual(open.body, { public: true, vigil: null });
      const { token } = await backend.createSession();
      const boom = await get(`${app.url}/api/boom`, bearer(token));
      assert.equal(boom.status, 500);
      assert.deepEqual(boom.body, { handledBy: 'app', message: 'route failure' });
    });
  });
}
