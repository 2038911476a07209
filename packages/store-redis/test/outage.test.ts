import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isVigilError, touchParams } from '@vigil/core';
import { conformancePolicy, newRecord } from '@vigil/core/conformance';
import { RedisStore } from '../src/index.js';
import { type RedisServer, startRedis, uniquePrefix } from './redis-server.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const TIMEOUT = 400;

/** Resolves with how long the call took to fail; fails the test if it succeeds or fails otherwise. */
async function failsUnavailable(call: () => Promise<unknown>, what: string): Promise<number> {
  const started = performance.now();
  await assert.rejects(call(), (error: unknown) => {
    assert.ok(isVigilError(error), `${what}: ${String(error)}`);
    assert.equal(error.code, 'store_unavailable', what);
    assert.equal(error.status, 503);
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

describe('RedisStore when Redis fails', () => {
  let server: RedisServer | undefined;
  const opened: RedisStore[] = [];
  const open = () => {
    const store = RedisStore.fromUrl(server?.url ?? '', {
      keyPrefix: uniquePrefix(),
      commandTimeoutMs: TIMEOUT,
    });
    opened.push(store);
    return store;
  };

  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await Promise.all(opened.map((store) => store.close()));
    await server?.stop();
  });

  it('answers store_unavailable within the command timeout while Redis is frozen, then resumes', async (t) => {
    const store = open();
    const record = newRecord();
    await store.create(record, { maxSessions: null });
    server?.pause();
    t.after(() => server?.resume());

    const calls: [string, () => Promise<unknown>][] = [
      ['get', () => store.get(record.id, T0 + 1000)],
      ['touch', () => store.touch(record.id, touchParams(conformancePolicy, 'active', T0 + 1000))],
      ['create', () => store.create(newRecord('bob'), { maxSessions: 2 })],
      // (A call that timed out may still be applied once Redis runs again, like any lost reply.)
      ['end', () => store.end('another-session', 'revoked', T0 + 1000)],
      ['claimExpired', () => store.claimExpired(T0 + 3_600_000, 100)],
      ['ping', () => store.ping()],
    ];
    const elapsed = await Promise.all(calls.map(([what, call]) => failsUnavailable(call, what)));
    for (const [i, ms] of elapsed.entries()) {
      assert.ok(ms < TIMEOUT + 300, `${calls[i]?.[0]} took ${Math.round(ms)} ms`);
    }

    server?.resume();
    const lookup = await recovers(() => store.get(record.id, T0 + 2000), 2000);
    assert.equal(lookup.kind, 'live', 'no session lost');
  });

  it('recovers without a new store instance when Redis is killed and restarted', async () => {
    const store = open();
    await store.create(newRecord(), { maxSessions: null });
    await server?.kill();

    const elapsed = await failsUnavailable(() => store.get('any', T0), 'get while Redis is down');
    assert.ok(elapsed < TIMEOUT + 300, `took ${Math.round(elapsed)} ms`);
    await failsUnavailable(
      () => store.create(newRecord(), { maxSessions: null }),
      'create while Redis is down',
    );
    await failsUnavailable(() => store.ping(), 'ping while Redis is down');

    await server?.restart();
    const started = performance.now();
    const record = newRecord();
    await recovers(() => store.create(record, { maxSessions: null }), 5000);
    assert.ok(performance.now() - started < 5000);
    assert.equal((await store.get(record.id, T0 + 1000)).kind, 'live');
    await store.ping();
  });

  it('fails fast while Redis has never been reachable, and serves once it is', async () => {
    const down = server as RedisServer;
    await down.kill();
    const store = open();
    await failsUnavailable(() => store.get('any', T0), 'get before the first connection');
    await down.restart();
    const record = newRecord();
    await recovers(() => store.create(record, { maxSessions: null }), 5000);
    assert.equal((await store.get(record.id, T0)).kind, 'live');
  });
});
