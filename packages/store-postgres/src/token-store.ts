import {
  checkSigningKey,
  decideRotation,
  type NewRefreshFamily,
  type RefreshFamily,
  type RotateOutcome,
  type RotateRequest,
  type StoredSigningKey,
  StoreUnavailableError,
  type TokenStore,
} from '@vigil/core';
import { escapeIdentifier, type Pool, type QueryResultRow } from 'pg';
import { toStoreError } from './connection.js';
import { applyMigrations } from './schema-migrations.js';
import { SCHEMA_NAME } from './sql.js';

/**
 * Token mode's schema (refresh-token families, signing keys), apart from the sessions': its own
 * version table (`vigil_token_schema`), so that each part migrates on its own. All take the same
 * per-schema advisory lock, since each may create the schema itself. Append new migrations; never
 * edit a released one. `{s}` is the quoted schema name.
 */
export const TOKEN_MIGRATIONS: readonly string[] = [
  // 1: token mode.
  `
  CREATE TABLE {s}.vigil_refresh_families (
    expires_at bigint NOT NULL,
    rotated_at bigint,
    -- Bumped by every write: a write decided on a read applies only if nobody wrote since.
    version integer NOT NULL DEFAULT 0,
    revoked boolean NOT NULL DEFAULT false,
    session_id text NOT NULL,
    -- Hashes only: of the family part, of the current and the previous token. No usable token.
    family_id text NOT NULL,
    current_hash text NOT NULL,
    previous_hash text,
    salt text,
    PRIMARY KEY (session_id, family_id)
  );
  -- Purging expired families: costs what expired.
  CREATE INDEX vigil_refresh_families_expires ON {s}.vigil_refresh_families (expires_at);
  CREATE TABLE {s}.vigil_signing_keys (
    generation integer PRIMARY KEY,
    created_at bigint NOT NULL,
    activates_at bigint NOT NULL,
    kid text NOT NULL UNIQUE,
    alg text NOT NULL,
    private_jwk text NOT NULL,
    public_jwk text NOT NULL
  );
  `,
];

const FAMILY_COLUMNS =
  'session_id, family_id, current_hash, previous_hash, salt, rotated_at, revoked, expires_at, version';
const KEY_COLUMNS = 'generation, kid, alg, private_jwk, public_jwk, created_at, activates_at';
/** Families deleted per purge statement, so one purge never holds many row locks for long. */
const PURGE_BATCH = 1000;

/** Every SQL text of the token store for one schema. */
export function tokenStatementsFor(schema: string) {
  const s = escapeIdentifier(schema);
  const families = `${s}.vigil_refresh_families`;
  const keys = `${s}.vigil_signing_keys`;
  return {
    insertFamily: `INSERT INTO ${families} (session_id, family_id, current_hash, expires_at) VALUES ($1, $2, $3, $4)`,
    selectFamily: `SELECT ${FAMILY_COLUMNS} FROM ${families} WHERE session_id = $1 AND family_id = $2`,
    /** Applies only if the row is still the version the decision was made on (0 rows: decide again). */
    updateFamily: `UPDATE ${families} SET current_hash = $4, previous_hash = $5, salt = $6, rotated_at = $7,
        revoked = $8, version = version + 1
      WHERE session_id = $1 AND family_id = $2 AND version = $3`,
    purgeFamilies: `DELETE FROM ${families} WHERE (session_id, family_id) IN (
      SELECT session_id, family_id FROM ${families} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`,
    selectKeys: `SELECT ${KEY_COLUMNS} FROM ${keys} ORDER BY generation`,
    insertKey: `INSERT INTO ${keys} (${KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (generation) DO NOTHING`,
    deleteKeys: `DELETE FROM ${keys} WHERE generation <= $1`,
  } as const;
}

interface FamilyRow extends QueryResultRow {
  session_id: string;
  family_id: string;
  current_hash: string;
  previous_hash: string | null;
  salt: string | null;
  rotated_at: string | null;
  revoked: boolean;
  expires_at: string;
  version: number;
}

interface KeyRow extends QueryResultRow {
  generation: number;
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: string;
  activates_at: string;
}

function toFamily(row: FamilyRow): RefreshFamily {
  return {
    sessionId: row.session_id,
    familyId: row.family_id,
    currentHash: row.current_hash,
    previousHash: row.previous_hash,
    salt: row.salt,
    rotatedAt: row.rotated_at === null ? null : Number(row.rotated_at),
    revoked: row.revoked,
    expiresAt: Number(row.expires_at),
  };
}

function toKey(row: KeyRow): StoredSigningKey {
  return {
    generation: row.generation,
    kid: row.kid,
    alg: row.alg,
    privateJwk: row.private_jwk,
    publicJwk: row.public_jwk,
    createdAt: Number(row.created_at),
    activatesAt: Number(row.activates_at),
  };
}

