import {
  applyTouch,
  type CreateOptions,
  type EndReason,
  endSession,
  type ManualEndReason,
  type SessionEvent,
  type SessionLookup,
  type SessionRecord,
  type Store,
  StoreUnavailableError,
  settle,
  type TouchDecision,
  type TouchParams,
  type TouchResult,
  TurnBatch,
} from '@vigil/core';
import { type ClientConfig, DatabaseError, Pool, type PoolClient, type QueryResultRow } from 'pg';
import { boundedPoolConfig, parseSpec, toStoreError } from './connection.js';
import { type MigrateResult, migrate } from './migrate.js';
import { encodeEvent, type RemoteEventListener, RemoteEvents } from './remote-events.js';
import { SCHEMA_NAME, type StatementName, statementsFor } from './sql.js';
import { PostgresTokenStore } from './token-store.js';

export interface PostgresStoreOptions {
  /** The schema holding Vigil's tables; also names the events channel. Default `public`. */
  schema?: string;
  /**
   * Longest any one store call may take, in ms (waiting for a connection included); past it the
   * call fails `store_unavailable`. Keep it under the server's `storeTimeout` (2 s). Default 1000.
   */
  queryTimeoutMs?: number;
  /** Most connections the pool opens (`fromUrl` only). Default 10. */
  maxConnections?: number;
  /** What a `store_unavailable` tells clients to wait (`Retry-After`), in ms. Default 1000. */
  retryAfterMs?: number;
  /**
   * Apply missing schema migrations before the first call (default true). With false, run
   * `vigil migrate` (or `migrate()`) yourself, e.g. with a role that may create tables.
   */
  migrate?: boolean;
  /** Longest wait for one migration statement (and for another node's migration), in ms. Default 30000. */
  migrationTimeoutMs?: number;
  /** Connection and background errors (log them; calls report theirs themselves). Default: ignored. */
  onError?: (error: unknown) => void;
  /** Whether `close()` ends the pool too. Default false for a pool you pass, true for `fromUrl`. */
  ownsPool?: boolean;
  /** A name for error messages; never a password. Default `postgres`. */
  label?: string;
}

/** A row of `vigil_sessions` as pg returns it: bigint columns arrive as strings. */
interface SessionRow extends QueryResultRow {
  id: string;
  subject: string;
  policy: string;
  created_at: string;
  last_activity_at: string;
  last_seen_at: string;
  idle_expires_at: string;
  absolute_expires_at: string;
  warn_at: string | null;
  attributes: SessionRecord['attributes'];
  ended_at: string | null;
  reason: string | null;
  seq: string;
  version: number;
}

const orNull = (value: string | null): number | null => (value === null ? null : Number(value));

function toRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    subject: row.subject,
    policy: row.policy,
    createdAt: Number(row.created_at),
    lastActivityAt: Number(row.last_activity_at),
    lastSeenAt: Number(row.last_seen_at),
    idleExpiresAt: Number(row.idle_expires_at),
    absoluteExpiresAt: Number(row.absolute_expires_at),
    warnAt: orNull(row.warn_at),
    attributes: row.attributes,
    endedAt: orNull(row.ended_at),
    reason: row.reason as EndReason | null,
  };
}

/** Oldest first, ties in creation order (as the memory store lists them). */
function inCreationOrder(rows: SessionRow[]): SessionRow[] {
  return rows.sort((a, b) => Number(a.created_at) - Number(b.created_at) || Number(a.seq) - Number(b.seq));
}

function insertValues(record: SessionRecord): unknown[] {
  return [
    record.id,
    record.subject,
    record.policy,
    record.createdAt,
    record.lastActivityAt,
    record.lastSeenAt,
    record.idleExpiresAt,
    record.absoluteExpiresAt,
    record.warnAt,
    JSON.stringify(record.attributes),
    record.endedAt,
    record.reason,
  ];
}

function lookupOf(record: SessionRecord, endedNow: boolean): SessionLookup {
  return record.endedAt === null ? { kind: 'live', record } : { kind: 'ended', record, endedNow };
}

function touchResult(decision: TouchDecision): TouchResult {
  return decision.kind === 'ended'
    ? { kind: 'ended', record: decision.record, endedNow: decision.endedNow }
    : { kind: 'live', record: decision.record, extendedFromWarning: decision.extendedFromWarning };
}

type Querier = Pick<Pool | PoolClient, 'query'>;

/** One `touch` call, waiting for its turn's batch. */
interface TouchCall {
  id: string;
  params: TouchParams;
}

