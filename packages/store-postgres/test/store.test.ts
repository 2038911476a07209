import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createSession,
  endEvent,
  newSessionToken,
  resolvePolicy,
  type SessionEvent,
  type SessionRecord,
  sessionIdFor,
  touchParams,
} from '@vigil/core';
import { conformancePolicy, newRecord } from '@vigil/core/conformance';
import {
  NOTIFY_PAYLOAD_LIMIT,
  PostgresStore,
  type PostgresStoreOptions,
  SCHEMA_VERSION,
} from '../src/index.js';
import { statementsFor } from '../src/sql.js';
import { type PostgresServer, startPostgres, uniqueSchema } from './postgres-server.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const SECOND = 1000;
const active = (now: number) => touchParams(conformancePolicy, 'active', now);

const sortedIds = (records: { id: string }[]) => records.map((r) => r.id).sort();

function assertNoDuplicates(records: { id: string }[], what: string) {
  const ids = records.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, `${what}: an id was claimed twice`);
}

/** Claims until nothing is left, `limit` at a time, like a sweeper does. */
async function drain(claim: () => Promise<SessionRecord[]>): Promise<SessionRecord[]> {
  const claimed: SessionRecord[] = [];
  for (;;) {
    const batch = await claim();
    if (batch.length === 0) return claimed;
    claimed.push(...batch);
  }
}

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('PostgresStore with several nodes', () => {
  let server: PostgresServer;
  const opened: PostgresStore[] = [];
  /**
   * A store instance with a pool of its own: one per simulated Vigil node. These tests are about
   * correctness, not timing (outage.test.ts is): a generous call budget keeps a loaded machine from
   * turning a slow moment into a failure.
   */
  const node = (schema: string, options: PostgresStoreOptions = {}, url = server.url) => {
    const store = PostgresStore.fromUrl(url, {
      schema,
      maxConnections: 4,
      queryTimeoutMs: 10_000,
      ...options,
    });
    opened.push(store);
    return store;
  };
  const sql = async <T extends object>(text: string, values: unknown[] = []): Promise<T[]> => {
    const admin = await server.admin();
    try {
      return (await admin.query(text, values)).rows as T[];
    } finally {
      await admin.end();
    }
  };

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await Promise.all(opened.map((store) => store.close()));
    await server?.stop();
  });

  it('claims each expired session and each warning exactly once across three nodes', async () => {
    const schema = uniqueSchema();
    const nodes = [node(schema), node(schema), node(schema)];
    await Promise.all(nodes.map((n) => n.migrate()));
    const records = Array.from({ length: 300 }, (_, i) => newRecord(`user${i % 7}`, T0 + i));
    await Promise.all(records.map((r, i) => nodes[i % 3]?.create(r, { maxSessions: null })));
    const extended = records.filter((_, i) => i % 5 === 0);
    await Promise.all(extended.map((r, i) => nodes[(i + 1) % 3]?.touch(r.id, active(T0 + 30 * SECOND))));

    // Each node runs two sweepers at once, small batches: lots of overlapping SKIP LOCKED claims.
    const sweep = (claim: (n: PostgresStore) => Promise<SessionRecord[]>) =>
      Promise.all(nodes.flatMap((n) => [drain(() => claim(n)), drain(() => claim(n))])).then((r) => r.flat());

    const warned = await sweep((n) => n.claimWarnings(T0 + 55 * SECOND, 7));
    assertNoDuplicates(warned, 'warnings');
    const idle = records.filter((r) => !extended.includes(r));
    assert.deepEqual(sortedIds(warned), sortedIds(idle));

    // Reads race the sweepers for the same expiries: each end is still reported exactly once.
    const late = T0 + 70 * SECOND;
    const [claimed, reads] = await Promise.all([
      sweep((n) => n.claimExpired(late, 7)),
      Promise.all(idle.slice(0, 100).map((r, i) => nodes[i % 3]?.get(r.id, late))),
    ]);
    assertNoDuplicates(claimed, 'expiries');
    const endedByReads = reads
      .filter((r) => r?.kind === 'ended' && r.endedNow)
      .map((r) => r?.kind === 'ended' && r.record);
    assert.deepEqual(
      [...sortedIds(claimed), ...sortedIds(endedByReads as SessionRecord[])].sort(),
      sortedIds(idle),
      'every expiry reported once, by a claim or by a read',
    );
    assert.ok(claimed.every((r) => r.reason === 'idle_timeout' && r.endedAt === r.idleExpiresAt));

    const later = await sweep((n) => n.claimExpired(T0 + 91 * SECOND, 3));
    assertNoDuplicates(later, 'later expiries');
    assert.deepEqual(sortedIds(later), sortedIds(extended));
    assert.deepEqual(await nodes[0]?.countLive(T0 + 91 * SECOND), {});
  });

  it('keeps maxSessions under concurrent creations on three nodes, and logs out everywhere once', async () => {
    const schema = uniqueSchema();
    const nodes = [node(schema), node(schema), node(schema)];
    await Promise.all(nodes.map((n) => n.migrate()));
    const records = Array.from({ length: 30 }, (_, i) => newRecord('zed', T0 + i));
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

  it('comes up on every node when several start at once on a new schema', async () => {
    const schema = uniqueSchema();
    const nodes = Array.from({ length: 6 }, () => node(schema));
    // Half migrate explicitly (`vigil migrate`), half on their first call.
    const results = await Promise.all(nodes.map((n, i) => (i % 2 === 0 ? n.migrate() : n.ping())));
    assert.ok(results.filter((r) => r?.from === 0).length <= 1, 'one node at most found it empty');
    const versions = await sql<{ version: number }>(
      `SELECT version FROM ${schema}.vigil_schema ORDER BY version`,
    );
    assert.deepEqual(
      versions.map((v) => v.version),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
    const record = newRecord();
    await nodes[5]?.create(record, { maxSessions: null });
    assert.equal((await nodes[0]?.get(record.id, T0))?.kind, 'live');
    assert.deepEqual(await node(schema).migrate(), { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
  });

  it('refuses a schema migrated by a newer Vigil, with a plain error (not an outage)', async () => {
    const schema = uniqueSchema();
    await node(schema).migrate();
    await sql(`INSERT INTO ${schema}.vigil_schema (version) VALUES ($1)`, [SCHEMA_VERSION + 1]);
    const newer = node(schema);
    await assert.rejects(newer.migrate(), { name: 'SchemaTooNewError' });
    await assert.rejects(newer.get('any', T0), { name: 'SchemaTooNewError' });
  });

  it('delivers an event published on one node to the others within a second, never back to itself', async () => {
    const schema = uniqueSchema();
    const [a, b, c] = [node(schema), node(schema), node(schema)];
    const stranger = node(uniqueSchema());
    const heard = new Map<PostgresStore, SessionEvent[]>();
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
    assert.deepEqual(heard.get(stranger), [], 'another schema is another deployment');
  });

  it('sends events too big for NOTIFY without their record, which the receiver re-reads', async () => {
    const schema = uniqueSchema();
    const [a, b] = [node(schema), node(schema)];
    const heard: SessionEvent[] = [];
    b.onRemoteEvent((event) => heard.push(event));
    await b.remoteEventsReady();

    const big = { ...newRecord(), attributes: { blob: 'é'.repeat(3000), n: 1 } }; // 6 KB of UTF-8
    await a.create(big, { maxSessions: null });
    const created: SessionEvent = { type: 'session.created', session: big, at: T0 };
    assert.ok(Buffer.byteLength(JSON.stringify(created)) < NOTIFY_PAYLOAD_LIMIT, 'fits as it is');
    await a.publish(created);
    const params = { note: 'x'.repeat(4000) };
    const sleeping: SessionEvent = { type: 'heartbeat.sleeping', session: big, params, at: T0 + 1 };
    await a.publish(sleeping); // record and params together are too big: params kept, record re-read
    const huge = { note: 'y'.repeat(NOTIFY_PAYLOAD_LIMIT) };
    await a.publish({ type: 'heartbeat.sleeping', session: big, params: huge, at: T0 + 2 }); // only a ref

    await waitUntil('b heard all three', () => heard.length === 3, 1000);
    const byAt = heard.sort((x, y) => x.at - y.at);
    assert.deepEqual(byAt[0], created);
    assert.deepEqual(byAt[1], sleeping);
    assert.equal(byAt[2]?.type, 'heartbeat.sleeping');
    assert.deepEqual(byAt[2]?.session, big);
    assert.equal(byAt[2]?.type === 'heartbeat.sleeping' && byAt[2].params, undefined);
  });

  it('finds due expiries, warnings and purges through the partial indexes, even with generic plans', async () => {
    const schema = uniqueSchema();
    const store = node(schema);
    await store.migrate();
    const policy = resolvePolicy('default', { idleTimeout: '15m', absoluteTimeout: '8h', warnBefore: '1m' });
    const many = Array.from({ length: 3000 }, (_, i) =>
      createSession({ id: `id-${i}`, subject: `s${i % 50}`, policy, now: T0 + i }),
    );
    for (let i = 0; i < many.length; i += 500) {
      await Promise.all(many.slice(i, i + 500).map((r) => store.create(r, { maxSessions: null })));
    }
    await Promise.all(many.slice(0, 300).map((r) => store.end(r.id, 'logout', T0 + SECOND)));
    await sql(`ANALYZE ${schema}.vigil_sessions`);

    const statements = statementsFor(schema);
    const admin = await server.admin();
    try {
      await admin.query('SET plan_cache_mode = force_generic_plan');
      const plan = async (name: 'claimExpired' | 'claimWarnings' | 'purgeEnded') => {
        await admin.query(`PREPARE p_${name} (bigint, bigint) AS ${statements[name].text}`);
        const { rows } = await admin.query(`EXPLAIN EXECUTE p_${name}(${T0}, 100)`);
        return rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
      };
      assert.match(await plan('claimExpired'), /Index Scan using vigil_sessions_live_expires/);
      assert.match(await plan('claimWarnings'), /Index Scan using vigil_sessions_live_warn/);
      assert.match(await plan('purgeEnded'), /Index Scan using vigil_sessions_ended/);
    } finally {
      await admin.end();
    }
  });

  it('applies many concurrent touches of one session, from two nodes, without losing the latest', async () => {
    const schema = uniqueSchema();
    const [a, b] = [node(schema), node(schema)];
    await Promise.all([a.migrate(), b.migrate()]);
    const record = newRecord();
    await a.create(record, { maxSessions: null });
    // No coalescing (granularity 0) and a later `now` each: every touch has something to write.
    const times = Array.from({ length: 40 }, (_, i) => T0 + 1000 + i * 10);
    const results = await Promise.all(times.map((now, i) => (i % 2 ? a : b).touch(record.id, active(now))));
    assert.ok(results.every((r) => r.kind === 'live'));
    const lookup = await a.get(record.id, T0 + 2000);
    const last = times[times.length - 1] as number;
    assert.equal(lookup.kind === 'live' && lookup.record.idleExpiresAt, last + 60 * SECOND);
    assert.equal(lookup.kind === 'live' && lookup.record.lastSeenAt, last);
  });

  it('lets only a touch that keeps the session alive commit without waiting for the disk', async () => {
    const schema = uniqueSchema();
    const store = node(schema);
    const record = newRecord();
    await store.create(record, { maxSessions: null });
    const { update, updateTouch } = statementsFor(schema);
    const admin = await server.admin();
    try {
      // Run each write statement inside a transaction we can look into, then roll it back.
      const commitModeAfter = async (text: string) => {
        await admin.query('BEGIN');
        try {
          const { rowCount } = await admin.query(text, [
            record.id,
            0,
            T0,
            T0 + 1,
            T0 + 60_000,
            null,
            null,
            null,
          ]);
          assert.equal(rowCount, 1);
          return (await admin.query("SELECT current_setting('synchronous_commit') AS mode")).rows[0]?.mode;
        } finally {
          await admin.query('ROLLBACK');
        }
      };
      assert.equal(await commitModeAfter(updateTouch.text), 'off');
      assert.equal(await commitModeAfter(update.text), 'on');
    } finally {
      await admin.end();
    }
  });

  it('stores the token nowhere: only its hash, as the id', async () => {
    const schema = uniqueSchema();
    const store = node(schema);
    const token = newSessionToken();
    const record = createSession({
      id: sessionIdFor(token),
      subject: 'tina',
      policy: conformancePolicy,
      now: T0,
    });
    await store.create(record, { maxSessions: 3 });
    await store.touch(record.id, active(T0 + 5 * SECOND));
    const rows = await sql<{ row: string }>(`SELECT t::text AS row FROM ${schema}.vigil_sessions t`);
    assert.equal(rows.length, 1);
    assert.ok(rows[0]?.row.includes(record.id));
    assert.ok(
      !rows[0]?.row.includes(token) && !rows[0]?.row.includes(token.slice(-32)),
      'no token in the row',
    );
  });

  it('holds no more connections than its pool after 10,000 operations', async (t) => {
    const schema = uniqueSchema();
    const max = 5;
    // Its own application_name, so that the count below sees this store's connections only.
    const store = node(schema, { maxConnections: max }, `${server.url}?application_name=vigil_leak`);
    await store.migrate();
    const countConnections = async () =>
      Number(
        (
          await sql<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'vigil_leak'`,
            [server.database],
          )
        )[0]?.n,
      );

    const seen: number[] = [];
    const samples = new Set<Promise<void>>();
    const sampler = setInterval(() => {
      const sample = countConnections().then(
        (n) => {
          seen.push(n);
        },
        () => {},
      );
      samples.add(sample);
      void sample.finally(() => samples.delete(sample));
    }, 50);
    const ids: string[] = [];
    let operations = 0;
    let failures = 0;
    const started = performance.now();
    const worker = async (w: number) => {
      for (let i = 0; operations < 10_000; i++) {
        operations++;
        const now = T0 + i * 10;
        const pick = ids[(i * 7919 + w) % Math.max(1, ids.length)] ?? '';
        try {
          switch (i % 8) {
            case 0: {
              const r = newRecord(`leak${i % 40}`, now);
              ids.push(r.id);
              await store.create(r, { maxSessions: i % 16 === 0 ? 3 : null });
              break;
            }
            case 1:
              // A duplicate id: an SQL error inside a transaction (rolled back, connection kept).
              await store.create({ ...newRecord('dup', now), id: pick }, { maxSessions: 3 });
              break;
            case 5:
              await store.end(pick, 'logout', now);
              break;
            case 6:
              await store.claimExpired(now + 61 * SECOND, 5);
              break;
            case 7:
              await store.get(pick, now);
              break;
            default:
              await store.touch(pick, active(now + 1000));
          }
        } catch {
          failures++;
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_, w) => worker(w)));
    const elapsed = performance.now() - started;
    clearInterval(sampler);
    await Promise.all(samples); // none may still hold a connection when the server stops
    seen.push(await countConnections());

    assert.ok(operations >= 10_000);
    assert.ok(failures > 0 && failures < operations / 4, `failures: ${failures} (the duplicates)`);
    assert.ok(Math.max(...seen) <= max, `connections seen: max ${Math.max(...seen)}, pool max ${max}`);
    assert.ok(store.poolStats.total <= max && store.poolStats.waiting === 0, JSON.stringify(store.poolStats));
    await store.ping();
    t.diagnostic(
      `10,000 mixed operations, 32 callers, pool of ${max}: ${Math.round(elapsed)} ms ` +
        `(${Math.round((operations / elapsed) * 1000)}/s); connections seen ≤ ${Math.max(...seen)}`,
    );
  });
});
