import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyTouch, type Signal, touchParams } from '@vigil/core';
import { conformancePolicy, newRecord, runTouchBursts, T0, touchSummary } from '@vigil/core/conformance';
import pg from 'pg';
import { PostgresStore } from '../src/index.js';
import { type PostgresServer, startPostgres, uniqueSchema } from './postgres-server.js';

// Touches made in one turn of the event loop are read in one statement and written in one
// (PostgresStore#touchBatch). Each must answer as it would alone, in the order made; a session that
// another node wrote in between has its touches redone on the new row.

const SECOND = 1000;
const touchOf = (signal: Signal, now: number) => touchParams(conformancePolicy, signal, now);

describe('PostgresStore: touches of one turn', () => {
  let server: PostgresServer;
  const pools: pg.Pool[] = [];
  const stores: PostgresStore[] = [];
  const open = (schema: string, pool = new pg.Pool({ connectionString: server.url, max: 4 })) => {
    pools.push(pool);
    const store = new PostgresStore(pool, { schema, queryTimeoutMs: 10_000 });
    stores.push(store);
    return store;
  };

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    for (const store of stores) await store.close();
    for (const pool of pools) await pool.end();
    await server?.stop();
  });

  it('bursts of touches answer as the same touches made one by one', async () => {
    await runTouchBursts(open(uniqueSchema()), { seed: 20261205, rounds: 40 });
  });

  it("redoes, on the new row, the touches of a session another node wrote between the turn's read and write", async () => {
    const schema = uniqueSchema();
    const other = open(schema);
    let between: (() => Promise<void>) | null = null;
    // This node's pool runs `between` right after the turn's read has answered.
    const pool = new pg.Pool({ connectionString: server.url, max: 4 });
    const query = pool.query.bind(pool) as (config: pg.QueryConfig) => Promise<pg.QueryResult>;
    (pool as unknown as { query: typeof query }).query = async (config: pg.QueryConfig) => {
      const result = await query(config);
      if (between !== null && config.text.includes('= ANY($1::text[])')) {
        const action = between;
        between = null;
        await action();
      }
      return result;
    };
    const store = open(schema, pool);
    const [a, b] = [newRecord('a'), newRecord('b')];
    await store.create(a, { maxSessions: null });
    await store.create(b, { maxSessions: null });

    between = async () => {
      // Another node's sleeping beat at T0 + 20 s moves `a` on: this node's decision is now stale.
      await other.touch(a.id, touchOf('sleeping', T0 + 20 * SECOND));
    };
    const [first, second, onB] = await Promise.all([
      store.touch(a.id, touchOf('active', T0 + 10 * SECOND)),
      store.touch(a.id, touchOf('sleeping', T0 + 30 * SECOND)),
      store.touch(b.id, touchOf('active', T0 + 10 * SECOND)),
    ]);
    assert.equal(between, null, 'the other node wrote in between');

    // Redone on the row the other node wrote, each touch on its own: its lastSeenAt (20 s) is there
    // before this node's touches, and each is its own write.
    const expectedFirst = applyTouch(
      applyTouch(a, touchOf('sleeping', T0 + 20 * SECOND)).record,
      touchOf('active', T0 + 10 * SECOND),
    );
    const expectedSecond = applyTouch(expectedFirst.record, touchOf('sleeping', T0 + 30 * SECOND));
    assert.deepEqual(
      touchSummary(first),
      touchSummary({ ...expectedFirst, kind: 'live', extendedFromWarning: false }),
    );
    assert.deepEqual(
      touchSummary(second),
      touchSummary({ ...expectedSecond, kind: 'live', extendedFromWarning: false }),
    );
    assert.equal(onB.kind === 'live' && onB.record.idleExpiresAt, T0 + 70 * SECOND);

    const storedA = await store.get(a.id, T0 + 31 * SECOND);
    assert.equal(storedA.kind === 'live' && storedA.record.lastSeenAt, T0 + 30 * SECOND);
    assert.equal(
      storedA.kind === 'live' && storedA.record.idleExpiresAt,
      expectedSecond.record.idleExpiresAt,
    );
    // Writes per row: `a` the other node's and this node's two redone; `b` one for the turn.
    const admin = await server.admin();
    try {
      const { rows } = await admin.query<{ id: string; version: number }>(
        `SELECT id, version FROM ${schema}.vigil_sessions WHERE id = ANY($1::text[])`,
        [[a.id, b.id]],
      );
      const versions = new Map(rows.map((row) => [row.id, row.version]));
      assert.deepEqual([versions.get(a.id), versions.get(b.id)], [3, 1]);
    } finally {
      await admin.end();
    }
  });
});
