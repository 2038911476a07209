import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CreateOptions, MemoryStore, type SessionRecord } from '@vigil/core';
import { backend, bearer, createSession, errorCode, heartbeat, makeApp, type TestApp } from './helpers.js';

const ADMIN_VIEW_KEYS = [
  'absoluteExpiresAt',
  'attributes',
  'createdAt',
  'id',
  'idleExpiresAt',
  'lastActivityAt',
  'lastSeenAt',
  'policy',
  'subject',
].sort();

describe('POST /v1/sessions', () => {
  let t: TestApp;
  before(async () => {
    t = await makeApp();
  });
  after(() => t.app.close());

  test('201 {token, session} with exactly the admin view, and a session.created event', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: backend,
      payload: { subject: 'alice', attributes: { plan: 'pro', n: 1 } },
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.headers['cache-control'], 'no-store');
    const body = response.json();
    assert.deepEqual(Object.keys(body).sort(), ['session', 'token']);
    assert.match(body.token, /^vgl_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(Object.keys(body.session).sort(), ADMIN_VIEW_KEYS);
    assert.equal(body.session.subject, 'alice');
    assert.equal(body.session.policy, 'default');
    assert.deepEqual(body.session.attributes, { plan: 'pro', n: 1 });
    assert.equal(body.session.createdAt, '2026-01-01T00:00:00.000Z');
    assert.equal(body.session.idleExpiresAt, '2026-01-01T00:00:10.000Z');
    assert.equal(body.session.absoluteExpiresAt, '2026-01-01T00:01:00.000Z');
    assert.ok(!JSON.stringify(body.session).includes(body.token));
    const created = t.seen.filter((e) => e.type === 'session.created');
    assert.equal(created.length, 1);
    assert.equal(created[0]?.session.id, body.session.id);
  });

  test('a named policy applies', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: backend,
      payload: { subject: 'bob', policy: 'admin' },
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().session.policy, 'admin');
    assert.equal(response.json().session.idleExpiresAt, '2026-01-01T00:00:05.000Z');
  });

  test('unknown policy → 400 validation_failed naming body.policy', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: backend,
      payload: { subject: 'alice', policy: 'nope' },
    });
    assert.equal(response.statusCode, 400);
    assert.equal(errorCode(response), 'validation_failed');
    assert.equal(response.json().error.details[0].field, 'body.policy');
  });

  for (const [name, payload, field] of [
    ['missing subject', {}, 'body.subject'],
    ['empty subject', { subject: '' }, 'body.subject'],
    ['subject of 257 characters', { subject: 'x'.repeat(257) }, 'body.subject'],
    ['subject not a string', { subject: 42 }, 'body.subject'],
    ['attributes not an object', { subject: 'a', attributes: [1] }, 'body.attributes'],
    ['attributes over 4 KB', { subject: 'a', attributes: { big: 'x'.repeat(4100) } }, 'body.attributes'],
    ['unknown field', { subject: 'a', polcy: 'admin' }, 'body.polcy'],
  ] as const) {
    test(`${name} → 400 validation_failed on ${field}`, async () => {
      const response = await t.app.inject({ method: 'POST', url: '/v1/sessions', headers: backend, payload });
      assert.equal(response.statusCode, 400);
      assert.equal(errorCode(response), 'validation_failed');
      assert.equal(response.json().error.details[0].field, field);
    });
  }

  test('subject of 256 characters (astral ones count once) is accepted', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: backend,
      payload: { subject: '😀'.repeat(256) },
    });
    assert.equal(response.statusCode, 201);
  });

  test('attributes of exactly 4096 bytes are accepted', async () => {
    const attributes = { k: 'x'.repeat(4096 - '{"k":""}'.length) };
    assert.equal(JSON.stringify(attributes).length, 4096);
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: backend,
      payload: { subject: 'a', attributes },
    });
    assert.equal(response.statusCode, 201);
  });
});

/**
 * A memory store that keeps text the way the real ones do: strings as UTF-8 (a lone surrogate
 * becomes U+FFFD), attributes as JSON text (whose escapes keep a lone surrogate as it was).
 */
class Utf8Store extends MemoryStore {
  override create(record: SessionRecord, options: CreateOptions) {
    const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('utf8');
    return super.create(
      {
        ...record,
        subject: utf8(record.subject),
        policy: utf8(record.policy),
        attributes: JSON.parse(utf8(JSON.stringify(record.attributes))),
      },
      options,
    );
  }
}

