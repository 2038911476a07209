import { DatabaseError, escapeIdentifier, type Pool } from 'pg';
import { MIGRATION_LOCK_CLASS, MIGRATIONS, migrationsFor, SCHEMA_NAME } from './sql.js';

export interface MigrateOptions {
  /** The schema holding Vigil's tables (created if missing). Default `public`. */
  schema?: string;
  /**
   * Longest wait for one migration statement, in ms, including the wait for another node that is
   * migrating the same schema. Default 30000.
   */
  timeoutMs?: number;
}

export interface MigrateResult {
  /** Schema version found. */
  from: number;
  /** Schema version now (the number of migrations this Vigil knows). */
  to: number;
}

/** The schema version this code needs. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The database was migrated by a newer Vigil: this one must not touch it. */
export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
}

/** pg's per-query client-side timeout, which the typings do not declare. */
type TimedQuery = { text: string; values?: unknown[]; query_timeout: number };

/**
 * Brings the schema up to date, in one transaction. Nodes that start at once all call this: the
 * first takes a transaction-scoped advisory lock (per schema) and migrates; the others wait for the
 * lock, then find the work done. Everything is read after the lock is held, so nobody creates what
 * another already created. Only missing objects are created, so a role without CREATE rights runs
 * fine on a schema someone else migrated. Fails with a plain `Error` if the database was migrated by
 * a newer Vigil.
 */
export async function migrate(pool: Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  const { schema = 'public', timeoutMs = 30_000 } = options;
  if (!SCHEMA_NAME.test(schema)) throw new TypeError(`invalid schema name ${JSON.stringify(schema)}`);
  const s = escapeIdentifier(schema);
  const client = await pool.connect();
  // An error event on a checked-out client would otherwise be unhandled; the query in flight
  // reports the same error, so it only needs to mark the connection as unfit for reuse.
  let broken: unknown;
  const onError = (error: unknown) => {
    broken = error;
  };
  client.on('error', onError);
  const run = (text: string, values?: unknown[]) =>
    client.query({ text, values, query_timeout: timeoutMs + 1000 } as TimedQuery);
  try {
    await run('BEGIN');
    await run(`SET LOCAL statement_timeout = ${Math.trunc(timeoutMs)}`);
    await run(`SET LOCAL lock_timeout = ${Math.trunc(timeoutMs)}`);
    await run('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
    const found = await run('SELECT to_regnamespace($1) IS NOT NULL AS has_schema', [schema]);
    if (found.rows[0]?.has_schema !== true) await run(`CREATE SCHEMA ${s}`);
    const table = await run('SELECT to_regclass($1) IS NOT NULL AS has_table', [`${s}.vigil_schema`]);
    if (table.rows[0]?.has_table !== true) {
      await run(`CREATE TABLE ${s}.vigil_schema (
        version integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    }
    const current = await run(`SELECT coalesce(max(version), 0)::integer AS version FROM ${s}.vigil_schema`);
    const from = Number(current.rows[0]?.version ?? 0);
    if (from > SCHEMA_VERSION) {
      throw new SchemaTooNewError(
        `PostgresStore: schema ${schema} is at version ${from}, newer than this Vigil's (${SCHEMA_VERSION})`,
      );
    }
    const migrations = migrationsFor(schema);
    for (let version = from + 1; version <= SCHEMA_VERSION; version++) {
      await run(migrations[version - 1] as string);
      await run(`INSERT INTO ${s}.vigil_schema (version) VALUES ($1)`, [version]);
    }
    await run('COMMIT');
    return { from, to: SCHEMA_VERSION };
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
