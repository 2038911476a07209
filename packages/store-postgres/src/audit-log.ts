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
import { escapeIdentifier, Pool, type QueryResultRow } from 'pg';
import { boundedPoolConfig, parseSpec, toStoreError } from './connection.js';
import { applyMigrations } from './schema-migrations.js';
import { SCHEMA_NAME } from './sql.js';

/**
 * The audit trail's schema, apart from the sessions': its own version table (`vigil_audit_schema`),
 * so that either can be migrated without the other. Both take the same per-schema advisory lock,
 * since both may create the schema itself. Append new migrations; never edit a released one. `{s}`
 * is the quoted schema name.
 *
 * `subject` is bytea (its UTF-8 bytes): a subject is any JSON string, and PostgreSQL text cannot
 * hold NUL. `session_id` sorts by bytes (`COLLATE "C"`), the order every audit log pages in.
 */
export const AUDIT_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE {s}.vigil_audit (
    ended_at bigint NOT NULL,
    session_id text COLLATE "C" PRIMARY KEY,
    subject bytea NOT NULL,
    policy text NOT NULL,
    reason text NOT NULL,
    actor text NOT NULL
  );
  CREATE INDEX vigil_audit_ended ON {s}.vigil_audit (ended_at, session_id);
  CREATE INDEX vigil_audit_subject ON {s}.vigil_audit (subject, ended_at, session_id);
  `,
];

/** Rows deleted per purge statement, so one purge never holds many row locks for long. */
const PURGE_BATCH = 1000;

const COLUMNS = 'ended_at, session_id, subject, policy, reason, actor';
const NEWEST_FIRST = 'ORDER BY ended_at DESC, session_id DESC';

/** Every SQL text of the log for one schema; the tests read them to check their plans. */
export function auditStatementsFor(schema: string) {
  const t = `${escapeIdentifier(schema)}.vigil_audit`;
  return {
    insert: `INSERT INTO ${t} (${COLUMNS})
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[])
      ON CONFLICT (session_id) DO NOTHING`,
    newest: `SELECT ${COLUMNS} FROM ${t} ${NEWEST_FIRST} LIMIT $1`,
    before: `SELECT ${COLUMNS} FROM ${t} WHERE (ended_at, session_id) < ($2, $3) ${NEWEST_FIRST} LIMIT $1`,
    newestOfSubject: `SELECT ${COLUMNS} FROM ${t} WHERE subject = $2 ${NEWEST_FIRST} LIMIT $1`,
    beforeOfSubject: `SELECT ${COLUMNS} FROM ${t}
      WHERE subject = $2 AND (ended_at, session_id) < ($3, $4) ${NEWEST_FIRST} LIMIT $1`,
    purge: `DELETE FROM ${t} WHERE session_id IN (
      SELECT session_id FROM ${t} WHERE ended_at < $1 ORDER BY ended_at LIMIT ${PURGE_BATCH})`,
  } as const;
}

interface EntryRow extends QueryResultRow {
  ended_at: string;
  session_id: string;
  subject: Buffer;
  policy: string;
  reason: string;
  actor: string;
}

function toEntry(row: EntryRow): AuditEntry {
  return {
    sessionId: row.session_id,
    subject: row.subject.toString('utf8'),
    policy: row.policy,
    reason: row.reason as EndReason,
    actor: row.actor as AuditActor,
    endedAt: Number(row.ended_at),
  };
}

export interface PostgresAuditLogOptions {
  /** The schema holding the table (the session store's, normally). Default `public`, or `?schema=` of a spec. */
  schema?: string;
  /** Most connections of the pool `fromUrl` opens. Default 2: appends are batched, reads are rare. */
  maxConnections?: number;
  /** Longest one call may take, in ms (`fromUrl`'s pool bounds its statements by it). Default 1000. */
  queryTimeoutMs?: number;
  /** Longest wait for the migration (and another node's), in ms. Default 30000. */
  migrationTimeoutMs?: number;
  /** Connection errors of idle pooled connections (log them). Default: ignored. */
  onError?: (error: unknown) => void;
  /** Whether `close()` ends the pool. Default false for a pool you pass, true for `fromUrl`. */
  ownsPool?: boolean;
  /** A name for messages; never a password. Default `postgres`. */
  label?: string;
}

/**
 * The audit trail in PostgreSQL, next to the sessions (same database and schema, its own table).
 * An append is one statement (all of a batch or nothing); a page is one index range from the cursor.
 * The table is created on first use (or `migrate()`), by whichever node gets there first.
 */
export class PostgresAuditLog implements AuditLog {
  readonly #pool: Pool;
  readonly #schema: string;
  readonly #sql: ReturnType<typeof auditStatementsFor>;
  readonly #timeoutMs: number;
  readonly #migrationTimeoutMs: number;
  readonly #ownsPool: boolean;
  readonly #label: string;
  #migrated: Promise<void> | undefined;
  #closed = false;

  constructor(pool: Pool, options: PostgresAuditLogOptions = {}) {
    const schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) {
      throw new TypeError('PostgresAuditLog: schema must be a lower-case SQL name of at most 48 characters');
    }
    this.#pool = pool;
    this.#schema = schema;
    this.#sql = auditStatementsFor(schema);
    this.#timeoutMs = options.queryTimeoutMs ?? 1000;
    this.#migrationTimeoutMs = options.migrationTimeoutMs ?? 30_000;
    this.#ownsPool = options.ownsPool ?? false;
    this.#label = options.label ?? 'postgres';
    pool.on('error', options.onError ?? (() => {}));
  }

  /** A spec as the session store takes it (`postgres://…[?schema=NAME]`), with a small pool of its own. */
  static fromUrl(spec: string, options: PostgresAuditLogOptions = {}): PostgresAuditLog {
    const { connectionString, label, schema } = parseSpec(spec);
    const pool = new Pool({
      ...boundedPoolConfig(options.queryTimeoutMs ?? 1000, options.maxConnections ?? 2),
      connectionString,
      application_name: 'vigil-audit',
    });
    return new PostgresAuditLog(pool, {
      ...options,
      schema: options.schema ?? schema,
      label: options.label ?? label,
      ownsPool: options.ownsPool ?? true,
    });
  }

  /** Creates the table if missing; later calls reuse the first success (a failure is retried next time). */
  migrate(): Promise<void> {
    this.#migrated ??= this.#migrate().catch((error: unknown) => {
      this.#migrated = undefined;
      throw error;
    });
    return this.#migrated;
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    for (const entry of entries) checkAuditEntry(entry);
    if (entries.length === 0) return;
    const columns: unknown[][] = [[], [], [], [], [], []];
    for (const e of entries) {
      const values = [e.endedAt, e.sessionId, Buffer.from(e.subject, 'utf8'), e.policy, e.reason, e.actor];
      for (const [i, value] of values.entries()) columns[i]?.push(value);
    }
    await this.#run('append', () => this.#pool.query(this.#sql.insert, columns));
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    checkAuditLimit(query.limit);
    const start = auditQueryStart(query);
    const limit = query.limit + 1;
    const sql = this.#sql;
    const subject = query.subject === undefined ? undefined : Buffer.from(query.subject, 'utf8');
    const result = await this.#run('query', () => {
      if (subject === undefined) {
        return start === undefined
          ? this.#pool.query<EntryRow>(sql.newest, [limit])
          : this.#pool.query<EntryRow>(sql.before, [limit, start.endedAt, start.sessionId]);
      }
      return start === undefined
        ? this.#pool.query<EntryRow>(sql.newestOfSubject, [limit, subject])
        : this.#pool.query<EntryRow>(sql.beforeOfSubject, [limit, subject, start.endedAt, start.sessionId]);
    });
    return pageOf(result.rows.map(toEntry), query.limit);
  }

  async purge(olderThan: number): Promise<number> {
    let total = 0;
    for (;;) {
      const { rowCount } = await this.#run('purge', () => this.#pool.query(this.#sql.purge, [olderThan]));
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < PURGE_BATCH) return total;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsPool) await this.#pool.end();
  }

  async #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError(`${this.#label}: the audit log is closed`);
    try {
      await this.migrate();
      return await work();
    } catch (error) {
      throw toStoreError(error, `audit ${operation}`, this.#label, this.#timeoutMs, 1000);
    }
  }

  /** Its own version table: the audit table migrates apart from the sessions' ones. */
  async #migrate(): Promise<void> {
    await applyMigrations(this.#pool, {
      schema: this.#schema,
      versionTable: 'vigil_audit_schema',
      migrations: AUDIT_MIGRATIONS,
      owner: 'PostgresAuditLog',
      timeoutMs: this.#migrationTimeoutMs,
    });
  }
}
