import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  applyTouch,
  endEvent,
  resolvePolicy,
  type SessionEvent,
  type SessionRecord,
  settle,
  type TouchParams,
  type TouchResult,
  touchParams,
} from '@vigil/core';
import { conformancePolicy, newRecord, prng, runTouchBursts } from '@vigil/core/conformance';
import { RedisStore } from '../src/index.js';
import { MAX_TOUCHES_PER_SCRIPT } from '../src/touch-batch.js';
import {
  flushScripts,
  keysByMaster,
  keysWithPrefix,
  masters,
  noscriptErrors,
  type RawClient,
  rawClient,
  waitUntil,
} from './helpers.js';
import { startCluster, startRedis, uniquePrefix } from './redis-server.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const RETENTION = 24 * 60 * MINUTE;
const active = (now: number) => touchParams(conformancePolicy, 'active', now);

/** Claims until nothing is left, `limit` at a time, like a sweeper does. */
async function drainExpired(store: RedisStore, now: number, limit: number): Promise<SessionRecord[]> {
  const claimed: SessionRecord[] = [];
  for (;;) {
    const batch = await store.claimExpired(now, limit);
    if (batch.length === 0) return claimed;
    claimed.push(...batch);
  }
}

async function drainWarnings(store: RedisStore, now: number, limit: number): Promise<SessionRecord[]> {
  const claimed: SessionRecord[] = [];
  for (;;) {
    const batch = await store.claimWarnings(now, limit);
    if (batch.length === 0) return claimed;
    claimed.push(...batch);
  }
}

const sortedIds = (records: { id: string }[]) => records.map((r) => r.id).sort();

function assertNoDuplicates(records: { id: string }[], what: string) {
  const ids = records.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, `${what}: an id was claimed twice`);
}

/** What a touch answers, from core's lifecycle (the model every store restates). */
function expectedTouch(record: SessionRecord | undefined, params: TouchParams): TouchResult {
  if (record === undefined) return { kind: 'unknown' };
  const decision = applyTouch(record, params);
  return decision.kind === 'ended'
    ? { kind: 'ended', record: decision.record, endedNow: decision.endedNow }
    : { kind: 'live', record: decision.record, extendedFromWarning: decision.extendedFromWarning };
}