/**
 * One store call in progress. Once its budget is spent the caller has its `store_unavailable`, and
 * the call starts no further statement: a read-decide-write stops before the write, a transaction
 * that got its connection late does not begin. (A statement already sent may still complete, like
 * any call whose answer was lost.)
 */
interface Call {
  operation: string;
  expired: boolean;
}

/**
 * The Store contract on PostgreSQL, for several Vigil nodes sharing one database.
 *
 * - **One place decides.** Touches, reads and ends read the row, let core's lifecycle functions
 *   (`applyTouch`, `settle`, `endSession`) decide, and write back with `WHERE version = <read>`:
 *   one autocommit statement each, no lock held across round trips. A write that finds the row
 *   changed (0 rows) re-reads and decides again, so of two callers that meet the same expiry only
 *   the one whose write applied reports `endedNow`.
 * - **Claims skip, never wait.** `claimExpired`/`claimWarnings` are one statement each over a
 *   partial index with `FOR UPDATE SKIP LOCKED`, restating `settle` in SQL: concurrent nodes take
 *   different rows, and each end is recorded (and returned) once. Cost: what is due.
 * - **maxSessions** is decided under a transaction-scoped advisory lock per subject, so concurrent
 *   creations for one subject cannot exceed it together.
 * - **Bounded.** Every call ends within `queryTimeoutMs` (see connection.ts for how the pool and the
 *   server are told); failures that mean "the database cannot answer now" are `store_unavailable`.
 */
export class PostgresStore implements Store {
  readonly #pool: Pool;
  readonly #schema: string;
  readonly #timeoutMs: number;
  readonly #retryAfterMs: number;
  readonly #migrationTimeoutMs: number;
  readonly #autoMigrate: boolean;
  readonly #onError: (error: unknown) => void;
  readonly #ownsPool: boolean;
  readonly #label: string;
  readonly #sql: ReturnType<typeof statementsFor>;
  readonly #channel: string;
  readonly #events: RemoteEvents;
  #migrated: Promise<MigrateResult> | undefined;
  #closed = false;
  #tokens: PostgresTokenStore | undefined;
  readonly #touches = new TurnBatch<TouchCall, TouchResult>((calls) => this.#touchAll(calls));