describe('text that is not well-formed Unicode', () => {
  test('a subject or policy name with a lone surrogate → 400 validation_failed, nothing created', async () => {
    const t = await makeApp({ store: new Utf8Store() });
    for (const [body, field] of [
      ['{"subject":"sur\\ud800x"}', 'body.subject'],
      ['{"subject":"\\udc00"}', 'body.subject'],
      ['{"subject":"a","policy":"default\\ud83d"}', 'body.policy'],
    ] as const) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: { ...backend, 'content-type': 'application/json' },
        payload: body,
      });
      assert.equal(response.statusCode, 400, body);
      assert.equal(errorCode(response), 'validation_failed');
      assert.deepEqual(
        [response.json().error.details[0].field, response.json().error.details[0].rule],
        [field, 'well_formed'],
      );
    }
    assert.deepEqual(t.seen, [], 'no session was created');
    // A URL cannot carry one: a surrogate's percent-encoding is not UTF-8, and the URL is refused.
    const revoke = await t.app.inject({
      method: 'DELETE',
      url: '/v1/subjects/%ED%A0%80/sessions',
      headers: backend,
    });
    assert.deepEqual([revoke.statusCode, errorCode(revoke)], [400, 'bad_request']);
    // A pair of surrogates is one character, and fine.
    const { id } = await createSession(t.app, { subject: 'smile \ud83d\ude00' });
    const listed = await t.app.inject({
      method: 'GET',
      url: `/v1/sessions?subject=${encodeURIComponent('smile \ud83d\ude00')}`,
      headers: backend,
    });
    assert.deepEqual(
      listed.json().sessions.map((session: { id: string }) => session.id),
      [id],
    );
    await t.app.close();
  });

  test('attributes with lone surrogates are kept exactly (JSON text escapes them)', async () => {
    const t = await makeApp({ store: new Utf8Store() });
    const attributes = { 'key\ud800': 'value\udc00', pair: '\ud83d\ude00' };
    const { id } = await createSession(t.app, { subject: 'alice', attributes });
    const read = await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend });
    assert.deepEqual(read.json().attributes, attributes);
    await t.app.close();
  });
});

describe('maxSessions evicts the oldest', () => {
  test('the third admin session evicts the first with one session.revoked (evicted)', async () => {
    const t = await makeApp();
    const first = await createSession(t.app, { subject: 'root', policy: 'admin' });
    t.clock.advance(10);
    await createSession(t.app, { subject: 'root', policy: 'admin' });
    t.clock.advance(10);
    await createSession(t.app, { subject: 'root', policy: 'admin' });
    const revoked = t.seen.filter((e) => e.type === 'session.revoked');
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]?.session.id, first.id);
    assert.equal(revoked[0]?.session.reason, 'evicted');
    const answer = await heartbeat(t.app, first.token);
    assert.equal(answer.statusCode, 401);
    assert.equal(errorCode(answer), 'session_ended');
    assert.equal(answer.json().error.reason, 'evicted');
    await t.app.close();
  });
});

