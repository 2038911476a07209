import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type AuditActor,
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
  auditQueryStart,
  checkAuditEntry,
  checkAuditLimit,
  type EndReason,
  pageOf,
  StoreUnavailableError,
} from '@vigil/core';
import Database from 'better-sqlite3';
import { BusyLane } from './busy-lane.js';

/**
 * The audit trail's schema: its own tables and its own version row (`audit_schema`), apart from the
 * sessions' (`PRAGMA user_version` stays the session store's). Append new migrations; never edit
 * a released one.
 */
export const AUDIT_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE audit_log (
    -- One entry per session: a session ends once, and a retried batch changes nothing.
    session_id TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    policy TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    ended_at INTEGER NOT NULL
  ) STRICT;
  -- Newest first over everything, and purging the oldest.
  CREATE INDEX audit_log_ended ON audit_log (ended_at, session_id);
  -- Newest first for one subject.
  CREATE INDEX audit_log_subject ON audit_log (subject, ended_at, session_id);
  `,
];

const COLUMNS = 'session_id, subject, policy, reason, actor, ended_at';
/** The log's order, newest first; BINARY collation = UTF-8 byte order, as the contract wants. */
const NEWEST_FIRST = 'ORDER BY ended_at DESC, session_id DESC';

/** Every SQL text of the log; the tests read them to check their query plans. */
export const AUDIT_SQL = {
  createSchemaTable: 'CREATE TABLE IF NOT EXISTS audit_schema (version INTEGER NOT NULL) STRICT',
  schemaVersion: 'SELECT coalesce(max(version), 0) FROM audit_schema',
  setSchemaVersion: 'DELETE FROM audit_schema; INSERT INTO audit_schema (version) VALUES',
  insert: `INSERT INTO audit_log (${COLUMNS})
    VALUES (@sessionId, @subject, @policy, @reason, @actor, @endedAt)
    ON CONFLICT (session_id) DO NOTHING`,
  newest: `SELECT ${COLUMNS} FROM audit_log ${NEWEST_FIRST} LIMIT @limit`,
  before: `SELECT ${COLUMNS} FROM audit_log
    WHERE (ended_at, session_id) < (@endedAt, @sessionId) ${NEWEST_FIRST} LIMIT @limit`,
  newestOfSubject: `SELECT ${COLUMNS} FROM audit_log WHERE subject = @subject ${NEWEST_FIRST} LIMIT @limit`,
  beforeOfSubject: `SELECT ${COLUMNS} FROM audit_log
    WHERE subject = @subject AND (ended_at, session_id) < (@endedAt, @sessionId) ${NEWEST_FIRST} LIMIT @limit`,
  /** The oldest entries past the cutoff, by `audit_log_ended`; deleted by rowid in the same transaction. */
  purgeable: 'SELECT rowid FROM audit_log WHERE ended_at < ? ORDER BY ended_at LIMIT ?',
  deleteByRowid: 'DELETE FROM audit_log WHERE rowid = ?',
} as const;

interface EntryRow {
  session_id: string;
  subject: string;
  policy: string;
  reason: string;
  actor: string;
  ended_at: number;
}

interface Position {
  endedAt: number;
  sessionId: string;
}

export interface SqliteAuditLogOptions {
  /** The database file: the session store's own (`sqlite:PATH`), opened with a connection of its own. */
  path: string;
  /**
   * How long a call waits for a lock held by another connection, in ms (default 1000): on timers,
   * never blocking the event loop (see `BusyLane`); opening waits up to this long too, blocking.
   */
  busyTimeoutMs?: number;
}

/** Rows deleted per purge transaction: each holds the write lock (and blocks the event loop) briefly. */
const PURGE_BATCH = 1000;

/** SQLite result codes that mean "cannot answer now" (as the session store reads them). */
const UNAVAILABLE_CODES =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL|NOLFS|PERM|NOMEM|AUTH)(_|$)/;

function toStoreError(operation: string, error: unknown): unknown {
  if (error instanceof Database.SqliteError && UNAVAILABLE_CODES.test(error.code)) {
    return new StoreUnavailableError(`SQLite audit log: ${operation} failed (${error.code})`, {
      cause: error,
    });
  }
  return error;
}

function toEntry(row: EntryRow): AuditEntry {
  return {
    sessionId: row.session_id,
    subject: row.subject,
    policy: row.policy,
    reason: row.reason as EndReason,
    actor: row.actor as AuditActor,
    endedAt: row.ended_at,
  };
}

/** Creates the tables if missing, under the write lock, so that several processes opening at once agree. */
function migrate(db: Database.Database): void {
  const target = AUDIT_MIGRATIONS.length;
  const apply = db.transaction(() => {
    db.exec(AUDIT_SQL.createSchemaTable);
    const found = db.prepare<[], number>(AUDIT_SQL.schemaVersion).pluck().get() ?? 0;
    if (found > target) {
      throw new Error(`SqliteAuditLog: audit schema version ${found} is newer than this Vigil's (${target})`);
    }
    if (found === target) return;
    for (const migration of AUDIT_MIGRATIONS.slice(found)) db.exec(migration);
    db.exec(`${AUDIT_SQL.setSchemaVersion} (${target})`);
  });
  apply.immediate();
}