  /**
   * Builds a store on a pool you configured. Calls are bounded by `queryTimeoutMs` whatever the pool
   * does; for the server-side limits too, configure it like `fromUrl` (`boundedPoolConfig`).
   */
  constructor(pool: Pool, options: PostgresStoreOptions = {}) {
    const schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) {
      throw new TypeError('PostgresStore: schema must be a lower-case SQL name of at most 48 characters');
    }
    const timeoutMs = options.queryTimeoutMs ?? 1000;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError('PostgresStore: queryTimeoutMs must be a positive integer number of ms');
    }
    this.#pool = pool;
    this.#schema = schema;
    this.#timeoutMs = timeoutMs;
    this.#retryAfterMs = options.retryAfterMs ?? 1000;
    this.#migrationTimeoutMs = options.migrationTimeoutMs ?? 30_000;
    this.#autoMigrate = options.migrate ?? true;
    this.#onError = options.onError ?? (() => {});
    this.#ownsPool = options.ownsPool ?? false;
    this.#label = options.label ?? 'postgres';
    this.#sql = statementsFor(schema);
    this.#channel = `vigil:${schema}`;
    // An idle pooled connection that dies (the server restarted) is reported here and dropped by
    // the pool; without a listener that `error` event would crash the process.
    pool.on('error', this.#onError);
    this.#events = new RemoteEvents({
      clientConfig: { ...(pool.options as ClientConfig), application_name: 'vigil-listen' },
      channel: this.#channel,
      reread: (id) =>
        this.#op('reread', async (call) => {
          const row = await this.#read(call, id);
          return row === undefined ? null : toRecord(row);
        }),
      onError: this.#onError,
    });
  }

  /**
   * `postgres://[user[:password]@]host[:port]/db[?schema=NAME&sslmode=…]` (or `postgresql://`):
   * a pool of at most `maxConnections` (default 10), bounded as `boundedPoolConfig` says. The store
   * owns that pool. Connecting and migrating happen on the first call (or `migrate()`).
   */
  static fromUrl(spec: string, options: PostgresStoreOptions = {}): PostgresStore {
    const { connectionString, label, schema } = parseSpec(spec);
    const maxConnections = options.maxConnections ?? 10;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw new RangeError('PostgresStore: maxConnections must be a positive integer');
    }
    const pool = new Pool({
      ...boundedPoolConfig(options.queryTimeoutMs ?? 1000, maxConnections),
      connectionString,
    });
    return new PostgresStore(pool, {
      ...options,
      schema: options.schema ?? schema,
      label: options.label ?? label,
      ownsPool: options.ownsPool ?? true,
    });
  }

  /** The schema this store works in. */
  get schema(): string {
    return this.#schema;
  }

  /** Connections the pool holds now (in use and idle), and callers waiting for one. */
  get poolStats(): { total: number; idle: number; waiting: number } {
    const pool = this.#pool;
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  }

  /**
   * Applies missing schema migrations (once per store instance; again after a failure). Runs on
   * the first call anyway unless `migrate: false`; `vigil migrate` calls it explicitly. Bounded by
   * `migrationTimeoutMs` per statement, not by `queryTimeoutMs`.
   */
  migrate(): Promise<MigrateResult> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError(`${this.#label}: the store is closed`));
    if (this.#migrated === undefined) {
      const running = migrate(this.#pool, { schema: this.#schema, timeoutMs: this.#migrationTimeoutMs });
      this.#migrated = running;
      running.catch(() => {
        if (this.#migrated === running) this.#migrated = undefined;
      });
    }
    return this.#migrated.catch((error: unknown) => {
      throw toStoreError(error, 'migrate', this.#label, this.#migrationTimeoutMs, this.#retryAfterMs);
    });
  }

  /** Token mode's state on the same pool, in the same schema; its tables are made on first use. */
  tokenStore(): PostgresTokenStore {
    this.#tokens ??= new PostgresTokenStore(this.#pool, {
      schema: this.#schema,
      queryTimeoutMs: this.#timeoutMs,
      migrationTimeoutMs: this.#migrationTimeoutMs,
      label: this.#label,
      closed: () => this.#closed,
    });
    return this.#tokens;
  }

  // --- cross-node events ------------------------------------------------------------------------

  /** Listens to events published by other nodes (other store instances) on the same schema. */
  onRemoteEvent(listener: RemoteEventListener): () => void {
    return this.#events.on(listener);
  }

  /** Resolves once this node receives remote events (its LISTEN is active). */
  remoteEventsReady(): Promise<void> {
    return this.#events.ready();
  }

  /**
   * Sends an event to every other node's `onRemoteEvent` listeners (NOTIFY: delivered within
   * milliseconds to the nodes listening at that moment). Events too big for a NOTIFY payload are
   * sent without their session record, which the receivers re-read (see remote-events.ts).
   */
  publish(event: SessionEvent): Promise<void> {
    return this.#op('publish', async (call) => {
      await this.#query(call, 'notify', [this.#channel, encodeEvent(this.#events.origin, event)]);
    });
  }

  // --- the Store contract -----------------------------------------------------------------------

  create(record: SessionRecord, { maxSessions }: CreateOptions): Promise<{ evicted: SessionRecord[] }> {
    return this.#op('create', async (call) => {
      if (maxSessions === null) {
        await this.#query(call, 'insert', insertValues(record));
        return { evicted: [] };
      }
      const rows = await this.#transaction(call, async (client) => {
        await this.#query(call, 'lockSubject', [`${this.#schema}:${record.subject}`], client);
        const keep = Math.max(0, maxSessions - 1);
        return (await this.#query(call, 'createEvicting', [...insertValues(record), keep], client)).rows;
      });
      return { evicted: inCreationOrder(rows).map(toRecord) };
    });
  }

  get(id: string, now: number): Promise<SessionLookup> {
    return this.#op('get', (call) =>
      this.#decide(call, id, (record) => {
        const settled = settle(record, now);
        return {
          write: settled.endedNow ? settled.record : null,
          result: () => lookupOf(settled.record, settled.endedNow),
        };
      }),
    );
  }

  /**
   * Touches wait for the rest of the event loop's turn (`TurnBatch`): a lone one is read, decided and
   * written as before; several are read in one statement and written in one (two round trips for
   * the turn, where each touch took two of its own).
   */
  touch(id: string, params: TouchParams): Promise<TouchResult> {
    return this.#touches.add({ id, params });
  }

  #touchAll(calls: readonly TouchCall[]): Array<Promise<TouchResult>> {
    const [only] = calls;
    if (calls.length === 1 && only !== undefined) return [this.#touchOne(only)];
    const batch = this.#op('touch', (call) => this.#touchBatch(call, calls));
    return calls.map((_, index) => batch.then((results) => results[index] as TouchResult));
  }

  #touchOne({ id, params }: TouchCall): Promise<TouchResult> {
    return this.#op('touch', (call) => this.#touchDecided(call, id, params));
  }

  #touchDecided(call: Call, id: string, params: TouchParams): Promise<TouchResult> {
    return this.#decide(
      call,
      id,
      (record) => {
        const decision = applyTouch(record, params);
        const write = decision.kind === 'ended' ? decision.endedNow : decision.write;
        return { write: write ? decision.record : null, result: () => touchResult(decision) };
      },
      // Only a touch that keeps the session alive may skip waiting for the disk.
      (record) => record.endedAt === null,
    );
  }

  /**
   * A turn's touches: one read of every row, the lifecycle applied to each touch in order (a session
   * touched twice sees its first touch), then one write of each session's final state, guarded by
   * the version read. A session someone else wrote in between has all its touches of the turn redone
   * one by one, in order, on the new row.
   */
  async #touchBatch(call: Call, calls: readonly TouchCall[]): Promise<TouchResult[]> {
    const ids = [...new Set(calls.map((c) => c.id))];
    const read = new Map((await this.#query(call, 'selectByIds', [ids])).rows.map((row) => [row.id, row]));
    const records = new Map<string, SessionRecord>();
    const written = new Map<string, SessionRecord>();
    const results = calls.map(({ id, params }): TouchResult => {
      const row = read.get(id);
      if (row === undefined) return { kind: 'unknown' };
      const decision = applyTouch(records.get(id) ?? toRecord(row), params);
      records.set(id, decision.record);
      if (decision.kind === 'ended' ? decision.endedNow : decision.write) written.set(id, decision.record);
      return touchResult(decision);
    });
    // Ends are synced; touches that keep their session alive are not (as in `#touchDecided`).
    const ends = [...written.values()].filter((record) => record.endedAt !== null);
    const alive = [...written.values()].filter((record) => record.endedAt === null);
    const applied = new Set<string>();
    for (const [statement, records] of [
      ['updateMany', ends],
      ['updateManyTouch', alive],
    ] as const) {
      if (records.length === 0) continue;
      const columns = [
        records.map((r) => r.id),
        records.map((r) => (read.get(r.id) as SessionRow).version),
        records.map((r) => r.lastActivityAt),
        records.map((r) => r.lastSeenAt),
        records.map((r) => r.idleExpiresAt),
        records.map((r) => r.warnAt),
        records.map((r) => r.endedAt),
        records.map((r) => r.reason),
      ];
      for (const row of (await this.#query(call, statement, columns)).rows) applied.add(row.id);
    }
    for (const [index, { id, params }] of calls.entries()) {
      if (written.has(id) && !applied.has(id)) results[index] = await this.#touchDecided(call, id, params);
    }
    return results;
  }

  end(id: string, reason: ManualEndReason, now: number): Promise<SessionLookup> {
    return this.#op('end', (call) =>
      this.#decide(call, id, (record) => {
        const settled = settle(record, now);
        // Already ended, earlier or by its deadline: the first reason stays.
        if (settled.record.endedAt !== null) {
          return {
            write: settled.endedNow ? settled.record : null,
            result: () => lookupOf(settled.record, settled.endedNow),
          };
        }
        const ended = endSession(record, reason, now);
        return { write: ended, result: () => lookupOf(ended, true) };
      }),
    );
  }

  endAllForSubject(subject: string, reason: ManualEndReason, now: number): Promise<SessionRecord[]> {
    return this.#op('endAllForSubject', async (call) => {
      const { rows } = await this.#query(call, 'endAllForSubject', [subject, now, reason]);
      return inCreationOrder(rows).map(toRecord);
    });
  }

  listBySubject(subject: string, now: number): Promise<SessionRecord[]> {
    // Expired sessions are shown ended but not recorded here: the read or sweeper that records
    // them also reports them, so each end still yields exactly one event.
    return this.#op('listBySubject', async (call) => {
      const { rows } = await this.#query(call, 'selectBySubject', [subject]);
      return rows.map((row) => settle(toRecord(row), now).record);
    });
  }

  claimExpired(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#op('claimExpired', async (call) => {
      const { rows } = await this.#query(call, 'claimExpired', [now, limit]);
      return rows.map(toRecord);
    });
  }

  claimWarnings(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#op('claimWarnings', async (call) => {
      const { rows } = await this.#query(call, 'claimWarnings', [now, limit]);
      return rows.map(toRecord);
    });
  }

  purgeEnded(endedBefore: number, limit: number): Promise<number> {
    return this.#op('purgeEnded', async (call) => {
      const result = await this.#query(call, 'purgeEnded', [endedBefore, limit]);
      return result.rowCount ?? 0;
    });
  }

  countLive(now: number): Promise<Record<string, number>> {
    return this.#op('countLive', async () => {
      const { rows } = await this.#pool.query<{ policy: string; live: number }>({
        ...this.#sql.countLive,
        values: [now],
      });
      const counts: Record<string, number> = {};
      for (const { policy, live } of rows) counts[policy] = live;
      return counts;
    });
  }

  ping(): Promise<void> {
    return this.#op('ping', async () => {
      await this.#pool.query(this.#sql.ping);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Touches made before closing start now, as they would have without waiting for their turn.
    this.#touches.flush();
    this.#closed = true;
    this.#events.close();
    if (this.#ownsPool) {
      // Waits for calls still holding a connection (each bounded), then ends every connection.
      // The pool's error listener stays for good: `end()` resolves before each socket has closed,
      // and a server shutting down in that moment makes the pool emit `error` — without a listener
      // that would be an uncaught exception.
      await this.#pool.end().catch(this.#onError);
    } else {
      this.#pool.off('error', this.#onError);
    }
  }

  // --- internals --------------------------------------------------------------------------------

  /**
   * Runs one call: refused after close; migrations first (once); done within `queryTimeoutMs` or
   * rejected `store_unavailable` (the work may still finish in the background, like any call whose
   * answer was lost; its outcome is then dropped, never an unhandled rejection).
   */
  #op<T>(operation: string, work: (call: Call) => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new StoreUnavailableError(`${this.#label}: the store is closed`));
    }
    const call: Call = { operation, expired: false };
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        call.expired = true;
        reject(this.#late(call));
      }, this.#timeoutMs);
      const run = async () => {
        if (this.#autoMigrate) await this.migrate();
        if (call.expired) throw this.#late(call);
        return work(call);
      };
      run().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(toStoreError(error, operation, this.#label, this.#timeoutMs, this.#retryAfterMs));
        },
      );
    });
  }

  /**
   * Runs one named statement, on the pool (autocommit) or on a transaction's connection, unless the
   * call it belongs to has already run out of time.
   */
  async #query(call: Call, name: StatementName, values: unknown[], on: Querier = this.#pool) {
    if (call.expired) throw this.#late(call);
    return on.query<SessionRow>({ ...this.#sql[name], values });
  }

  #late(call: Call): StoreUnavailableError {
    return new StoreUnavailableError(
      `${this.#label}: ${call.operation} took longer than queryTimeoutMs (${this.#timeoutMs} ms)`,
      { retryAfterMs: this.#retryAfterMs },
    );
  }

  async #read(call: Call, id: string): Promise<SessionRow | undefined> {
    return (await this.#query(call, 'selectById', [id])).rows[0];
  }

  /**
   * Read, decide (in TS, with core's lifecycle), write only if the row is unchanged since the read;
   * if it changed, decide again on the new row. `decide` returns the record to write (null: nothing
   * to write) and the answer to give once that write applied. Each retry means another writer made
   * progress, so there is no attempt limit: the call's time budget bounds it (`#query`).
   */
  async #decide<R>(
    call: Call,
    id: string,
    decide: (record: SessionRecord) => { write: SessionRecord | null; result: () => R },
    asyncCommit: (next: SessionRecord) => boolean = () => false,
  ): Promise<R | { kind: 'unknown' }> {
    for (;;) {
      const row = await this.#read(call, id);
      if (row === undefined) return { kind: 'unknown' };
      const { write, result } = decide(toRecord(row));
      if (write === null) return result();
      const { rowCount } = await this.#query(call, asyncCommit(write) ? 'updateTouch' : 'update', [
        id,
        row.version,
        write.lastActivityAt,
        write.lastSeenAt,
        write.idleExpiresAt,
        write.warnAt,
        write.endedAt,
        write.reason,
      ]);
      if (rowCount === 1) return result();
    }
  }

  /**
   * One short transaction on one pooled connection. On an SQL error the server answered, so the
   * connection is sound: roll back and keep it; likewise when the call stopped itself because it ran
   * out of time (`#query`). On anything else (timeout, connection lost) the connection is
   * discarded; the server rolls back when it closes.
   */
  async #transaction<T>(call: Call, body: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    if (call.expired) {
      client.release();
      throw this.#late(call);
    }
    let broken: unknown;
    const onError = (error: unknown) => {
      broken = error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (
        broken === undefined &&
        (error instanceof DatabaseError || error instanceof StoreUnavailableError)
      ) {
        await client.query('ROLLBACK').catch((failed: unknown) => {
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
}