export interface PostgresTokenStoreOptions {
  /** The session store's schema. */
  schema: string;
  /** Longest one statement may take, in ms (for messages; the pool bounds it). */
  queryTimeoutMs: number;
  /** Longest wait for the migration (and another node's), in ms. Default 30000. */
  migrationTimeoutMs?: number;
  /** A name for messages; never a password. */
  label: string;
  /** Whether the session store was closed: calls then fail `store_unavailable`. */
  closed: () => boolean;
}

/**
 * Token mode's state in PostgreSQL, on the session store's pool (`PostgresStore#tokenStore()`),
 * in its schema. A rotation is read, decide (core's `decideRotation`), then one conditional
 * `UPDATE … WHERE version = <read>`: no lock across round trips, and of two refreshes presenting
 * the same token only one write applies; the other decides again on the new row (and gets `grace`).
 * The tables are made on first use, by whichever node gets there first.
 */
export class PostgresTokenStore implements TokenStore {
  readonly #pool: Pool;
  readonly #options: PostgresTokenStoreOptions;
  readonly #sql: ReturnType<typeof tokenStatementsFor>;
  #migrated: Promise<void> | undefined;

  constructor(pool: Pool, options: PostgresTokenStoreOptions) {
    if (!SCHEMA_NAME.test(options.schema)) {
      throw new TypeError(
        'PostgresTokenStore: schema must be a lower-case SQL name of at most 48 characters',
      );
    }
    this.#pool = pool;
    this.#options = options;
    this.#sql = tokenStatementsFor(options.schema);
  }

  /** Creates the tables if missing; later calls reuse the first success (a failure is retried next time). */
  migrate(): Promise<void> {
    this.#migrated ??= this.#migrate().catch((error: unknown) => {
      this.#migrated = undefined;
      throw error;
    });
    return this.#migrated;
  }

  issueFamily({ sessionId, familyId, tokenHash, expiresAt }: NewRefreshFamily): Promise<void> {
    return this.#run('issueFamily', async () => {
      await this.#pool.query(this.#sql.insertFamily, [sessionId, familyId, tokenHash, expiresAt]);
    });
  }

  rotate(request: RotateRequest): Promise<RotateOutcome> {
    return this.#run('rotate', async () => {
      // Each retry means another writer changed the row since our read: progress, so no limit
      // here; the pool's statement timeouts (and the server's storeTimeout) bound the call.
      for (;;) {
        const { rows } = await this.#pool.query<FamilyRow>(this.#sql.selectFamily, [
          request.sessionId,
          request.familyId,
        ]);
        const row = rows[0];
        const { outcome, write } = decideRotation(row === undefined ? null : toFamily(row), request);
        if (write === null || row === undefined) return outcome;
        const { rowCount } = await this.#pool.query(this.#sql.updateFamily, [
          write.sessionId,
          write.familyId,
          row.version,
          write.currentHash,
          write.previousHash,
          write.salt,
          write.rotatedAt,
          write.revoked,
        ]);
        if (rowCount === 1) return outcome;
      }
    });
  }

  purgeExpiredFamilies(now: number, limit: number): Promise<number> {
    return this.#run('purgeExpiredFamilies', async () => {
      let purged = 0;
      while (purged < limit) {
        const batch = Math.min(PURGE_BATCH, limit - purged);
        const { rowCount } = await this.#pool.query(this.#sql.purgeFamilies, [now, batch]);
        purged += rowCount ?? 0;
        if ((rowCount ?? 0) < batch) break;
      }
      return purged;
    });
  }

  listSigningKeys(): Promise<StoredSigningKey[]> {
    return this.#run('listSigningKeys', async () => {
      const { rows } = await this.#pool.query<KeyRow>(this.#sql.selectKeys);
      return rows.map(toKey);
    });
  }

  addSigningKey(key: StoredSigningKey): Promise<boolean> {
    checkSigningKey(key);
    return this.#run('addSigningKey', async () => {
      const { rowCount } = await this.#pool.query(this.#sql.insertKey, [
        key.generation,
        key.kid,
        key.alg,
        key.privateJwk,
        key.publicJwk,
        key.createdAt,
        key.activatesAt,
      ]);
      return rowCount === 1;
    });
  }

  deleteSigningKeys(upTo: number): Promise<number> {
    return this.#run('deleteSigningKeys', async () => {
      const { rowCount } = await this.#pool.query(this.#sql.deleteKeys, [upTo]);
      return rowCount ?? 0;
    });
  }

  async #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const { label, closed, queryTimeoutMs } = this.#options;
    if (closed()) throw new StoreUnavailableError(`${label}: the store is closed`);
    try {
      await this.migrate();
      return await work();
    } catch (error) {
      throw toStoreError(error, `token ${operation}`, label, queryTimeoutMs, 1000);
    }
  }

  /** Its own version table: the token tables migrate apart from the sessions' ones. */
  async #migrate(): Promise<void> {
    await applyMigrations(this.#pool, {
      schema: this.#options.schema,
      versionTable: 'vigil_token_schema',
      migrations: TOKEN_MIGRATIONS,
      owner: 'PostgresTokenStore',
      timeoutMs: this.#options.migrationTimeoutMs ?? 30_000,
    });
  }
}
