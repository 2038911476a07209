import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { endEvent, isVigilError, type SessionEvent, touchParams } from '@vigil/core';
import { conformancePolicy, newRecord } from '@vigil/core/conformance';
import { PostgresStore } from '../src/index.js';
import { type PostgresServer, startPostgres, uniqueSchema } from './postgres-server.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const TIMEOUT = 500;
/** What a failing call may take beyond its budget (timers, a loaded machine). */
const SLACK = 400;

/** Resolves with how long the call took to fail; fails the test if it succeeds or fails otherwise. */
async function failsUnavailable(call: () => Promise<unknown>, what: string): Promise<number> {
  const started = performance.now();
  await assert.rejects(call(), (error: unknown) => {
    assert.ok(isVigilError(error), `${what}: ${String(error)}`);
    assert.equal(error.code, 'store_unavailable', what);
    assert.equal(error.status, 503);
    assert.ok(((error as { retryAfterMs?: number }).retryAfterMs ?? 0) > 0, 'says when to retry');
    return true;
  });
  return performance.now() - started;
}

/** Retries `call` until it succeeds; fails if that takes longer than `withinMs`. */
async function recovers<T>(call: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('PostgresStore when PostgreSQL fails', () => {
  let server: PostgresServer;
  const opened: PostgresStore[] = [];
  const errors: unknown[] = [];
  const open = (schema: string) => {
    const store = PostgresStore.fromUrl(server.url, {
      schema,
      queryTimeoutMs: TIMEOUT,
      maxConnections: 4,
      onError: (error) => errors.push(error),
    });
    opened.push(store);
    return store;
  };
  // Outages must surface as rejected calls and `onError` reports, never as a process-level event.
  const unhandled: unknown[] = [];
  const onUnhandled = (error: unknown) => unhandled.push(error);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    server = await startPostgres();
  });
  after(async () => {
    server?.resume();
    await Promise.all(opened.map((store) => store.close()));
    await server?.stop();
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    assert.deepEqual(unhandled, [], 'no unhandled rejection or exception');
  });

  it('answers store_unavailable within the timeout while the database is down, then recovers without a new store', async () => {
    const schema = uniqueSchema();
    const store = open(schema);
    const peer = open(schema);
    const heard: SessionEvent[] = [];
    peer.onRemoteEvent((event) => heard.push(event));
    await Promise.all([store.migrate(), peer.remoteEventsReady()]);
    const record = newRecord();
    await store.create(record, { maxSessions: null }); // acknowledged: must survive the crash
    await store.get(record.id, T0 + 1000); // a pooled connection is idle when the server dies

    await server.crash(); // pg_ctl stop -m immediate
    const never = open(uniqueSchema()); // a node that starts while the database is down

    const calls: [string, () => Promise<unknown>][] = [
      ['get', () => store.get(record.id, T0 + 1000)],
      ['touch', () => store.touch(record.id, touchParams(conformancePolicy, 'active', T0 + 1000))],
      ['create', () => store.create(newRecord('bob'), { maxSessions: null })],
      ['create evicting', () => store.create(newRecord('bob'), { maxSessions: 2 })],
      ['end', () => store.end(record.id, 'revoked', T0 + 1000)],
      ['endAllForSubject', () => store.endAllForSubject('alice', 'revoked', T0 + 1000)],
      ['claimExpired', () => store.claimExpired(T0 + 3_600_000, 100)],
      ['claimWarnings', () => store.claimWarnings(T0 + 3_600_000, 100)],
      ['publish', () => store.publish(endEvent(record, T0))],
      ['ping', () => store.ping()],
      ['ping before the first connection', () => never.ping()],
      ['migrate before the first connection', () => never.migrate()],
    ];
    const elapsed = await Promise.all(calls.map(([what, call]) => failsUnavailable(call, what)));
    for (const [i, ms] of elapsed.entries()) {
      assert.ok(ms < TIMEOUT + SLACK, `${calls[i]?.[0]} took ${Math.round(ms)} ms`);
    }

    await server.start();
    const started = performance.now();
    const lookup = await recovers(() => store.get(record.id, T0 + 2000), 5000);
    assert.ok(performance.now() - started < 5000);
    assert.equal(lookup.kind, 'live', 'the acknowledged creation survived');
    const touched = await store.touch(record.id, touchParams(conformancePolicy, 'active', T0 + 3000));
    assert.equal(touched.kind, 'live');
    await recovers(() => never.ping(), 5000); // migrates its schema now

    // The listener lost its connection with the server; it listens again by itself.
    await peer.remoteEventsReady();
    await store.publish(endEvent(record, T0 + 4000));
    const deadline = Date.now() + 1000;
    while (heard.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(heard.length, 1, 'the event after the restart reached the other node');
    assert.ok(errors.length > 0, 'connection losses were reported to onError');
  });

  it('answers store_unavailable within the timeout while the database is frozen, then recovers', async () => {
    const store = open(uniqueSchema());
    const record = newRecord();
    await store.migrate();
    await store.create(record, { maxSessions: null });
    // Four calls at once: the pool opens all its four connections, which stay idle afterwards.
    await Promise.all([0, 1, 2, 3].map(() => store.get(record.id, T0)));
    assert.equal(store.poolStats.idle, 4);

    server.pause(); // SIGSTOP: connections stay open, nothing answers, new connections hang
    try {
      // The first four take the idle connections and send their first statement; the rest wait
      // for a connection.
      const calls: [string, () => Promise<unknown>][] = [
        ['touch', () => store.touch(record.id, touchParams(conformancePolicy, 'active', T0 + 1000))],
        ['create evicting', () => store.create(newRecord('bob'), { maxSessions: 2 })],
        ['get', () => store.get(record.id, T0 + 1000)],
        // (Nothing is due: a claim that timed out may still run once the server thaws.)
        ['claimExpired', () => store.claimExpired(T0, 100)],
        ['ping', () => store.ping()],
      ];
      // More calls than the pool has connections: the ones waiting for a connection are bounded too.
      const all = [...calls, ...calls];
      const elapsed = await Promise.all(all.map(([what, call]) => failsUnavailable(call, what)));
      for (const [i, ms] of elapsed.entries()) {
        assert.ok(ms < TIMEOUT + SLACK, `${all[i]?.[0]} took ${Math.round(ms)} ms`);
      }
    } finally {
      server.resume();
    }
    const lookup = await recovers(() => store.get(record.id, T0 + 2000), 5000);
    assert.equal(lookup.kind, 'live');
    // The calls that timed out had sent their first statement; once the server thawed those
    // completed, but none went on to its next one: the touch did not write, the creation did not
    // happen.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await store.get(record.id, T0 + 2000);
    assert.equal(
      after.kind === 'live' && after.record.lastActivityAt,
      T0,
      'the timed-out touch wrote nothing',
    );
    assert.deepEqual(
      await store.listBySubject('bob', T0 + 2000),
      [],
      'the timed-out creation did not happen',
    );
    assert.ok(store.poolStats.total <= 4);
  });

  it('answers store_unavailable when a row stays locked past the timeout, and keeps its connections', async () => {
    const schema = uniqueSchema();
    const store = open(schema);
    const record = newRecord();
    await store.migrate();
    await store.create(record, { maxSessions: null });
    await store.claimWarnings(T0, 10); // a connection is open and idle

    const admin = await server.admin();
    try {
      await admin.query('BEGIN');
      await admin.query(`SELECT 1 FROM ${schema}.vigil_sessions WHERE id = $1 FOR UPDATE`, [record.id]);
      // The store's read does not wait for the lock; its conditional write does, until
      // statement_timeout cancels it on the server.
      const ms = await failsUnavailable(
        () => store.touch(record.id, touchParams(conformancePolicy, 'active', T0 + 5000)),
        'touch on a locked row',
      );
      assert.ok(ms < TIMEOUT + SLACK, `took ${Math.round(ms)} ms`);
      const lookup = await store.get(record.id, T0 + 5000); // reads never wait for row locks
      assert.equal(lookup.kind, 'live');
    } finally {
      await admin.query('ROLLBACK');
      await admin.end();
    }
    const touched = await store.touch(record.id, touchParams(conformancePolicy, 'active', T0 + 6000));
    assert.equal(touched.kind === 'live' && touched.record.lastActivityAt, T0 + 6000);
  });

  it('survives the database shutting down just as the store closes', async () => {
    const store = open(uniqueSchema());
    await store.migrate();
    await Promise.all([0, 1, 2, 3].map(() => store.ping())); // four open connections
    // Frozen, the server reads none of the goodbyes `close()` sends, so the connections are still
    // open when `close()` resolves; then a fast shutdown (SIGINT to the postmaster) makes every
    // backend send "terminating connection due to administrator command" as it thaws.
    server.pause();
    const [postmaster] = server.pids();
    try {
      await store.close();
      if (postmaster !== undefined) process.kill(postmaster, 'SIGINT');
    } finally {
      server.resume();
    }
    await server.exited();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(unhandled, [], 'no unhandled rejection or exception');
    await server.start();
  });
});
