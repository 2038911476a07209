import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AuditEntry,
  type AuditLog,
  bridgeEvents,
  encodeAuditCursor,
  endEvent,
  endSession,
  MemoryAuditLog,
  type SessionEvent,
  Sweeper,
} from '@vigil/core';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import {
  API_KEY,
  backend,
  bearer,
  createSession,
  errorCode,
  heartbeat,
  makeApp,
  TEST_CONFIG,
} from './helpers.js';

const SECOND = 1000;

interface EntryView extends Omit<AuditEntry, 'endedAt'> {
  endedAt: string;
}

async function audit(app: FastifyInstance, query = '') {
  const response = await app.inject({ method: 'GET', url: `/v1/audit${query}`, headers: backend });
  return { response, body: response.json() as { entries: EntryView[]; nextCursor: string | null } };
}

/** Every entry, following nextCursor. */
async function allEntries(app: FastifyInstance, params: string): Promise<EntryView[]> {
  const entries: EntryView[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const { response, body } = await audit(
      app,
      `?${params}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
    );
    assert.equal(response.statusCode, 200, response.body);
    entries.push(...body.entries);
    if (body.nextCursor === null) return entries;
    cursor = body.nextCursor;
  }
  throw new Error('paging did not end');
}

describe('GET /v1/audit: who ended which session', () => {
  it('a revocation with the API key is an admin entry, with the end time and the session', async () => {
    const t = await makeApp();
    const { id } = await createSession(t.app, { subject: 'alice' });
    t.clock.advance(3 * SECOND);
    const endedAt = new Date(t.clock.now()).toISOString();
    assert.equal(
      (await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend })).statusCode,
      204,
    );
    // Revoking again changes nothing: still one entry.
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    const { response, body } = await audit(t.app, '?subject=alice');
    assert.equal(response.statusCode, 200);
    assert.deepEqual(body, {
      entries: [
        { sessionId: id, subject: 'alice', policy: 'default', reason: 'revoked', actor: 'admin', endedAt },
      ],
      nextCursor: null,
    });
    await t.app.close();
  });

  it('"log out everywhere" writes one admin entry per session that was live', async () => {
    const t = await makeApp();
    const a = await createSession(t.app, { subject: 'bob' });
    const b = await createSession(t.app, { subject: 'bob' });
    await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(a.token) });
    const response = await t.app.inject({
      method: 'DELETE',
      url: '/v1/subjects/bob/sessions',
      headers: backend,
    });
    assert.deepEqual(response.json(), { revoked: 1 });
    const entries = await allEntries(t.app, 'subject=bob');
    assert.deepEqual(
      entries.map((e) => [e.sessionId, e.reason, e.actor]).sort(),
      [
        [a.id, 'logout', 'user'],
        [b.id, 'revoked', 'admin'],
      ].sort(),
    );
    await t.app.close();
  });

  it('a logout with the session token is a user entry', async () => {
    const t = await makeApp();
    const { token, id } = await createSession(t.app, { subject: 'carol' });
    assert.equal(
      (await t.app.inject({ method: 'DELETE', url: '/v1/session', headers: bearer(token) })).statusCode,
      204,
    );
    const { body } = await audit(t.app);
    assert.deepEqual(
      body.entries.map((e) => [e.sessionId, e.reason, e.actor]),
      [[id, 'logout', 'user']],
    );
    await t.app.close();
  });

  it('an expiry noticed by a request is a timeout entry at the deadline, not at the request', async () => {
    const t = await makeApp();
    const { token, id } = await createSession(t.app, { subject: 'dave' });
    const deadline = t.clock.now() + 10 * SECOND;
    t.clock.advance(15 * SECOND);
    assert.equal((await heartbeat(t.app, token)).statusCode, 401);
    assert.equal((await heartbeat(t.app, token)).statusCode, 401);
    const { body } = await audit(t.app, '?subject=dave');
    assert.deepEqual(
      body.entries.map((e) => [e.sessionId, e.reason, e.actor, e.endedAt]),
      [[id, 'idle_timeout', 'timeout', new Date(deadline).toISOString()]],
    );
    await t.app.close();
  });

  it('an expiry reported by the sweeper is a timeout entry, written once', async () => {
    const t = await makeApp();
    const { id } = await createSession(t.app, { subject: 'erin' });
    t.clock.advance(61 * SECOND);
    const sweeper = new Sweeper({ store: t.app.vigil.store, clock: t.clock, events: t.events });
    assert.equal((await sweeper.sweep()).expired, 1);
    assert.equal((await sweeper.sweep()).expired, 0);
    // And a read afterwards finds it ended without ending it again.
    assert.equal(
      (await t.app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers: backend })).statusCode,
      200,
    );
    const { body } = await audit(t.app);
    assert.deepEqual(
      body.entries.map((e) => [e.sessionId, e.reason, e.actor]),
      [[id, 'idle_timeout', 'timeout']],
    );
    assert.equal(t.app.vigil.audit?.stats().written, 1);
    await t.app.close();
  });

  it('an eviction by maxSessions is a system entry', async () => {
    const t = await makeApp();
    const first = await createSession(t.app, { subject: 'fay', policy: 'admin' });
    t.clock.advance(SECOND);
    await createSession(t.app, { subject: 'fay', policy: 'admin' });
    t.clock.advance(SECOND);
    await createSession(t.app, { subject: 'fay', policy: 'admin' });
    const { body } = await audit(t.app, '?subject=fay');
    assert.deepEqual(
      body.entries.map((e) => [e.sessionId, e.reason, e.actor, e.policy]),
      [[first.id, 'evicted', 'system', 'admin']],
    );
    await t.app.close();
  });

  it('an end relayed from another node is not written again here', async () => {
    const t = await makeApp();
    let deliver: ((event: SessionEvent) => void) | undefined;
    const unbridge = bridgeEvents(t.events, {
      publish: () => {},
      onRemoteEvent: (listener) => {
        deliver = listener;
        return () => {};
      },
    });
    const { id } = await createSession(t.app, { subject: 'gus' });
    const lookup = await t.app.vigil.store.get(id, t.clock.now());
    assert.equal(lookup.kind, 'live');
    if (lookup.kind !== 'live') return;
    // Another node revoked it and relayed the event: that node writes the entry, not this one.
    deliver?.(
      JSON.parse(
        JSON.stringify(endEvent(endSession(lookup.record, 'revoked', t.clock.now()), t.clock.now())),
      ),
    );
    assert.ok(
      t.seen.some((e) => e.type === 'session.revoked'),
      'the relayed event reached the bus',
    );
    await t.app.vigil.audit?.flush();
    assert.deepEqual((await audit(t.app)).body.entries, []);
    assert.equal(t.app.vigil.audit?.stats().written, 0);
    unbridge();
    await t.app.close();
  });
});

describe('GET /v1/audit: paging and retention', () => {
  it('pages newest first with a cursor, every entry once, nextCursor null on the last page', async () => {
    const t = await makeApp();
    const ids: string[] = [];
    for (let i = 0; i < 11; i++) {
      const { id } = await createSession(t.app, { subject: i % 2 === 0 ? 'even' : 'odd' });
      ids.push(id);
      // Pairs end at the same instant: ties are ordered too.
      if (i % 2 === 1) t.clock.advance(SECOND);
      await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    }
    const everything = await allEntries(t.app, 'limit=100');
    assert.equal(everything.length, 11);
    for (const limit of [1, 3, 4, 11]) {
      assert.deepEqual(await allEntries(t.app, `limit=${limit}`), everything, `limit ${limit}`);
    }
    const times = everything.map((e) => Date.parse(e.endedAt));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      'newest first',
    );
    assert.deepEqual(
      await allEntries(t.app, 'subject=even&limit=2'),
      everything.filter((e) => e.subject === 'even'),
    );
    const first = await audit(t.app, '?limit=11');
    assert.equal(first.body.nextCursor, null);
    const short = await audit(t.app, '?limit=10');
    assert.equal(typeof short.body.nextCursor, 'string');
    await t.app.close();
  });

  it('purges entries older than audit.retention, and only those', async () => {
    const t = await makeApp({ config: { ...TEST_CONFIG, audit: { retention: '1h' } } });
    const old = await createSession(t.app, { subject: 'hal' });
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${old.id}`, headers: backend });
    t.clock.advance(30 * 60 * SECOND);
    const recent = await createSession(t.app, { subject: 'hal' });
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${recent.id}`, headers: backend });
    await t.app.vigil.audit?.flush();
    assert.equal(await t.app.vigil.audit?.purge(), 0, 'nothing is an hour old yet');
    t.clock.advance(31 * 60 * SECOND);
    assert.equal(await t.app.vigil.audit?.purge(), 1);
    assert.deepEqual(
      (await audit(t.app, '?subject=hal')).body.entries.map((e) => e.sessionId),
      [recent.id],
    );
    await t.app.close();
  });

  it('the housekeeping timer purges once the app is ready', async () => {
    const log = new MemoryAuditLog();
    await log.append([
      { sessionId: 'old', subject: 'ivy', policy: 'default', reason: 'logout', actor: 'user', endedAt: 0 },
    ]);
    const t = await makeApp({ auditLog: log, sweeper: { intervalMs: 60_000 } });
    const deadline = Date.now() + 5000;
    while (log.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(log.size, 0);
    await t.app.close();
  });
});

describe('GET /v1/audit: refusals', () => {
  it('needs the API key', async () => {
    const t = await makeApp();
    const { token } = await createSession(t.app);
    for (const headers of [{}, bearer(token), { authorization: 'Bearer wrong-key-0123456789' }]) {
      const response = await t.app.inject({ method: 'GET', url: '/v1/audit', headers });
      assert.equal(response.statusCode, 401);
      assert.equal(errorCode(response), 'unauthenticated');
    }
    await t.app.close();
  });

  it('refuses bad parameters with 400 validation_failed naming the field', async () => {
    const t = await makeApp();
    const cases: [string, string][] = [
      ['?limit=0', 'querystring.limit'],
      ['?limit=1001', 'querystring.limit'],
      ['?limit=abc', 'querystring.limit'],
      ['?limit=1.5', 'querystring.limit'],
      ['?limit=-1', 'querystring.limit'],
      ['?limit=01', 'querystring.limit'],
      ['?limit=1&limit=2', 'querystring.limit'],
      ['?subject=', 'querystring.subject'],
      [`?subject=${'x'.repeat(257)}`, 'querystring.subject'],
      ['?cursor=!!', 'querystring.cursor'],
      ['?cursor=bm90LWEtY3Vyc29y', 'querystring.cursor'],
      [`?cursor=${encodeAuditCursor({ endedAt: 1, sessionId: 'x' })}x`, 'querystring.cursor'],
      ['?sort=asc', 'querystring.sort'],
    ];
    for (const [query, field] of cases) {
      const response = await t.app.inject({ method: 'GET', url: `/v1/audit${query}`, headers: backend });
      assert.equal(response.statusCode, 400, query);
      assert.equal(errorCode(response), 'validation_failed', query);
      assert.equal(response.json().error.details[0].field, field, query);
    }
    await t.app.close();
  });

  it('answers 404 when the server keeps no audit trail', async () => {
    const t = await makeApp({ auditLog: false });
    const response = await t.app.inject({ method: 'GET', url: '/v1/audit', headers: backend });
    assert.equal(response.statusCode, 404);
    assert.equal(errorCode(response), 'not_found');
    assert.equal(t.app.vigil.audit, null);
    await t.app.close();
  });

  it('a log outage answers 503 with Retry-After; ends wait and are written once it is back', async () => {
    const inner = new MemoryAuditLog();
    let down = true;
    const log: AuditLog = {
      append: (entries) => (down ? Promise.reject(new Error('connection refused')) : inner.append(entries)),
      query: (query) => (down ? new Promise(() => {}) : inner.query(query)),
      purge: (olderThan) => inner.purge(olderThan),
      close: () => inner.close(),
    };
    const t = await makeApp({
      auditLog: log,
      config: { ...TEST_CONFIG, storeTimeout: '50ms' },
      auditTrail: { retryDelayMs: 5, flushDelayMs: 1 },
    });
    const { id } = await createSession(t.app, { subject: 'jo' });
    await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    const response = await t.app.inject({ method: 'GET', url: '/v1/audit', headers: backend });
    assert.equal(response.statusCode, 503);
    assert.equal(errorCode(response), 'store_unavailable');
    assert.ok(Number(response.headers['retry-after']) >= 1);
    assert.equal(t.app.vigil.audit?.stats().pending, 1);
    down = false;
    await t.app.vigil.audit?.flush();
    assert.deepEqual(
      (await audit(t.app)).body.entries.map((e) => e.sessionId),
      [id],
    );
    assert.deepEqual(t.app.vigil.audit?.stats(), { written: 1, pending: 0, dropped: 0 });
    await t.app.close();
  });

  it('any query string answers 200 with at most `limit` entries, or 400 validation_failed (property)', async () => {
    const t = await makeApp();
    for (let i = 0; i < 5; i++) {
      const { id } = await createSession(t.app, { subject: `p${i % 2}` });
      t.clock.advance(SECOND);
      await t.app.inject({ method: 'DELETE', url: `/v1/sessions/${id}`, headers: backend });
    }
    const validCursor = (await audit(t.app, '?limit=2')).body.nextCursor ?? '';
    const value = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.integer({ min: -5, max: 2000 }).map(String),
      fc.constantFrom('p0', 'p1', validCursor, `${validCursor}A`, '', '%00', '1e2', ' 5'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('subject', 'limit', 'cursor', 'other'), value, { maxKeys: 4 }),
        async (params) => {
          const query = new URLSearchParams(params).toString();
          const response = await t.app.inject({ method: 'GET', url: `/v1/audit?${query}`, headers: backend });
          if (response.statusCode === 400) {
            assert.equal(errorCode(response), 'validation_failed');
            return;
          }
          assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
          const body = response.json();
          const limit = params.limit === undefined ? 100 : Number(params.limit);
          assert.ok(Number.isInteger(limit) && limit >= 1 && limit <= 1000, `accepted limit ${params.limit}`);
          assert.ok(body.entries.length <= limit);
          if (params.subject !== undefined) {
            assert.ok(body.entries.every((e: EntryView) => e.subject === params.subject));
          }
        },
      ),
      { numRuns: 300 },
    );
    assert.equal(t.app.vigil.audit?.stats().written, 5, 'queries write nothing');
    await t.app.close();
  });
});

void API_KEY;
