import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { auditEntry, describeAuditLogConformance } from '@vigil/core/conformance';
import Database from 'better-sqlite3';
import { AUDIT_SQL, SqliteAuditLog, SqliteStore } from '../src/index.js';
import { MIGRATIONS } from '../src/sql.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const dirs: string[] = [];
async function freshPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-sqlite-audit-'));
  dirs.push(dir);
  return join(dir, 'vigil.db');
}
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describeAuditLogConformance('sqlite (WAL file)', async () => {
  const log = await SqliteAuditLog.open({ path: await freshPath() });
  return { log, cleanup: () => log.close() };
});

describe('SqliteAuditLog beside the session store', () => {
  it('shares the store’s file: both open in either order, each keeps its own schema version', async () => {
    const path = await freshPath();
    const log = await SqliteAuditLog.open({ path });
    const store = await SqliteStore.open({ path });
    const again = await SqliteAuditLog.open({ path });
    await log.append([auditEntry('alice', T0)]);
    assert.equal((await again.query({ limit: 10 })).entries.length, 1);
    assert.equal(store.settings.schemaVersion, MIGRATIONS.length);
    await Promise.all([log.close(), again.close(), store.close()]);
    const db = new Database(path, { readonly: true });
    assert.deepEqual(db.prepare('SELECT version FROM audit_schema').all(), [{ version: 1 }]);
    db.close();
  });

  it('refuses an audit schema newer than its own', async () => {
    const path = await freshPath();
    (await SqliteAuditLog.open({ path })).close();
    const db = new Database(path);
    db.exec('UPDATE audit_schema SET version = 99');
    db.close();
    await assert.rejects(SqliteAuditLog.open({ path }), /newer than this Vigil/);
  });

  it('answers store_unavailable after close', async () => {
    const log = await SqliteAuditLog.open({ path: await freshPath() });
    await log.close();
    await assert.rejects(log.query({ limit: 1 }), { code: 'store_unavailable' });
  });
});

describe('SqliteAuditLog: query plans', () => {
  const planOf = (db: Database.Database, sql: string, params: unknown) =>
    db
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .all(params as object)
      .map((row) => (row as { detail: string }).detail);

  const expectations = [
    ['newest', { limit: 10 }, 'audit_log_ended'],
    ['before', { endedAt: T0, sessionId: 'x', limit: 10 }, 'audit_log_ended'],
    ['newestOfSubject', { subject: 'u1', limit: 10 }, 'audit_log_subject'],
    ['beforeOfSubject', { subject: 'u1', endedAt: T0, sessionId: 'x', limit: 10 }, 'audit_log_subject'],
  ] as const;

  for (const analyzed of [false, true]) {
    it(`pages walk an index from the cursor, never a scan or a sort${analyzed ? ' (after ANALYZE)' : ''}`, async () => {
      const path = await freshPath();
      const log = await SqliteAuditLog.open({ path });
      await log.append(Array.from({ length: 400 }, (_, i) => auditEntry(`u${i % 20}`, T0 + i * 1000)));
      await log.close();
      const db = new Database(path);
      if (analyzed) db.exec('ANALYZE');
      for (const [name, params, index] of expectations) {
        const plan = planOf(db, AUDIT_SQL[name], params);
        assert.ok(
          plan.some((line) => line.includes(`INDEX ${index}`)),
          `${name} uses ${index}: ${plan.join(' | ')}`,
        );
        assert.ok(
          !plan.some((line) => /^SCAN audit_log$|TEMP B-TREE/.test(line)),
          `${name}: ${plan.join(' | ')}`,
        );
      }
      const purge = db
        .prepare(`EXPLAIN QUERY PLAN ${AUDIT_SQL.purgeable}`)
        .all(T0, 10)
        .map((row) => (row as { detail: string }).detail);
      assert.ok(
        purge.some((line) => line.includes('INDEX audit_log_ended')),
        purge.join(' | '),
      );
      db.close();
    });
  }
});
