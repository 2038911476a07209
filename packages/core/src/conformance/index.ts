import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { touchParams } from '../lifecycle.js';
import { resolvePolicy } from '../policy.js';
import type { Store } from '../store.js';
import { conformancePolicy, newRecord, T0 } from './fixtures.js';
import { runRandomHistory } from './random-history.js';

export {
  type AuditLogFactory,
  type AuditLogUnderTest,
  allPages,
  auditEntry,
  describeAuditLogConformance,
} from './audit-log.js';
export { conformancePolicy, newRecord, T0 } from './fixtures.js';
export { prng } from './prng.js';
export {
  describeTokenStoreConformance,
  signingKey,
  type TokenStoreFactory,
  type TokenStoreUnderTest,
} from './token-store.js';
export { runTouchBursts, touchSummary } from './touch-bursts.js';

export interface StoreUnderTest {
  store: Store;
  /** Stops what the factory started (a server, a file); called once per test. */
  cleanup(): Promise<void>;
}

/** Builds a fresh, empty store for one test. */
export type StoreFactory = () => Promise<StoreUnderTest>;

const SECOND = 1000;
const active = (now: number) => touchParams(conformancePolicy, 'active', now);
const sleeping = (now: number) => touchParams(conformancePolicy, 'sleeping', now);

/**
 * The Store contract as tests, run by every store against its real backend. Times are explicit
 * (`now` arguments), so the suite never sleeps and a store needs no clock of its own.
 */