/** Session scripts Redis has run (EVAL and EVALSHA calls), summed over masters. */
async function scriptCalls(client: RawClient): Promise<number> {
  const counts = await Promise.all(
    masters(client).map(async (node) => {
      const info = await node.info('commandstats');
      const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
      return calls('eval') + calls('evalsha');
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** The behaviour beyond the Store contract, the same on standalone Redis and on a cluster. */
function describeRedisBehaviour(
  name: string,
  start: () => Promise<{ url: string; stop(): Promise<void> }>,
  { cluster }: { cluster: boolean },
) {
  describe(name, () => {
    let url = '';
    let stop: () => Promise<void> = async () => {};
    let raw: RawClient | undefined;
    const opened: RedisStore[] = [];
    /** A store instance: one per simulated Vigil node. */
    const node = (prefix: string) => {
      const store = RedisStore.fromUrl(url, { keyPrefix: prefix });
      opened.push(store);
      return store;
    };
    const redis = () => {
      if (raw === undefined) throw new Error('no raw client');
      return raw;
    };

    before(async () => {
      ({ url, stop } = await start());
      raw = await rawClient(url);
    });
    after(async () => {
      await Promise.all(opened.map((store) => store.close()));
      raw?.disconnect();
      await stop();
    });

    it('claims each expired session and each warning exactly once across three nodes', async () => {
      const prefix = uniquePrefix();
      const nodes = [node(prefix), node(prefix), node(prefix)];
      const records = Array.from({ length: 45 }, (_, i) => newRecord(`user${i % 6}`, T0 + i));
      await Promise.all(records.map((r, i) => nodes[i % 3]?.create(r, { maxSessions: null })));
      const extended = records.filter((_, i) => i % 5 === 0);
      await Promise.all(extended.map((r, i) => nodes[(i + 1) % 3]?.touch(r.id, active(T0 + 30 * SECOND))));

      const warned = (await Promise.all(nodes.map((n) => drainWarnings(n, T0 + 55 * SECOND, 4)))).flat();
      assertNoDuplicates(warned, 'warnings');
      assert.deepEqual(sortedIds(warned), sortedIds(records.filter((r) => !extended.includes(r))));

      const expired = (await Promise.all(nodes.map((n) => drainExpired(n, T0 + 70 * SECOND, 4)))).flat();
      assertNoDuplicates(expired, 'expiries');
      assert.deepEqual(sortedIds(expired), sortedIds(records.filter((r) => !extended.includes(r))));
      assert.ok(expired.every((r) => r.reason === 'idle_timeout' && r.endedAt === r.idleExpiresAt));

      const later = (await Promise.all(nodes.map((n) => drainExpired(n, T0 + 91 * SECOND, 2)))).flat();
      assertNoDuplicates(later, 'later expiries');
      assert.deepEqual(sortedIds(later), sortedIds(extended));
      assert.deepEqual(await nodes[0]?.countLive(T0 + 91 * SECOND), {});
    });

    it('keeps maxSessions under concurrent creations on three nodes, and logs out everywhere once', async () => {
      const prefix = uniquePrefix();
      const nodes = [node(prefix), node(prefix), node(prefix)];
      const records = Array.from({ length: 15 }, (_, i) => newRecord('zed', T0 + i));
      const results = await Promise.all(records.map((r, i) => nodes[i % 3]?.create(r, { maxSessions: 2 })));
      const evicted = results.flatMap((result) => result?.evicted ?? []);
      assertNoDuplicates(evicted, 'evictions');
      assert.ok(evicted.every((r) => r.reason === 'evicted'));
      const states = await Promise.all(records.map((r) => nodes[0]?.get(r.id, T0 + SECOND)));
      const live = records.filter((_, i) => states[i]?.kind === 'live');
      assert.equal(live.length, 2);
      assert.deepEqual(sortedIds(evicted), sortedIds(records.filter((r) => !live.includes(r))));

      const revoked = (
        await Promise.all(nodes.map((n) => n.endAllForSubject('zed', 'revoked', T0 + 2 * SECOND)))
      ).flat();
      assert.deepEqual(sortedIds(revoked), sortedIds(live));
      assert.deepEqual(await nodes[1]?.countLive(T0 + 2 * SECOND), {});
    });

    it('reports an expiry that passed while every node was down, once, when nodes come back', async () => {
      const prefix = uniquePrefix();
      const before = [node(prefix), node(prefix)];
      const records = Array.from({ length: 12 }, (_, i) => newRecord(`u${i % 3}`, T0));
      await Promise.all(records.map((r, i) => before[i % 2]?.create(r, { maxSessions: null })));
      // Three stay active to their absolute deadline (10 min): they end with absolute_timeout.
      const busy = records.slice(0, 3);
      for (let t = 50 * SECOND; t < 10 * MINUTE; t += 50 * SECOND) {
        await Promise.all(busy.map((r) => before[0]?.touch(r.id, active(T0 + t))));
      }
      await Promise.all(before.map((store) => store.close()));

      const after = [node(prefix), node(prefix)];
      const claimed = (await Promise.all(after.map((n) => drainExpired(n, T0 + 60 * MINUTE, 5)))).flat();
      assertNoDuplicates(claimed, 'expiries after downtime');
      assert.deepEqual(sortedIds(claimed), sortedIds(records));
      for (const record of claimed) {
        const wasBusy = busy.some((r) => r.id === record.id);
        assert.equal(record.reason, wasBusy ? 'absolute_timeout' : 'idle_timeout');
        assert.equal(record.endedAt, wasBusy ? record.absoluteExpiresAt : record.idleExpiresAt);
      }
      const lookup = await after[0]?.get(records[0]?.id ?? '', T0 + 61 * MINUTE);
      assert.equal(lookup?.kind === 'ended' && lookup.endedNow, false);
    });

    it('delivers an event published on one node to the other nodes within a second', async () => {
      const prefix = uniquePrefix();
      const [a, b, c] = [node(prefix), node(prefix), node(prefix)];
      const stranger = node(uniquePrefix());
      const heard = new Map<RedisStore, SessionEvent[]>();
      for (const store of [a, b, c, stranger]) {
        const events: SessionEvent[] = [];
        heard.set(store, events);
        store.onRemoteEvent((event) => events.push(event));
      }
      await Promise.all([a, b, c, stranger].map((store) => store.remoteEventsReady()));

      const record = newRecord();
      await a.create(record, { maxSessions: null });
      const revoked = await a.end(record.id, 'revoked', T0 + SECOND);
      assert.equal(revoked.kind, 'ended');
      const event = endEvent(revoked.kind === 'ended' ? revoked.record : record, T0 + SECOND);
      const started = performance.now();
      await a.publish(event);
      await waitUntil(
        'b and c heard the revocation',
        () => heard.get(b)?.length === 1 && heard.get(c)?.length === 1,
        1000,
      );
      assert.ok(performance.now() - started < 1000);
      assert.deepEqual(heard.get(b), [event]);
      assert.deepEqual(heard.get(c), [event]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(heard.get(a), [], 'a node does not hear its own events');
      assert.deepEqual(heard.get(stranger), [], 'another key prefix is another deployment');
    });

    it('leaves no key behind once every session is purged', async () => {
      const prefix = uniquePrefix();
      const store = node(prefix);
      const alice = [0, 1, 2].map((i) => newRecord('alice', T0 + i));
      const bob = [newRecord('bob'), newRecord('bob', T0 + 1)];
      const carol = newRecord('carol');
      const odd = newRecord('we{ird}:{subject');
      for (const r of alice) await store.create(r, { maxSessions: 2 });
      for (const r of [...bob, carol, odd]) await store.create(r, { maxSessions: null });
      assert.equal((await store.claimWarnings(T0 + 51 * SECOND, 100)).length, 6);
      await store.touch(carol.id, active(T0 + 55 * SECOND));
      await store.end(alice[2]?.id ?? '', 'logout', T0 + 56 * SECOND);
      assert.equal((await store.endAllForSubject('bob', 'revoked', T0 + 57 * SECOND)).length, 2);
      await store.get(odd.id, T0 + 61 * SECOND);
      await drainExpired(store, T0 + 60 * MINUTE, 100);
      assert.notDeepEqual(await keysWithPrefix(redis(), prefix), []);

      assert.equal(await store.purgeEnded(T0 + 2 * 60 * MINUTE, 1000), 7);
      assert.deepEqual(await store.listBySubject('alice', T0 + 2 * 60 * MINUTE), []);
      assert.deepEqual(await store.countLive(T0 + 2 * 60 * MINUTE), {});
      assert.deepEqual(await keysWithPrefix(redis(), prefix), []);
    });

    it('puts a TTL on every key it writes', async () => {
      const prefix = uniquePrefix();
      const store = node(prefix);
      const records = Array.from({ length: 8 }, (_, i) => newRecord(`s${i % 3}`, T0 + i));
      for (const r of records) await store.create(r, { maxSessions: 2 });
      await store.end(records[7]?.id ?? '', 'logout', T0 + SECOND);
      const coarse = resolvePolicy('coarse', { idleTimeout: '10s', absoluteTimeout: '1m', warnBefore: '2s' });
      const short = newRecord('s9', T0, coarse);
      await store.create(short, { maxSessions: null });
      await store.claimWarnings(T0 + 9 * SECOND, 10);
      await store.claimExpired(T0 + 11 * SECOND, 10);

      const keys = await keysWithPrefix(redis(), prefix);
      const kinds = new Set(keys.map((key) => key.slice(prefix.length).replace(/:.*$/, '')));
      assert.deepEqual([...kinds].sort(), ['count', 'deadline', 'purge', 's', 'sub', 'warning']);
      for (const key of keys) {
        const ttl = await redis().pttl(key);
        assert.ok(ttl > 0, `${key} has no TTL (${ttl})`);
      }
      const sessionTtl = await redis().pttl(`${prefix}s:{${records[0]?.id}}`);
      const expected = 10 * MINUTE + RETENTION;
      assert.ok(sessionTtl <= expected && sessionTtl > expected - MINUTE, `session TTL ${sessionTtl}`);
    });

    it('keeps a session of a lone subject in two compact keys (its hash and its subject)', async () => {
      const prefix = uniquePrefix();
      const store = node(prefix);
      const record = newRecord('solo', T0);
      await store.create(record, { maxSessions: 3 });
      const keys = await keysWithPrefix(redis(), prefix);
      const own = keys.filter((key) => !/:\{#\d+\}$/.test(key));
      const sessionKey = `${prefix}s:{${record.id}}`;
      const subjectKey = `${prefix}sub:{solo}`;
      assert.deepEqual(own, [sessionKey, subjectKey].sort(), 'one key for the session, one for its subject');
      // Redis' compact encoding: a listpack is a few dozen bytes where a hashtable/skiplist is hundreds.
      assert.equal(await redis().object('ENCODING', sessionKey), 'listpack');
      assert.equal(await redis().object('ENCODING', subjectKey), 'listpack');
      // Times after createdAt are kept as short offsets from it, and {} attributes not at all.
      const stored = await redis().hgetall(sessionKey);
      assert.equal(stored.c, String(T0));
      assert.equal(stored.i, String(record.idleExpiresAt - T0));
      assert.equal(stored.w, String((record.warnAt ?? 0) - T0));
      // The warning index holds bare ids.
      const warnings = await Promise.all(
        keys.filter((key) => key.startsWith(`${prefix}warning:`)).map((key) => redis().zrange(key, 0, -1)),
      );
      assert.deepEqual(warnings.flat(), [record.id]);
      const bare = newRecord('solo', T0 + 1);
      await store.create({ ...bare, attributes: {} }, { maxSessions: 3 });
      assert.equal(await redis().hexists(`${prefix}s:{${bare.id}}`, 'd'), 0);

      // An ended session stays in the same subject key (listed, no longer live), until purged.
      await store.end(record.id, 'logout', T0 + SECOND);
      assert.equal(await redis().zscore(subjectKey, record.id), '-inf');
      assert.deepEqual(sortedIds(await store.listBySubject('solo', T0 + SECOND)), sortedIds([record, bare]));
      assert.deepEqual(await store.endAllForSubject('solo', 'revoked', T0 + 2 * SECOND), [
        { ...bare, attributes: {} },
      ]);
    });

    it('refuses a key prefix holding data of the older key layout, until it is gone', async () => {
      const prefix = uniquePrefix();
      const legacy = `${prefix}exp:{#3}`;
      await redis().zadd(legacy, T0, `default\u0000${newRecord().id}`);
      await redis().pexpire(legacy, MINUTE);
      const store = node(prefix);
      const record = newRecord();
      await assert.rejects(store.create(record, { maxSessions: null }), (error: Error) => {
        assert.equal(error.name, 'StoreUnavailableError');
        assert.match(error.message, /older @vigil\/store-redis \(key layout 1, e\.g\. .*exp:\{#3\}\)/);
        return true;
      });
      await assert.rejects(store.ping(), /key layout 1/);
      await redis().del(legacy);
      await store.create(record, { maxSessions: null });
      assert.equal((await store.get(record.id, T0 + SECOND)).kind, 'live');
    });

    it('keeps working after SCRIPT FLUSH (scripts are re-sent on NOSCRIPT)', async () => {
      const store = node(uniquePrefix());
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      const noscriptBefore = await noscriptErrors(redis());
      await flushScripts(redis());
      assert.equal((await store.get(record.id, T0 + SECOND)).kind, 'live');
      await flushScripts(redis());
      const touched = await store.touch(record.id, active(T0 + 2 * SECOND));
      assert.equal(touched.kind === 'live' && touched.record.lastActivityAt, T0 + 2 * SECOND);
      await flushScripts(redis());
      const other = newRecord('bob');
      await store.create(other, { maxSessions: 1 });
      await flushScripts(redis());
      assert.deepEqual(sortedIds(await store.claimExpired(T0 + 61 * SECOND, 10)), [other.id]);
      await flushScripts(redis());
      const ended = await store.end(record.id, 'logout', T0 + 3 * SECOND);
      assert.equal(ended.kind === 'ended' && ended.endedNow, true);
      assert.ok((await noscriptErrors(redis())) > noscriptBefore, 'the fallback path was taken');
    });

    it('answers each touch of one turn as that touch alone would (one script per turn, standalone)', async () => {
      const store = node(uniquePrefix());
      const coarse = resolvePolicy('coarse', {
        idleTimeout: '60s',
        absoluteTimeout: '10m',
        warnBefore: '10s',
        touchGranularity: '2s',
      });
      const policyOf = (record: SessionRecord) => (record.policy === 'coarse' ? coarse : conformancePolicy);
      const model = new Map<string, SessionRecord>();
      for (let i = 0; i < 120; i++) {
        const record = newRecord(`batch${i % 9}`, T0 + i * 100, i % 4 === 0 ? coarse : conformancePolicy);
        await store.create(record, { maxSessions: null });
        model.set(record.id, record);
      }
      const ids = [...model.keys()];
      // Some ended by hand, some with their warning claimed (an active touch arms it again: `w`).
      for (const id of ids.filter((_, i) => i % 10 === 3)) {
        const ended = await store.end(id, 'logout', T0 + SECOND);
        if (ended.kind === 'ended') model.set(id, ended.record);
      }
      for (const claimed of await drainWarnings(store, T0 + 55 * SECOND, 50)) model.set(claimed.id, claimed);

      // One turn: 300 touches (more than one script holds), times rising past many deadlines, a
      // session often touched twice, unknown ids among them.
      const random = prng(20260107);
      const calls = Array.from({ length: 300 }, (_, k) => {
        const id =
          random() < 0.05 ? `no-such-id-${k % 3}` : (ids[Math.floor(random() * ids.length)] as string);
        const now = T0 + 55 * SECOND + k * 50;
        const policy = model.has(id) ? policyOf(model.get(id) as SessionRecord) : conformancePolicy;
        return { id, params: touchParams(policy, random() < 0.7 ? 'active' : 'sleeping', now) };
      });
      // Index upkeep after the turn's scripts: two scripts per end recorded, one per warning armed again.
      let upkeep = 0;
      const expected = calls.map(({ id, params }) => {
        const before = model.get(id);
        const result = expectedTouch(before, params);
        if (result.kind === 'ended' && result.endedNow) upkeep += 2;
        if (result.kind === 'live' && before?.warnAt === null && result.record.warnAt !== null) upkeep += 1;
        if (result.kind !== 'unknown') model.set(id, result.record);
        return result;
      });
      const scriptsBefore = await scriptCalls(redis());
      const results = await Promise.all(calls.map(({ id, params }) => store.touch(id, params)));
      const scripts = (await scriptCalls(redis())) - scriptsBefore;
      results.forEach((result, k) => {
        assert.deepEqual(result, expected[k], `touch ${k} of ${calls[k]?.id}`);
      });
      const kinds = new Set(
        expected.map((r) => (r.kind === 'live' && r.extendedFromWarning ? 'extended' : r.kind)),
      );
      assert.deepEqual(
        [...kinds].sort(),
        ['ended', 'extended', 'live', 'unknown'],
        'the turn covers each case',
      );
      assert.ok(
        expected.some((r) => r.kind === 'ended' && r.endedNow),
        'some touch records an end',
      );
      // Standalone: a few touch scripts for the turn (64 touches each at most). A cluster sends each alone.
      const touchScripts = cluster ? calls.length : Math.ceil(calls.length / MAX_TOUCHES_PER_SCRIPT);
      assert.equal(scripts, touchScripts + upkeep);

      // What was stored is what was answered.
      const later = T0 + 71 * SECOND;
      for (const [id, record] of model) {
        const read = await store.get(id, later);
        assert.deepEqual(read.kind === 'unknown' ? null : read.record, settle(record, later).record, id);
        model.set(id, settle(record, later).record);
      }
      // Warnings armed again by the turn's active touches were indexed again: each is claimed once.
      const due = T0 + 125 * SECOND;
      const warnings = [...model.values()].filter(
        (r) => settle(r, due).record.endedAt === null && r.warnAt !== null && r.warnAt <= due,
      );
      assert.ok(warnings.length > 0);
      assert.deepEqual(sortedIds(await drainWarnings(store, due, 40)), sortedIds(warnings));
    });

    it('sends the touches still waiting before a later call on a session', async () => {
      // A touch waits for its turn's script; a call made after it must still find it applied.
      const store = node(uniquePrefix());
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      const extendedTo = T0 + 5 * SECOND + conformancePolicy.idleTimeoutMs;
      const [touched, read, ended] = await Promise.all([
        store.touch(record.id, active(T0 + 5 * SECOND)),
        store.get(record.id, T0 + 6 * SECOND),
        store.end(record.id, 'logout', T0 + 7 * SECOND),
      ]);
      assert.equal(touched.kind === 'live' && touched.record.idleExpiresAt, extendedTo);
      assert.equal(read.kind === 'live' && read.record.idleExpiresAt, extendedTo);
      assert.deepEqual(ended.kind === 'ended' && [ended.endedNow, ended.record.idleExpiresAt], [
        true,
        extendedTo,
      ]);
    });

    // A call that close() cut off may never settle: the timeout makes that a failure, not a hang.
    it("answers the calls made before close(), its token store's too, refuses later ones, and lets its own client go", {
      timeout: 15_000,
    }, async () => {
      const prefix = uniquePrefix();
      const store = node(prefix);
      const record = newRecord();
      await store.create(record, { maxSessions: null });
      const extendedTo = T0 + 5 * SECOND + conformancePolicy.idleTimeoutMs;
      // Made in the same turn as close(): the touch has not even been sent yet.
      const touching = store.touch(record.id, active(T0 + 5 * SECOND));
      const reading = store.get(record.id, T0 + 6 * SECOND);
      let touchAnswered = false;
      void touching.then(() => (touchAnswered = true));
      const closing = store.close();
      // A second close() resolves with the first, not before the calls it waits for.
      await store.close();
      assert.ok(touchAnswered, 'the second close() waited for the touch');
      await closing;
      const [touched, read] = await Promise.all([touching, reading]);
      assert.equal(touched.kind === 'live' && touched.record.idleExpiresAt, extendedTo);
      assert.equal(read.kind === 'live' && read.record.idleExpiresAt, extendedTo);
      await assert.rejects(store.get(record.id, T0 + 7 * SECOND), { code: 'store_unavailable' });
      await assert.rejects(store.tokenStore().listSigningKeys(), { code: 'store_unavailable' });
      // A token-store call alone in flight is waited for too.
      const other = node(prefix);
      const listing = other.tokenStore().listSigningKeys();
      await other.close();
      assert.deepEqual(await listing, []);
      // ioredis's last state after a manual disconnect: `end` for a client, `close` for a cluster.
      await waitUntil(
        'the store lets its own client go',
        () => ['end', 'close'].includes(store.connectionStatus),
        2000,
      );
      const stored = await node(prefix).get(record.id, T0 + 7 * SECOND);
      assert.equal(
        stored.kind === 'live' && stored.record.idleExpiresAt,
        extendedTo,
        'the touch was applied',
      );
    });

    it('answers bursts of touches as the lifecycle applied one by one', async () => {
      await runTouchBursts(node(uniquePrefix()), { seed: 20260107, rounds: 40 });
    });

    if (cluster) {
      it('spreads sessions over every master (and each script still runs on one slot)', async () => {
        const prefix = uniquePrefix();
        const store = node(prefix);
        const records = Array.from({ length: 30 }, (_, i) => newRecord(`p${i % 7}`, T0 + i));
        for (const r of records) await store.create(r, { maxSessions: 3 });
        const perMaster = await keysByMaster(redis(), prefix);
        assert.equal(perMaster.length, 3);
        for (const keys of perMaster) {
          assert.ok(
            keys.some((key) => key.startsWith(`${prefix}s:`)),
            'every master holds sessions',
          );
        }
      });
    }
  });
}

describeRedisBehaviour('RedisStore behaviour on standalone Redis', startRedis, { cluster: false });

describeRedisBehaviour('RedisStore behaviour on a 3-master Redis Cluster', startCluster, { cluster: true });
