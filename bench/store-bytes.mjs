// Bytes (and rows) per live session on disk, in a fresh process per store (run by bench/run.mjs):
//   sqlite:   `count` sessions in a new file, written as `create` writes them (in one bulk
//             transaction: each `create` commits and syncs alone, too slow for a count that
//             measures anything); VACUUM; the file's growth over an empty one, divided by count.
//   postgres: `count` sessions through `PostgresStore.create` (16 at a time); VACUUM; the growth of
//             Vigil's tables (with their indexes and TOAST) over the empty schema, divided by count;
//             rows per session likewise.
// Subjects are UUID-shaped, attributes empty (as bench/memory-sessions.mjs). Prints JSON.
//
//   node bench/store-bytes.mjs '{"store":"sqlite","dir":"/tmp/x","count":100000}'
//   node bench/store-bytes.mjs '{"store":"postgres","url":"postgres://…","count":20000}'
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, newSessionToken, resolveConfig, sessionIdFor } from '@vigil/core';

const job = JSON.parse(process.argv[2]);
const policy = resolveConfig({}).policies.get('default');
const NOW = Date.UTC(2026, 0, 5, 12);
const subjectOf = (i) =>
  [(0x10000000 + i).toString(16), '0000', '4000', '8000', (0x100000000000 + i).toString(16)].join('-');
const recordOf = (i) =>
  createSession({ id: sessionIdFor(newSessionToken()), subject: subjectOf(i), policy, now: NOW + i });

async function sqliteBytes({ dir, count }) {
  const { SqliteStore } = await import('@vigil/store-sqlite');
  const { default: Database } = await import('better-sqlite3');
  const sizeOf = async (path, n) => {
    await (await SqliteStore.open({ path })).close();
    const db = new Database(path);
    const insert = db.prepare(`INSERT INTO sessions (id, subject, policy, created_at, last_activity_at,
      last_seen_at, idle_expires_at, absolute_expires_at, warn_at, attributes, ended_at, reason,
      expiry_due_at, warn_due_at)
      VALUES (@id, @subject, @policy, @createdAt, @lastActivityAt, @lastSeenAt, @idleExpiresAt,
        @absoluteExpiresAt, @warnAt, @attributes, NULL, NULL, min(@idleExpiresAt, @absoluteExpiresAt), @warnAt)`);
    db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const { endedAt: _, reason: __, ...row } = recordOf(i);
        insert.run({ ...row, attributes: JSON.stringify(row.attributes) });
      }
    })();
    db.exec('VACUUM');
    const pageSize = db.pragma('page_size', { simple: true });
    db.close();
    return { bytes: statSync(path).size, pageSize };
  };
  const empty = await sizeOf(join(dir, 'empty.db'), 0);
  const full = await sizeOf(join(dir, 'full.db'), count);
  return {
    store: 'sqlite',
    sessions: count,
    fileBytes: full.bytes,
    pageSize: full.pageSize,
    bytesPerSession: Math.round((full.bytes - empty.bytes) / count),
    rowsPerSession: 1,
  };
}

async function postgresBytes({ url, count }) {
  const { PostgresStore } = await import('@vigil/store-postgres');
  const store = PostgresStore.fromUrl(url);
  await store.migrate();
  const empty = await relations(url);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) await store.create(recordOf(next++), { maxSessions: null });
    }),
  );
  await store.close();
  const full = await relations(url);
  const bytes = full.reduce((sum, t) => sum + t.bytes, 0) - empty.reduce((sum, t) => sum + t.bytes, 0);
  const rows = full.reduce((sum, t) => sum + t.rows, 0) - empty.reduce((sum, t) => sum + t.rows, 0);
  return {
    store: 'postgres',
    sessions: count,
    bytes,
    bytesPerSession: Math.round(bytes / count),
    rowsPerSession: Number((rows / count).toFixed(2)),
    tables: full,
  };
}

/** Vigil's tables after VACUUM: total size (with indexes and TOAST), index count and rows of each. */
async function relations(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('VACUUM ANALYZE');
    const tables = (
      await client.query(`SELECT c.oid::regclass::text AS name, pg_total_relation_size(c.oid) AS bytes,
          (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) AS indexes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relname LIKE 'vigil%' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`)
    ).rows;
    const found = [];
    for (const { name, bytes, indexes } of tables) {
      const rows = Number((await client.query(`SELECT count(*) AS n FROM ${name}`)).rows[0].n);
      found.push({ name, bytes: Number(bytes), indexes: Number(indexes), rows });
    }
    return found;
  } finally {
    await client.end();
  }
}

const result = job.store === 'sqlite' ? await sqliteBytes(job) : await postgresBytes(job);
process.stdout.write(`${JSON.stringify(result)}\n`);
