import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditEntry, describeAuditLogConformance } from '@vigil/core/conformance';
import { auditStatementsFor, PostgresAuditLog, PostgresStore } from '../src/index.js';
import { type PostgresServer, startPostgres, uniqueSchema } from './postgres-server.js';

const T0 = Date.UTC(2026, 0, 1, 12);

describe('PostgresAuditLog', () => {
  let server: PostgresServer | undefined;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  const url = () => server?.url ?? '';

  async function dropSchema(schema: string): Promise<void> {
    const admin = await server?.admin();
    await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin?.end();
  }

  // One server for the file; each test a fresh schema. A generous call budget: timing is not the subject.
  describeAuditLogConformance('postgres', async () => {
    const schema = uniqueSchema();
    const log = PostgresAuditLog.fromUrl(url(), { schema, queryTimeoutMs: 10_000 });
    return {
      log,
      cleanup: async () => {
        await log.close();
        await dropSchema(schema);
      },
    };
  });

  it('lives beside the session store in one schema; nodes starting at once create its table once', async () => {
    const schema = uniqueSchema();
    const store = PostgresStore.fromUrl(`${url()}?schema=${schema}`, { queryTimeoutMs: 10_000 });
    const logs = Array.from({ length: 4 }, () =>
      PostgresAuditLog.fromUrl(`${url()}?schema=${schema}`, { queryTimeoutMs: 10_000 }),
    );
    try {
      await Promise.all([store.migrate(), ...logs.map((log) => log.migrate())]);
      await logs[0]?.append([auditEntry('alice', T0)]);
      assert.equal((await logs[3]?.query({ subject: 'alice', limit: 5 }))?.entries.length, 1);
      const admin = await (server as PostgresServer).admin();
      try {
        const { rows } = await admin.query(`SELECT version FROM ${schema}.vigil_audit_schema`);
        assert.deepEqual(rows, [{ version: 1 }]);
        const tables = await admin.query(
          `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`,
          [schema],
        );
        assert.ok(tables.rows.some((r) => r.tablename === 'vigil_sessions'));
      } finally {
        await admin.end();
      }
    } finally {
      await Promise.all([store.close(), ...logs.map((log) => log.close())]);
      await dropSchema(schema);
    }
  });

  it('refuses an audit schema newer than its own, without answering store_unavailable', async () => {
    const schema = uniqueSchema();
    const first = PostgresAuditLog.fromUrl(url(), { schema });
    await first.migrate();
    await first.close();
    const admin = await server?.admin();
    await admin?.query(`INSERT INTO ${schema}.vigil_audit_schema (version) VALUES (99)`);
    await admin?.end();
    const log = PostgresAuditLog.fromUrl(url(), { schema });
    try {
      await assert.rejects(log.query({ limit: 1 }), { name: 'SchemaTooNewError' });
    } finally {
      await log.close();
      await dropSchema(schema);
    }
  });

  it('pages by index range from the cursor', async () => {
    const schema = uniqueSchema();
    const log = PostgresAuditLog.fromUrl(url(), { schema, queryTimeoutMs: 10_000 });
    const admin = await (server as PostgresServer).admin();
    try {
      const entries = Array.from({ length: 3000 }, (_, i) => auditEntry(`u${i % 30}`, T0 + i * 1000));
      await log.append(entries);
      await admin.query(`ANALYZE ${schema}.vigil_audit`);
      const sql = auditStatementsFor(schema);
      const plan = async (text: string, values: unknown[]) => {
        const { rows } = await admin.query(`EXPLAIN ${text}`, values);
        return rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
      };
      const subject = Buffer.from('u1');
      assert.match(await plan(sql.newest, [10]), /Index Scan Backward using vigil_audit_ended/);
      assert.match(
        await plan(sql.before, [10, T0 + 5000, 'x']),
        /Index Scan Backward using vigil_audit_ended/,
      );
      assert.match(
        await plan(sql.newestOfSubject, [10, subject]),
        /Index Scan Backward using vigil_audit_subject/,
      );
      assert.match(
        await plan(sql.beforeOfSubject, [10, subject, T0 + 5000, 'x']),
        /Index Scan Backward using vigil_audit_subject/,
      );
    } finally {
      await admin.end();
      await log.close();
      await dropSchema(schema);
    }
  });

  it('answers store_unavailable when the database is unreachable, and after close', async () => {
    const log = PostgresAuditLog.fromUrl('postgres://postgres@127.0.0.1:1/none', { queryTimeoutMs: 500 });
    await assert.rejects(log.query({ limit: 1 }), { code: 'store_unavailable' });
    await log.close();
    await assert.rejects(log.append([auditEntry()]), { code: 'store_unavailable' });
  });
});