export function describeStoreConformance(name: string, factory: StoreFactory): void {
  const withStore = (title: string, body: (store: Store) => Promise<void>) =>
    it(title, async () => {
      const { store, cleanup } = await factory();
      try {
        await body(store);
      } finally {
        await cleanup();
      }
    });

  describe(`Store conformance: ${name}`, () => {
    withStore('creates a session and reads it back unchanged', async (store) => {
      const record = newRecord();
      assert.deepEqual(await store.create(record, { maxSessions: null }), { evicted: [] });
      assert.deepEqual(await store.get(record.id, T0 + SECOND), { kind: 'live', record });
    });

    withStore('answers unknown for an id it never stored', async (store) => {
      assert.deepEqual(await store.get('no-such-id', T0), { kind: 'unknown' });
      assert.deepEqual(await store.touch('no-such-id', active(T0)), { kind: 'unknown' });
      assert.deepEqual(await store.end('no-such-id', 'revoked', T0), { kind: 'unknown' });
    });

    withStore('keeps attributes as JSON, nested values included', async (store) => {
      const record = {
        ...newRecord(),
        attributes: { role: 'admin', n: 3, deep: { list: [1, 'two', null] } },
      };
      await store.create(record, { maxSessions: null });
      const lookup = await store.get(record.id, T0);
      assert.equal(lookup.kind, 'live');
      assert.deepEqual(lookup.kind === 'live' && lookup.record.attributes, record.attributes);
    });

    withStore('an active touch moves the idle deadline; a sleeping one only lastSeenAt', async (store) => {
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      const slept = await store.touch(record.id, sleeping(T0 + 30 * SECOND));
      assert.equal(slept.kind, 'live');
      assert.equal(slept.kind === 'live' && slept.record.idleExpiresAt, record.idleExpiresAt);
      assert.equal(slept.kind === 'live' && slept.record.lastSeenAt, T0 + 30 * SECOND);
      const woke = await store.touch(record.id, active(T0 + 40 * SECOND));
      assert.equal(woke.kind === 'live' && woke.record.idleExpiresAt, T0 + 100 * SECOND);
      const read = await store.get(record.id, T0 + 99 * SECOND);
      assert.equal(read.kind, 'live');
      assert.equal(read.kind === 'live' && read.record.lastActivityAt, T0 + 40 * SECOND);
    });

    withStore('a session past its idle deadline is ended on the first read, exactly once', async (store) => {
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      const late = T0 + 61 * SECOND;
      const results = await Promise.all([store.get(record.id, late), store.get(record.id, late)]);
      assert.ok(results.every((r) => r.kind === 'ended'));
      assert.equal(results.filter((r) => r.kind === 'ended' && r.endedNow).length, 1);
      const ended = results[0];
      assert.equal(ended?.kind === 'ended' && ended.record.reason, 'idle_timeout');
      assert.equal(ended?.kind === 'ended' && ended.record.endedAt, record.idleExpiresAt);
    });

    withStore('a heartbeat after the deadline never revives the session', async (store) => {
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      const first = await store.touch(record.id, active(T0 + 60 * SECOND));
      assert.equal(first.kind, 'ended');
      assert.equal(first.kind === 'ended' && first.endedNow, true);
      const again = await store.touch(record.id, active(T0 + 61 * SECOND));
      assert.equal(again.kind === 'ended' && again.endedNow, false);
      assert.equal((await store.get(record.id, T0 + 62 * SECOND)).kind, 'ended');
    });

    withStore('the absolute deadline holds however active the user is', async (store) => {
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      for (let t = 50; t < 600; t += 50) {
        assert.equal((await store.touch(record.id, active(T0 + t * SECOND))).kind, 'live', `at ${t}s`);
      }
      const end = await store.touch(record.id, active(T0 + 600 * SECOND));
      assert.equal(end.kind === 'ended' && end.record.reason, 'absolute_timeout');
      assert.equal(end.kind === 'ended' && end.record.endedAt, record.absoluteExpiresAt);
    });

    withStore('ending is immediate, idempotent and keeps the first reason', async (store) => {
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      const revoked = await store.end(record.id, 'revoked', T0 + SECOND);
      assert.equal(revoked.kind === 'ended' && revoked.endedNow, true);
      assert.equal(revoked.kind === 'ended' && revoked.record.endedAt, T0 + SECOND);
      const twice = await store.end(record.id, 'logout', T0 + 2 * SECOND);
      assert.equal(twice.kind === 'ended' && twice.endedNow, false);
      assert.equal(twice.kind === 'ended' && twice.record.reason, 'revoked');
      const touched = await store.touch(record.id, active(T0 + 3 * SECOND));
      assert.equal(touched.kind === 'ended' && touched.record.reason, 'revoked');
    });

    withStore('ending an expired session reports the timeout, not the later reason', async (store) => {
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      const result = await store.end(record.id, 'revoked', T0 + 70 * SECOND);
      assert.equal(result.kind === 'ended' && result.record.reason, 'idle_timeout');
      assert.equal(result.kind === 'ended' && result.endedNow, true);
    });

    withStore('ends all live sessions of a subject and counts only those', async (store) => {
      const [a, b, c] = [newRecord('bob'), newRecord('bob', T0 + 1), newRecord('bob', T0 + 2)];
      const other = newRecord('carol');
      for (const r of [a, b, c, other]) if (r) await store.create(r, { maxSessions: null });
      await store.end(b?.id ?? '', 'logout', T0 + SECOND);
      const ended = await store.endAllForSubject('bob', 'revoked', T0 + 2 * SECOND);
      assert.deepEqual(ended.map((r) => r.id).sort(), [a?.id, c?.id].sort());
      assert.equal((await store.get(other.id, T0 + 3 * SECOND)).kind, 'live');
      assert.deepEqual(await store.endAllForSubject('bob', 'revoked', T0 + 3 * SECOND), []);
      assert.deepEqual(await store.endAllForSubject('nobody', 'revoked', T0), []);
    });

    withStore('lists a subject’s sessions oldest first, ended ones with their reason', async (store) => {
      const first = newRecord('dave', T0);
      const second = newRecord('dave', T0 + SECOND);
      await store.create(second, { maxSessions: null });
      await store.create(first, { maxSessions: null });
      await store.end(first.id, 'revoked', T0 + 2 * SECOND);
      const listed = await store.listBySubject('dave', T0 + 3 * SECOND);
      assert.deepEqual(
        listed.map((r) => [r.id, r.reason]),
        [
          [first.id, 'revoked'],
          [second.id, null],
        ],
      );
      assert.deepEqual(await store.listBySubject('nobody', T0), []);
    });

    withStore('maxSessions evicts the oldest live sessions of the subject', async (store) => {
      const sessions = [0, 1, 2].map((i) => newRecord('erin', T0 + i * SECOND));
      for (const s of sessions) await store.create(s, { maxSessions: 2 });
      const fourth = newRecord('erin', T0 + 3 * SECOND);
      const { evicted } = await store.create(fourth, { maxSessions: 2 });
      assert.deepEqual(
        evicted.map((r) => r.id),
        [sessions[1]?.id],
      );
      const states = await Promise.all([...sessions, fourth].map((s) => store.get(s.id, T0 + 4 * SECOND)));
      assert.deepEqual(
        states.map((s) => (s.kind === 'unknown' ? 'unknown' : (s.record.reason ?? 'live'))),
        ['evicted', 'evicted', 'live', 'live'],
      );
    });

    withStore('claims each expired session exactly once, even when claims race', async (store) => {
      const records = Array.from({ length: 30 }, (_, i) => newRecord(`u${i % 4}`, T0 + i * 10));
      for (const r of records) await store.create(r, { maxSessions: null });
      await store.end(records[0]?.id ?? '', 'revoked', T0 + SECOND);
      await store.touch(records[1]?.id ?? '', active(T0 + 30 * SECOND));
      assert.deepEqual(await store.claimExpired(T0 + 59 * SECOND, 100), []);
      const late = T0 + 62 * SECOND;
      const batches = await Promise.all([
        store.claimExpired(late, 7),
        store.claimExpired(late, 7),
        store.claimExpired(late, 7),
      ]);
      let claimed = batches.flat();
      while (true) {
        const more = await store.claimExpired(late, 7);
        if (more.length === 0) break;
        claimed = claimed.concat(more);
      }
      const ids = claimed.map((r) => r.id);
      assert.equal(new Set(ids).size, ids.length, 'no session claimed twice');
      assert.deepEqual(
        ids.sort(),
        records
          .slice(2)
          .map((r) => r.id)
          .sort(),
      );
      assert.ok(claimed.every((r) => r.reason === 'idle_timeout' && r.endedAt === r.idleExpiresAt));
    });

    withStore('claims absolute timeouts with their reason, the absolute one winning a tie', async (store) => {
      const tie = resolvePolicy('tie', { idleTimeout: '60s', absoluteTimeout: '60s', touchGranularity: 0 });
      const short = resolvePolicy('short', {
        idleTimeout: '60s',
        absoluteTimeout: '90s',
        touchGranularity: 0,
      });
      const tied = newRecord('ivy', T0, tie);
      const capped = newRecord('ivy', T0, short);
      await store.create(tied, { maxSessions: null });
      await store.create(capped, { maxSessions: null });
      await store.touch(capped.id, touchParams(short, 'active', T0 + 50 * SECOND));
      const first = await store.claimExpired(T0 + 60 * SECOND, 10);
      assert.deepEqual(
        first.map((r) => [r.id, r.reason, r.endedAt]),
        [[tied.id, 'absolute_timeout', T0 + 60 * SECOND]],
      );
      const second = await store.claimExpired(T0 + 95 * SECOND, 10);
      assert.deepEqual(
        second.map((r) => [r.id, r.reason, r.endedAt]),
        [[capped.id, 'absolute_timeout', T0 + 90 * SECOND]],
      );
    });

    withStore('an expiry recorded by a read is not claimed again by the sweeper', async (store) => {
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      await store.get(record.id, T0 + 61 * SECOND);
      assert.deepEqual(await store.claimExpired(T0 + 62 * SECOND, 10), []);
    });

    withStore('claims a warning once, and again after the session was extended', async (store) => {
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      assert.deepEqual(await store.claimWarnings(T0 + 49 * SECOND, 10), []);
      const warned = await store.claimWarnings(T0 + 50 * SECOND, 10);
      assert.deepEqual(
        warned.map((r) => r.id),
        [record.id],
      );
      assert.deepEqual(await store.claimWarnings(T0 + 55 * SECOND, 10), []);
      const extended = await store.touch(record.id, active(T0 + 55 * SECOND));
      assert.equal(extended.kind === 'live' && extended.extendedFromWarning, true);
      assert.deepEqual(await store.claimWarnings(T0 + 104 * SECOND, 10), []);
      assert.equal((await store.claimWarnings(T0 + 105 * SECOND, 10)).length, 1);
    });

    withStore('does not warn about ended sessions', async (store) => {
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      await store.end(record.id, 'logout', T0 + SECOND);
      assert.deepEqual(await store.claimWarnings(T0 + 55 * SECOND, 10), []);
    });

    withStore('purges sessions ended before the cutoff, and only those', async (store) => {
      const old = newRecord('frank');
      const recent = newRecord('frank');
      const live = newRecord('frank');
      for (const r of [old, recent, live]) await store.create(r, { maxSessions: null });
      await store.end(old.id, 'revoked', T0 + SECOND);
      await store.end(recent.id, 'revoked', T0 + 20 * SECOND);
      assert.equal(await store.purgeEnded(T0 + 10 * SECOND, 100), 1);
      assert.deepEqual(await store.get(old.id, T0 + 30 * SECOND), { kind: 'unknown' });
      assert.equal((await store.get(recent.id, T0 + 30 * SECOND)).kind, 'ended');
      assert.equal((await store.get(live.id, T0 + 30 * SECOND)).kind, 'live');
      assert.deepEqual(
        (await store.listBySubject('frank', T0 + 30 * SECOND)).map((r) => r.id).sort(),
        [recent.id, live.id].sort(),
      );
    });

    withStore('coalesced touches never make a session outlive its true deadline', async (store) => {
      const policy = resolvePolicy('coarse', {
        idleTimeout: '60s',
        absoluteTimeout: '10m',
        touchGranularity: '5s',
      });
      const record = newRecord('gina', T0, policy);
      await store.create(record, { maxSessions: null });
      const small = await store.touch(record.id, touchParams(policy, 'active', T0 + 2 * SECOND));
      assert.equal(small.kind === 'live' && small.record.idleExpiresAt, record.idleExpiresAt, 'skipped');
      const big = await store.touch(record.id, touchParams(policy, 'active', T0 + 6 * SECOND));
      assert.equal(big.kind === 'live' && big.record.idleExpiresAt, T0 + 66 * SECOND);
      assert.equal((await store.get(record.id, T0 + 66 * SECOND)).kind, 'ended');
    });

    withStore('counts live sessions by policy', async (store) => {
      const other = resolvePolicy('other', { idleTimeout: '30s', absoluteTimeout: '1h' });
      await store.create(newRecord('h1'), { maxSessions: null });
      await store.create(newRecord('h2'), { maxSessions: null });
      await store.create(newRecord('h3', T0, other), { maxSessions: null });
      const gone = newRecord('h4');
      await store.create(gone, { maxSessions: null });
      await store.end(gone.id, 'revoked', T0 + SECOND);
      assert.deepEqual(await store.countLive(T0 + 2 * SECOND), { default: 2, other: 1 });
    });

    withStore('answers ping while it is up', async (store) => {
      await store.ping();
    });

    withStore('matches the lifecycle model over a random history', async (store) => {
      await runRandomHistory(store, { seed: 20261122, steps: 400 });
    });
  });
}