describe('GET /v1/sessions?subject=', () => {
  test('200 {sessions} oldest first, live and ended, admin view only', async () => {
    const t = await makeApp();
    const a = await createSession(t.app, { subject: 'carol' });
    t.clock.advance(1);
    const b = await createSession(t.app, { subject: 'carol' });
    await createSession(t.app, { subject: 'dave' });
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${a.id}`, headers: backend });
    const response = await t.app.inject({
      method: 'GET',
      url: '/v1/sessions?subject=carol',
      headers: backend,
    });
    assert.equal(response.statusCode, 200);
    const { sessions } = response.json();
    assert.deepEqual(
      sessions.map((s: { id: string }) => s.id),
      [a.id, b.id],
    );
    assert.equal(sessions[0].reason, 'revoked');
    assert.equal(sessions[0].endedAt, '2026-01-01T00:00:00.001Z');
    assert.deepEqual(Object.keys(sessions[1]).sort(), ADMIN_VIEW_KEYS);
    const none = await t.app.inject({ method: 'GET', url: '/v1/sessions?subject=nobody', headers: backend });
    assert.deepEqual(none.json(), { sessions: [] });
    await t.app.close();
  });

  test('missing, empty, repeated or unknown query → 400 validation_failed', async () => {
    const t = await makeApp();
    for (const url of [
      '/v1/sessions',
      '/v1/sessions?subject=',
      '/v1/sessions?subject=a&subject=b',
      '/v1/sessions?subject=a&x=1',
    ]) {
      const response = await t.app.inject({ method: 'GET', url, headers: backend });
      assert.equal(response.statusCode, 400, url);
      assert.equal(errorCode(response), 'validation_failed');
    }
    await t.app.close();
  });
});

describe('GET and DELETE /v1/sessions/:id', () => {
  test('200 admin view; 404 for unknown ids and for a token used as an id', async () => {
    const t = await makeApp();
    const { token, id } = await createSession(t.app);
    const found = await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend });
    assert.equal(found.statusCode, 200);
    assert.equal(found.json().id, id);
    assert.deepEqual(Object.keys(found.json()).sort(), ADMIN_VIEW_KEYS);
    for (const url of [`/v1/sessions/${'A'.repeat(43)}`, `/v1/sessions/${token}`, '/v1/sessions/x']) {
      const response = await t.app.inject({ method: 'GET', url, headers: backend });
      assert.equal(response.statusCode, 404, url);
      assert.equal(errorCode(response), 'not_found');
    }
    await t.app.close();
  });

  test('reading an expired session records its end once (session.expired) and shows the reason', async () => {
    const t = await makeApp();
    const { id } = await createSession(t.app);
    t.clock.advance(10_000);
    for (let i = 0; i < 3; i++) {
      const response = await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend });
      assert.equal(response.statusCode, 200);
      assert.equal(response.json().reason, 'idle_timeout');
      assert.equal(response.json().endedAt, '2026-01-01T00:00:10.000Z');
    }
    assert.equal(t.seen.filter((e) => e.type === 'session.expired').length, 1);
    await t.app.close();
  });

  test('DELETE → 204 and the token gets 401 revoked; again → 204 (idempotent); unknown → 404', async () => {
    const t = await makeApp();
    const { token, id } = await createSession(t.app);
    const first = await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    assert.equal(first.statusCode, 204);
    assert.equal(first.body, '');
    const again = await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    assert.equal(again.statusCode, 204);
    assert.equal(t.seen.filter((e) => e.type === 'session.revoked').length, 1);
    const answer = await t.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(token) });
    assert.equal(answer.statusCode, 401);
    assert.equal(answer.json().error.reason, 'revoked');
    const unknown = await t.app.inject({
      method: 'DELETE',
      url: `/v1/sessions/${'B'.repeat(43)}`,
      headers: backend,
    });
    assert.equal(unknown.statusCode, 404);
    assert.equal(errorCode(unknown), 'not_found');
    await t.app.close();
  });
});

describe('DELETE /v1/subjects/:subject/sessions', () => {
  test('200 {revoked: n} counts the sessions live before the call; each gets one session.revoked', async () => {
    const t = await makeApp();
    const subject = 'eve/ü 😀';
    const tokens = [];
    for (let i = 0; i < 3; i++) tokens.push((await createSession(t.app, { subject })).token);
    const other = await createSession(t.app, { subject: 'frank' });
    await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(tokens[0] as string) });
    const url = `/v1/subjects/${encodeURIComponent(subject)}/sessions`;
    const response = await t.app.inject({ method: 'DELETE', url, headers: backend });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { revoked: 2 });
    const revoked = t.seen.filter((e) => e.type === 'session.revoked' && e.session.reason === 'revoked');
    assert.equal(revoked.length, 2);
    assert.ok(revoked.every((e) => e.session.endedAt !== null));
    for (const token of tokens) assert.equal((await heartbeat(t.app, token)).statusCode, 401);
    assert.equal((await heartbeat(t.app, other.token)).statusCode, 200);
    const again = await t.app.inject({ method: 'DELETE', url, headers: backend });
    assert.deepEqual(again.json(), { revoked: 0 });
    await t.app.close();
  });

  test('a subject over 256 characters → 400 validation_failed', async () => {
    const t = await makeApp();
    const response = await t.app.inject({
      method: 'DELETE',
      url: `/v1/subjects/${'s'.repeat(257)}/sessions`,
      headers: backend,
    });
    assert.equal(response.statusCode, 400);
    assert.equal(errorCode(response), 'validation_failed');
    await t.app.close();
  });
});