/**
 * The audit trail in the SQLite file of the embedded store, on a connection of its own (the store
 * keeps its handle to itself; WAL lets both work side by side). Appends are committed and synced
 * before they resolve; pages walk an index from the cursor, so each costs what it returns. Once
 * open, SQLite's busy timeout is 0: a call that meets a lock held by another process waits for it on
 * timers, in order with the log's other calls (`BusyLane`), up to `busyTimeoutMs`.
 */
export class SqliteAuditLog implements AuditLog {
  readonly #db: Database.Database;
  readonly #lane: BusyLane;
  #closed = false;
  #closing: Promise<void> | null = null;
  readonly #insertTx: Database.Transaction<(entries: readonly AuditEntry[]) => void>;
  readonly #purgeTx: Database.Transaction<(olderThan: number) => number>;
  readonly #select: {
    newest: Database.Statement<[{ limit: number }], EntryRow>;
    before: Database.Statement<[Position & { limit: number }], EntryRow>;
    newestOfSubject: Database.Statement<[{ subject: string; limit: number }], EntryRow>;
    beforeOfSubject: Database.Statement<[Position & { subject: string; limit: number }], EntryRow>;
  };

  /** Opens the file (creating it and its directory if needed) and creates the audit tables if missing. */
  static async open(options: SqliteAuditLogOptions): Promise<SqliteAuditLog> {
    return new SqliteAuditLog(options);
  }

  constructor({ path, busyTimeoutMs = 1000 }: SqliteAuditLogOptions) {
    if (typeof path !== 'string' || path === '')
      throw new TypeError('SqliteAuditLog: path must be a file path');
    let db: Database.Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
      db = new Database(path, { timeout: busyTimeoutMs });
    } catch (error) {
      throw toStoreError('open', error);
    }
    try {
      if (path !== ':memory:') db.pragma('journal_mode = WAL');
      // Acknowledged entries survive a power cut, as the store's ends do.
      db.pragma('synchronous = FULL');
      migrate(db);
      const insert = db.prepare<[AuditEntry]>(AUDIT_SQL.insert);
      const purgeable = db.prepare<[number, number], number>(AUDIT_SQL.purgeable).pluck();
      const deleteByRowid = db.prepare<[number]>(AUDIT_SQL.deleteByRowid);
      this.#select = {
        newest: db.prepare(AUDIT_SQL.newest),
        before: db.prepare(AUDIT_SQL.before),
        newestOfSubject: db.prepare(AUDIT_SQL.newestOfSubject),
        beforeOfSubject: db.prepare(AUDIT_SQL.beforeOfSubject),
      };
      // From here on, locks held elsewhere are waited for on timers (`#lane`), never in SQLite.
      db.pragma('busy_timeout = 0');
      this.#insertTx = db.transaction((entries: readonly AuditEntry[]) => {
        for (const entry of entries) insert.run(entry);
      });
      this.#purgeTx = db.transaction((olderThan: number) => {
        const due = purgeable.all(olderThan, PURGE_BATCH);
        for (const rowid of due) deleteByRowid.run(rowid);
        return due.length;
      });
    } catch (error) {
      db.close();
      throw toStoreError('open', error);
    }
    this.#db = db;
    this.#lane = new BusyLane(busyTimeoutMs);
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    for (const entry of entries) checkAuditEntry(entry);
    if (entries.length === 0) return;
    // Only the columns: better-sqlite3 refuses named parameters it does not use.
    const rows = entries.map(({ sessionId, subject, policy, reason, actor, endedAt }) => ({
      sessionId,
      subject,
      policy,
      reason,
      actor,
      endedAt,
    }));
    await this.#run('append', () => this.#insertTx.immediate(rows));
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    checkAuditLimit(query.limit);
    const start = auditQueryStart(query);
    const limit = query.limit + 1;
    const rows = await this.#run('query', () => {
      const select = this.#select;
      if (query.subject === undefined) {
        return start === undefined ? select.newest.all({ limit }) : select.before.all({ ...start, limit });
      }
      const { subject } = query;
      return start === undefined
        ? select.newestOfSubject.all({ subject, limit })
        : select.beforeOfSubject.all({ ...start, subject, limit });
    });
    return pageOf(rows.map(toEntry), query.limit);
  }

  async purge(olderThan: number): Promise<number> {
    let total = 0;
    for (;;) {
      const count = await this.#run('purge', () => this.#purgeTx.immediate(olderThan));
      total += count;
      if (count < PURGE_BATCH) return total;
      // Let requests in between batches: better-sqlite3 blocks the event loop while it works.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Lets the calls made before it finish (each within its wait for a lock), then closes. */
  async close(): Promise<void> {
    if (this.#closing === null) {
      this.#closed = true;
      this.#closing = this.#lane.idle().then(() => {
        this.#db.close();
      });
    }
    await this.#closing;
  }

  async #run<T>(operation: string, body: () => T): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError(`SQLite audit log: ${operation} after close`);
    try {
      return await this.#lane.run(body);
    } catch (error) {
      throw toStoreError(operation, error);
    }
  }
}
