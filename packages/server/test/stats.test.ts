import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ManualClock } from '@vigil/core';
import { type SessionEvents, type Store, Sweeper } from '@vigil/core';
import {
  backend,
  bearer,
  createSession,
  errorCode,
  faultyStore,
  heartbeat,
  makeApp,
  type TestApp,
} from './helpers.js';

/** TEST_CONFIG: `default` 10 s idle, warned 2 s before; `admin` 5 s idle, warned 1 s before. */

async function stats(t: TestApp) {
  const response = await t.app.inject({ method: 'GET', url: '/v1/stats', headers: backend });
  assert.equal(response.statusCode, 200, response.body);
  return response.json();
}

/** Live counts of the named policies as `{policy: [active, warning]}`. */
async function live(t: TestApp, ...policies: string[]) {
  const body = await stats(t);
  const rows = new Map(
    body.live.byPolicy.map((row: { policy: string; active: number; warning: number }) => [row.policy, row]),
  );
  return Object.fromEntries(
    policies.map((policy) => {
      const row = rows.get(policy) as { active: number; warning: number } | undefined;
      return [policy, row === undefined ? null : [row.active, row.warning]];
    }),
  );
}

/** The sweeper's round, run by hand at the test's clock (the app's own sweeper is off). */
function sweeper(store: Store, clock: ManualClock, events: SessionEvents) {
  return new Sweeper({ store, clock, events });
}

describe('GET /v1/stats', () => {
  test('takes the API key only', async () => {
    const t = await makeApp();
    const { token } = await createSession(t.app);
    for (const headers of [{}, bearer(token), { authorization: 'Bearer wrong-key-0123456789' }]) {
      const response = await t.app.inject({ method: 'GET', url: '/v1/stats', headers });
      assert.equal(response.statusCode, 401);
      assert.equal(errorCode(response), 'unauthenticated');
    }
    await t.app.close();
  });

  test('counts live sessions by policy and state, following warnings, extensions and ends', async () => {
    const t = await makeApp();
    const sweep = sweeper(t.store, t.clock, t.events);
    const alice = await createSession(t.app, { subject: 'alice' });
    await createSession(t.app, { subject: 'bob' });
    const carol = await createSession(t.app, { subject: 'carol', policy: 'admin' });
    assert.deepEqual(await live(t, 'default', 'admin'), { default: [2, 0], admin: [1, 0] });
    const first = await stats(t);
    assert.equal(first.live.total, 3);
    assert.deepEqual(
      first.policies.find((policy: { name: string }) => policy.name === 'admin'),
      { name: 'admin', idleTimeoutMs: 5000, absoluteTimeoutMs: 30_000, warnBeforeMs: 1000 },
    );

    t.clock.advance(4200); // admin warns at 4 s
    await sweep.sweep();
    assert.deepEqual(await live(t, 'default', 'admin'), { default: [2, 0], admin: [0, 1] });

    assert.equal((await heartbeat(t.app, carol.token)).statusCode, 200); // extends it: active again
    assert.deepEqual(await live(t, 'default', 'admin'), { default: [2, 0], admin: [1, 0] });

    t.clock.advance(3900); // 8.1 s: default warns at 8 s (carol, extended at 4.2 s, at 8.2 s)
    await sweep.sweep();
    assert.deepEqual(await live(t, 'default', 'admin'), { default: [0, 2], admin: [1, 0] });

    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/v1/sessions/${alice.id}`,
      headers: backend,
    });
    assert.equal(revoked.statusCode, 204);
    assert.deepEqual(await live(t, 'default', 'admin'), { default: [0, 1], admin: [1, 0] });

    t.clock.advance(2100); // 10.2 s: bob's idle deadline (10 s) has passed, carol's (9.2 s) too
    await sweep.sweep();
    const after = await stats(t);
    assert.equal(after.live.total, 0);
    assert.deepEqual(await live(t, 'default', 'admin'), { default: [0, 0], admin: [0, 0] });
    assert.equal(after.totals.created, 3);
    assert.equal(after.totals.ended.idle_timeout, 2);
    assert.equal(after.totals.ended.revoked, 1);
    assert.equal(after.totals.ended.logout, 0);
    assert.deepEqual(after.totals.heartbeats, { active: 1, sleeping: 0 });
    await t.app.close();
  });

  test('the last hour in 10 s buckets, oldest first; totals since start stay', async () => {
    const t = await makeApp();
    const startedAt = t.clock.now();
    const { token } = await createSession(t.app);
    await heartbeat(t.app, token, { state: 'active' });
    await heartbeat(t.app, token, { state: 'sleeping' });
    t.clock.advance(5000);
    await heartbeat(t.app, token, { state: 'active' });
    t.clock.advance(4000);
    // Refused heartbeats are not counted.
    assert.equal((await heartbeat(t.app, 'vgl_unknown-token-000000000000000000000000000')).statusCode, 401);
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: '/v1/subjects/alice/sessions',
      headers: backend,
    });
    assert.equal(revoked.json().revoked, 1);

    const now = t.clock.now();
    const body = await stats(t);
    const { recent } = body;
    assert.equal(recent.bucketMs, 10_000);
    assert.equal(recent.heartbeats.length, 360);
    const lastBucketStart = Math.floor(now / 10_000) * 10_000;
    assert.equal(Date.parse(recent.from), lastBucketStart - 359 * 10_000);
    const bucketOf = (time: number) => 359 - (lastBucketStart - Math.floor(time / 10_000) * 10_000) / 10_000;
    const expected = new Array(360).fill(0);
    for (const time of [startedAt, startedAt, startedAt + 5000]) expected[bucketOf(time)]++;
    assert.deepEqual(recent.heartbeats, expected);
    const ends = new Array(360).fill(0);
    ends[359] = 1;
    assert.deepEqual(recent.revoked, ends);
    assert.deepEqual(recent.expired, new Array(360).fill(0));
    assert.deepEqual(body.totals.heartbeats, { active: 2, sleeping: 1 });
    assert.equal(body.startedAt, new Date(startedAt).toISOString());
    assert.equal(body.serverTime, new Date(now).toISOString());

    t.clock.advance(3_600_000);
    const later = await stats(t);
    assert.deepEqual(later.recent.heartbeats, new Array(360).fill(0), 'an hour later, the window is empty');
    assert.deepEqual(later.totals.heartbeats, { active: 2, sleeping: 1 });
    await t.app.close();
  });

  test('answers 503 when the store cannot count', async () => {
    const store = faultyStore();
    const t = await makeApp({ store });
    store.mode = 'throw';
    const response = await t.app.inject({ method: 'GET', url: '/v1/stats', headers: backend });
    assert.equal(response.statusCode, 503);
    assert.equal(errorCode(response), 'store_unavailable');
    assert.ok(response.headers['retry-after']);
    await t.app.close();
  });
});
