import type { Pool } from 'pg';
import { applyMigrations } from './schema-migrations.js';
import { MIGRATIONS, SCHEMA_NAME } from './sql.js';

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

export { SchemaTooNewError } from './schema-migrations.js';

/**
 * Brings the sessions' tables up to date (see `applyMigrations`: one transaction under a per-schema
 * advisory lock, so nodes that start at once migrate once). Fails with `SchemaTooNewError` if the
 * database was migrated by a newer Vigil.
 */
export async function migrate(pool: Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  const { schema = 'public', timeoutMs = 30_000 } = options;
  if (!SCHEMA_NAME.test(schema)) throw new TypeError(`invalid schema name ${JSON.stringify(schema)}`);
  return applyMigrations(pool, {
    schema,
    versionTable: 'vigil_schema',
    migrations: MIGRATIONS,
    owner: 'PostgresStore',
    timeoutMs,
  });
}
