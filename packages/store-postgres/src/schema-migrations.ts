import { DatabaseError, escapeIdentifier, type Pool } from 'pg';
import { MIGRATION_LOCK_CLASS } from './sql.js';

/** The database was migrated by a newer Vigil: this one must not touch it. */
export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
}

/** One part of Vigil's tables (sessions, audit, tokens), migrated on its own. */
export interface MigrationPlan {
  /** The schema holding the tables (created if missing); already checked against `SCHEMA_NAME`. */
  schema: string;
  /** The table that records which of `migrations` ran, e.g. `vigil_schema`. */
  versionTable: string;
  /** Statements in order, `{s}` standing for the quoted schema. Append; never edit a released one. */
  migrations: readonly string[];
  /** Who is migrating, for the error message (`PostgresStore`, `PostgresAuditLog`…). */
  owner: string;
  /** Longest wait for one statement, in ms, including the wait for another node's migration. */
  timeoutMs: number;
}

export interface MigrationResult {
  /** Version found. */
  from: number;
  /** Version now (the number of migrations this Vigil knows). */
  to: number;
}

/** pg's per-query client-side timeout, which the typings do not declare. */
type TimedQuery = { text: string; values?: unknown[]; query_timeout: number };

/**
 * Brings one part of the schema up to date, in one transaction. Nodes that start at once all call
 * this: the first takes a transaction-scoped advisory lock (per schema: every part may create the
 * schema itself) and migrates; the others wait for the lock, then find the work done. Everything is
 * read after the lock is held, so nobody creates what another already created. Only missing objects
 * are created, so a role without CREATE rights runs fine on a schema someone else migrated.
 */
export async function applyMigrations(pool: Pool, plan: MigrationPlan): Promise<MigrationResult> {
  const { schema, versionTable, migrations, owner } = plan;
  const s = escapeIdentifier(schema);
  const table = `${s}.${escapeIdentifier(versionTable)}`;
  const ms = Math.trunc(plan.timeoutMs);
  const client = await pool.connect();
  // An error event on a checked-out client would otherwise be unhandled; the query in flight
  // reports the same error, so it only needs to mark the connection as unfit for reuse.
  let broken: unknown;
  const onError = (error: unknown) => {
    broken = error;
  };
  client.on('error', onError);
  const run = (text: string, values?: unknown[]) =>
    client.query({ text, values, query_timeout: ms + 1000 } as TimedQuery);
  try {
    await run('BEGIN');
    await run(`SET LOCAL statement_timeout = ${ms}`);
    await run(`SET LOCAL lock_timeout = ${ms}`);
    await run('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
    const found = await run('SELECT to_regnamespace($1) IS NOT NULL AS has_schema', [schema]);
    if (found.rows[0]?.has_schema !== true) await run(`CREATE SCHEMA ${s}`);
    const existing = await run('SELECT to_regclass($1) IS NOT NULL AS has_table', [table]);
    if (existing.rows[0]?.has_table !== true) {
      await run(`CREATE TABLE ${table} (
        version integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    }
    const current = await run(`SELECT coalesce(max(version), 0)::integer AS version FROM ${table}`);
    const from = Number(current.rows[0]?.version ?? 0);
    if (from > migrations.length) {
      throw new SchemaTooNewError(
        `${owner}: ${versionTable} of schema ${schema} is at version ${from}, newer than this Vigil's (${migrations.length})`,
      );
    }
    for (let version = from + 1; version <= migrations.length; version++) {
      await run((migrations[version - 1] as string).replaceAll('{s}', s));
      await run(`INSERT INTO ${table} (version) VALUES ($1)`, [version]);
    }
    await run('COMMIT');
    return { from, to: migrations.length };
  } catch (error) {
    // The server answered (an SQL error, or our own check): the connection is sound, so end the
    // transaction and keep it. Otherwise (timeout, connection lost) it is discarded, and the
    // server rolls the transaction back when the connection closes.
    if (broken === undefined && (error instanceof DatabaseError || error instanceof SchemaTooNewError)) {
      await run('ROLLBACK').catch((failed: unknown) => {
        broken = failed;
      });
    } else {
      broken ??= error;
    }
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken === undefined ? undefined : true);
  }
}
