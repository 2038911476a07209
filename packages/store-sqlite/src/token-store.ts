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
import Database from 'better-sqlite3';

/**
 * Token mode's schema (refresh-token families, signing keys), apart from the sessions': its own
 * version row (`token_schema`), so that `PRAGMA user_version` stays the session store's and each
 * part migrates on its own. Append new migrations; never edit a released one.
 */
export const TOKEN_MIGRATIONS: readonly string[] = [
  // 1: token mode.
  `
  CREATE TABLE refresh_families (
    session_id TEXT NOT NULL,
    -- Hashes only: of the family part, of the current and the previous token. No usable token.
    family_id TEXT NOT NULL,
    current_hash TEXT NOT NULL,
    previous_hash TEXT,
    salt TEXT,
    rotated_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, family_id)
  ) STRICT, WITHOUT ROWID;
  -- Purging expired families: costs what expired.
  CREATE INDEX refresh_families_expires ON refresh_families (expires_at);
  CREATE TABLE signing_keys (
    generation INTEGER PRIMARY KEY,
    kid TEXT NOT NULL UNIQUE,
    alg TEXT NOT NULL,
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    activates_at INTEGER NOT NULL
  ) STRICT;
  `,
];

/** Every SQL text of the token store, in one place (prepared once, when it is made). */
export const TOKEN_SQL = {
  createSchemaTable: 'CREATE TABLE IF NOT EXISTS token_schema (version INTEGER NOT NULL) STRICT',
  schemaVersion: 'SELECT coalesce(max(version), 0) FROM token_schema',
  setSchemaVersion: 'DELETE FROM token_schema; INSERT INTO token_schema (version) VALUES',
  insertFamily: `INSERT INTO refresh_families (session_id, family_id, current_hash, expires_at)
    VALUES (@sessionId, @familyId, @tokenHash, @expiresAt)`,
  selectFamily: `SELECT session_id, family_id, current_hash, previous_hash, salt, rotated_at, revoked, expires_at
    FROM refresh_families WHERE session_id = ? AND family_id = ?`,
  updateFamily: `UPDATE refresh_families SET current_hash = @currentHash, previous_hash = @previousHash,
    salt = @salt, rotated_at = @rotatedAt, revoked = @revoked
    WHERE session_id = @sessionId AND family_id = @familyId`,
  /** Through `refresh_families_expires`; deleted in the same transaction. */
  selectExpiredFamilies: 'SELECT session_id, family_id FROM refresh_families WHERE expires_at <= ? LIMIT ?',
  deleteFamily: 'DELETE FROM refresh_families WHERE session_id = ? AND family_id = ?',
  selectKeys: `SELECT generation, kid, alg, private_jwk, public_jwk, created_at, activates_at
    FROM signing_keys ORDER BY generation`,
  insertKey: `INSERT INTO signing_keys (generation, kid, alg, private_jwk, public_jwk, created_at, activates_at)
    VALUES (@generation, @kid, @alg, @privateJwk, @publicJwk, @createdAt, @activatesAt)
    ON CONFLICT (generation) DO NOTHING`,
  deleteKeys: 'DELETE FROM signing_keys WHERE generation <= ?',
} as const;

interface FamilyRow {
  session_id: string;
  family_id: string;
  current_hash: string;
  previous_hash: string | null;
  salt: string | null;
  rotated_at: number | null;
  revoked: number;
  expires_at: number;
}

interface KeyRow {
  generation: number;
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  activates_at: number;
}

type FamilyWrite = Pick<
  RefreshFamily,
  'sessionId' | 'familyId' | 'currentHash' | 'previousHash' | 'salt' | 'rotatedAt'
> & { revoked: number };

const UNAVAILABLE_CODES =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL|NOLFS|PERM|NOMEM|AUTH)(_|$)/;

function toStoreError(operation: string, error: unknown): unknown {
  if (error instanceof Database.SqliteError && UNAVAILABLE_CODES.test(error.code)) {
    return new StoreUnavailableError(`SQLite token store: ${operation} failed (${error.code})`, {
      cause: error,
    });
  }
  return error;
}

function toFamily(row: FamilyRow): RefreshFamily {
  return {
    sessionId: row.session_id,
    familyId: row.family_id,
    currentHash: row.current_hash,
    previousHash: row.previous_hash,
    salt: row.salt,
    rotatedAt: row.rotated_at,
    revoked: row.revoked === 1,
    expiresAt: row.expires_at,
  };
}

function toKey(row: KeyRow): StoredSigningKey {
  return {
    generation: row.generation,
    kid: row.kid,
    alg: row.alg,
    privateJwk: row.private_jwk,
    publicJwk: row.public_jwk,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
  };
}

/** Creates the tables if missing, under the write lock, so that processes opening together agree. */
function migrate(db: Database.Database): void {
  const target = TOKEN_MIGRATIONS.length;
  db.transaction(() => {
    db.exec(TOKEN_SQL.createSchemaTable);
    const found = db.prepare<[], number>(TOKEN_SQL.schemaVersion).pluck().get() ?? 0;
    if (found > target) {
      throw new Error(
        `SqliteTokenStore: token schema version ${found} is newer than this Vigil's (${target})`,
      );
    }
    if (found === target) return;
    for (const migration of TOKEN_MIGRATIONS.slice(found)) db.exec(migration);
    db.exec(`${TOKEN_SQL.setSchemaVersion} (${target})`);
  }).immediate();
}

/**
 * How the token store's calls reach the connection: the session store's queues them in its lane
 * (in order with its own calls, waiting on timers for a lock held elsewhere, synced first). Each body
 * is one transaction or one statement, safe to run again when it met a lock.
 */
export type ConnectionRunner = <T>(body: () => T) => Promise<T>;

/** Runs a call at once, on a connection that nobody else queues calls on. */
const runAtOnce: ConnectionRunner = (body) => new Promise((resolve) => resolve(body()));

/**
 * Token mode's state in the embedded store's SQLite file, on the session store's own connection
 * (`SqliteStore#tokenStore()`), so its commits are synced like the store's creations and ends
 * (`synchronous = FULL`). A rotation is one immediate transaction: read, decide, write — two
 * processes presenting the same token are serialized by the write lock, and exactly one rotates.
 */
export class SqliteTokenStore implements TokenStore {
  readonly #db: Database.Database;
  readonly #runner: ConnectionRunner;
  readonly #insertFamily: Database.Statement<[Omit<NewRefreshFamily, 'issuedAt'>]>;
  readonly #insertKey: Database.Statement<[StoredSigningKey]>;
  readonly #selectKeys: Database.Statement<[], KeyRow>;
  readonly #deleteKeys: Database.Statement<[number]>;
  readonly #rotateTx: Database.Transaction<(request: RotateRequest) => RotateOutcome>;
  readonly #purgeTx: Database.Transaction<(now: number, limit: number) => number>;

  /**
   * On a connection the caller owns and closes (the session store's); creates the tables if missing
   * (waiting for a lock as the connection's busy timeout says: the session store sets one for that).
   * `runner` runs every call: the session store's queues it in order with its own, waits for locks
   * held elsewhere on timers, and sets `synchronous = FULL` again first if touches left the shared
   * connection at NORMAL, so no token write commits without fsync.
   */
  constructor(db: Database.Database, runner: ConnectionRunner = runAtOnce) {
    this.#db = db;
    this.#runner = runner;
    try {
      migrate(db);
      this.#insertFamily = db.prepare(TOKEN_SQL.insertFamily);
      this.#insertKey = db.prepare(TOKEN_SQL.insertKey);
      this.#selectKeys = db.prepare(TOKEN_SQL.selectKeys);
      this.#deleteKeys = db.prepare(TOKEN_SQL.deleteKeys);
      const selectFamily = db.prepare<[string, string], FamilyRow>(TOKEN_SQL.selectFamily);
      const updateFamily = db.prepare<[FamilyWrite]>(TOKEN_SQL.updateFamily);
      const selectExpired = db.prepare<[number, number], { session_id: string; family_id: string }>(
        TOKEN_SQL.selectExpiredFamilies,
      );
      const deleteFamily = db.prepare<[string, string]>(TOKEN_SQL.deleteFamily);
      this.#rotateTx = db.transaction((request: RotateRequest) => {
        const row = selectFamily.get(request.sessionId, request.familyId);
        const { outcome, write } = decideRotation(row === undefined ? null : toFamily(row), request);
        if (write !== null) {
          updateFamily.run({
            sessionId: write.sessionId,
            familyId: write.familyId,
            currentHash: write.currentHash,
            previousHash: write.previousHash,
            salt: write.salt,
            rotatedAt: write.rotatedAt,
            revoked: write.revoked ? 1 : 0,
          });
        }
        return outcome;
      });
      this.#purgeTx = db.transaction((now: number, limit: number) => {
        const due = selectExpired.all(now, limit);
        for (const { session_id, family_id } of due) deleteFamily.run(session_id, family_id);
        return due.length;
      });
    } catch (error) {
      throw toStoreError('open', error);
    }
  }

  async issueFamily(family: NewRefreshFamily): Promise<void> {
    const { sessionId, familyId, tokenHash, expiresAt } = family;
    await this.#run('issueFamily', () =>
      this.#insertFamily.run({ sessionId, familyId, tokenHash, expiresAt }),
    );
  }

  async rotate(request: RotateRequest): Promise<RotateOutcome> {
    return this.#run('rotate', () => this.#rotateTx.immediate(request));
  }

  async purgeExpiredFamilies(now: number, limit: number): Promise<number> {
    return this.#run('purgeExpiredFamilies', () => this.#purgeTx.immediate(now, limit));
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    return this.#run('listSigningKeys', () => this.#selectKeys.all().map(toKey));
  }

  async addSigningKey(key: StoredSigningKey): Promise<boolean> {
    checkSigningKey(key);
    const { generation, kid, alg, privateJwk, publicJwk, createdAt, activatesAt } = key;
    return this.#run(
      'addSigningKey',
      () =>
        this.#insertKey.run({ generation, kid, alg, privateJwk, publicJwk, createdAt, activatesAt })
          .changes === 1,
    );
  }

  async deleteSigningKeys(upTo: number): Promise<number> {
    return this.#run('deleteSigningKeys', () => this.#deleteKeys.run(upTo).changes);
  }

  async #run<T>(operation: string, body: () => T): Promise<T> {
    if (!this.#db.open) throw new StoreUnavailableError(`SQLite token store: ${operation} after close`);
    try {
      return await this.#runner(body);
    } catch (error) {
      throw toStoreError(operation, error);
    }
  }
}
