import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  applyTouch,
  type CreateOptions,
  type EndReason,
  endSession,
  type ManualEndReason,
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
import Database from 'better-sqlite3';
import { BusyLane, isBusy } from './busy-lane.js';
import { WalCheckpointer } from './checkpointer.js';
import { MIGRATIONS, SQL } from './sql.js';
import { SqliteTokenStore } from './token-store.js';

export interface SqliteStoreOptions {
  /** The database file (its directory is created if missing), or `:memory:`. */
  path: string;
  /**
   * How long a call waits for a lock held by another connection (another process: the sqlite3 CLI,
   * a backup, `vigil migrate`), in ms (default 1000); then it fails with `store_unavailable`. It
   * waits on timers, never blocking the event loop (see `BusyLane`); keep it below the server's
   * `storeTimeout` (2 s), so that a call gives up before the server stops waiting for it. Opening
   * (WAL, migrations) and the first `tokenStore()` wait for up to this long too, blocking: both run
   * before the server serves.
   */
  busyTimeoutMs?: number;
  /** Opens without ever writing (inspection): every write rejects with `store_unavailable`. */
  readonly?: boolean;
}

/** What the connection actually runs with, read back from SQLite (and the store's own lock wait). */
export interface SqliteStoreSettings {
  /** `wal` for a file (`memory` for `:memory:`). */
  journalMode: string;
  /**
   * `full`: every commit is synced before it resolves; `normal` right after a written touch, until
   * the next call that is not a touch (only touches commit unsynced, see `SqliteStore#touch`).
   */
  synchronous: 'off' | 'normal' | 'full' | 'extra';
  /** How long a call waits for a lock held elsewhere, on timers (the option `busyTimeoutMs`). */
  busyTimeoutMs: number;
  /**
   * SQLite's own busy timeout (`PRAGMA busy_timeout`): 0 once open, so that SQLite never sleeps on
   * the event loop waiting for a lock; the store waits on timers instead.
   */
  sqliteBusyTimeoutMs: number;
  /** Migrations applied (`PRAGMA user_version`). */
  schemaVersion: number;
}

/** A row of `sessions` as better-sqlite3 returns it (snake_case, attributes as JSON text). */
interface SessionRow {
  id: string;
  subject: string;
  policy: string;
  created_at: number;
  last_activity_at: number;
  last_seen_at: number;
  idle_expires_at: number;
  absolute_expires_at: number;
  warn_at: number | null;
  attributes: string;
  ended_at: number | null;
  reason: string | null;
}

type WriteParams = Pick<
  SessionRecord,
  'id' | 'lastActivityAt' | 'lastSeenAt' | 'idleExpiresAt' | 'warnAt' | 'endedAt' | 'reason'
>;
type InsertParams = Omit<SessionRecord, 'attributes'> & { attributes: string };
/** One `touch` call, waiting for its turn's batch. */
interface TouchCall {
  id: string;
  params: TouchParams;
}

/** A touch's write and the row it was decided on (see `SQL.touchIfUnchanged`). */
type TouchWriteParams = Pick<
  SessionRecord,
  'id' | 'lastActivityAt' | 'lastSeenAt' | 'idleExpiresAt' | 'warnAt'
> & {
  wasSeenAt: number;
  wasIdleExpiresAt: number;
  wasWarnAt: number | null;
};

/**
 * A claim looks at up to this many times `limit` due index entries, to skip the early ones (of
 * sessions extended since) within one call without holding the write lock for long.
 */
const EARLY_ENTRY_PASSES = 4;

/**
 * Background checkpoints (checkpointer.ts) start once a store has committed this many writes: a
 * store that writes little (a test, a CLI command) never pays for a thread.
 */
const CHECKPOINTER_AFTER_WRITES = 1000;
const CHECKPOINT_INTERVAL_MS = 200;
/** The commit-time checkpoint threshold, in pages, once the thread checkpoints (SQLite's is 1000). */
const BACKSTOP_AUTOCHECKPOINT_PAGES = 4000;

/**
 * Result codes that mean "the database cannot answer now" (locked, disk, permissions, damage): the
 * caller gets `store_unavailable` (503, retry), never an answer about the session. Anything else
 * (a constraint, a bug) is not an outage and is rethrown as it is.
 */
const UNAVAILABLE_CODES =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL|NOLFS|PERM|NOMEM|AUTH)(_|$)/;

/** Of those, the codes that say the file cannot take writes now (disk full, read-only, I/O, rights). */
const UNWRITABLE_CODES = /^SQLITE_(IOERR|FULL|READONLY|CANTOPEN|PERM)(_|$)/;

/**
 * How long a refused write keeps `ping` (hence `/readyz`) failing while no write has succeeded
 * since. Reads go on working on a full disk, so a read alone would call a node ready that refuses
 * every creation; held only this long, a node taken out of rotation (so sent no writes) is tried again.
 */
const WRITE_FAULT_HOLD_MS = 5000;

/**
 * How long `ping` waits for a write lock held elsewhere (at most `busyTimeoutMs`): long enough for
 * another process's commit, short enough that `/readyz` answers at once while one holds the lock.
 */
const PING_WAIT_MS = 100;

/**
 * How long the sweeper's claims and purges wait for a lock held elsewhere (at most
 * `busyTimeoutMs`): the sweeper tries again at its next tick anyway, and a claim waiting longer
 * would hold up every request queued behind it in the lane for as long.
 */
const HOUSEKEEPING_WAIT_MS = 100;

function toStoreError(operation: string, error: unknown): unknown {
  if (error instanceof Database.SqliteError && UNAVAILABLE_CODES.test(error.code)) {
    return new StoreUnavailableError(`SQLite store: ${operation} failed (${error.code})`, { cause: error });
  }
  return error;
}

function toRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    subject: row.subject,
    policy: row.policy,
    createdAt: row.created_at,
    lastActivityAt: row.last_activity_at,
    lastSeenAt: row.last_seen_at,
    idleExpiresAt: row.idle_expires_at,
    absoluteExpiresAt: row.absolute_expires_at,
    warnAt: row.warn_at,
    attributes: JSON.parse(row.attributes) as SessionRecord['attributes'],
    endedAt: row.ended_at,
    reason: row.reason as EndReason | null,
  };
}

function lookupOf(record: SessionRecord, endedNow: boolean): SessionLookup {
  return record.endedAt === null ? { kind: 'live', record } : { kind: 'ended', record, endedNow };
}

function mustWrite(decision: TouchDecision): boolean {
  return decision.kind === 'ended' ? decision.endedNow : decision.write;
}

function touchResult(decision: TouchDecision): TouchResult {
  return decision.kind === 'ended'
    ? { kind: 'ended', record: decision.record, endedNow: decision.endedNow }
    : { kind: 'live', record: decision.record, extendedFromWarning: decision.extendedFromWarning };
}

/** `PRAGMA synchronous` levels by number. */
const SYNCHRONOUS = ['off', 'normal', 'full', 'extra'] as const;

/**
 * Opens the connection: WAL, durable commits, schema up to date. Several processes may do this on
 * the same new file at once; each waits its turn on the write lock and finds the work done. That
 * wait blocks (SQLite's busy handler, up to `busyTimeoutMs`): opening happens before serving. The
 * store sets the busy timeout to 0 once it has prepared its statements (see `BusyLane`).
 */
function openDatabase({
  path,
  busyTimeoutMs = 1000,
  readonly = false,
}: SqliteStoreOptions): Database.Database {
  if (typeof path !== 'string' || path === '') throw new TypeError('SqliteStore: path must be a file path');
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new RangeError('SqliteStore: busyTimeoutMs must be an integer number of ms, 0 or more');
  }
  const memory = path === ':memory:';
  let db: Database.Database;
  try {
    if (!memory && !readonly) mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Database(path, { timeout: busyTimeoutMs, readonly, fileMustExist: readonly });
  } catch (error) {
    throw toStoreError('open', error);
  }
  try {
    if (!memory && !readonly) enableWal(db, busyTimeoutMs);
    // FULL, not WAL's usual NORMAL: with NORMAL a commit is not fsynced until the next checkpoint,
    // so a power cut or OS crash can roll back transactions we already acknowledged (a process kill
    // alone cannot: the OS still holds the writes). Principle 3 forbids losing an acknowledged
    // creation or revocation, so every commit syncs the WAL before the call resolves — except a
    // touch's, which Principle 3 allows to be lost (see `#relaxedTouch`).
    db.pragma('synchronous = FULL');
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw toStoreError('open', error);
  }
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/**
 * `journal_mode = WAL`, retried for up to `busyTimeoutMs` while another process holds the file:
 * switching a new file to WAL can answer SQLITE_BUSY at once, without SQLite's busy handler, when
 * several processes open it together (nodes starting at once, `vigil migrate` beside `vigil serve`).
 * Opening is synchronous already, so the short waits between tries block like the open itself.
 */
function enableWal(db: Database.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      const busy = error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
      if (!busy || Date.now() >= deadline) throw error;
      Atomics.wait(SLEEPER, 0, 0, 5 + Math.floor(Math.random() * 10));
    }
  }
}

/**
 * Runs `body` with SQLite's busy handler waiting up to `busyTimeoutMs`, blocking the event loop: only
 * for setting up before serving (`tokenStore()` creating its tables), never on a request's path.
 */
function blockingOnBusy<T>(db: Database.Database, busyTimeoutMs: number, body: () => T): T {
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  try {
    return body();
  } finally {
    db.pragma('busy_timeout = 0');
  }
}

/** Applies the missing migrations in one transaction; the version is re-read under the write lock. */
function migrate(db: Database.Database): void {
  const target = MIGRATIONS.length;
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const check = (found: number) => {
    if (found > target) {
      throw new Error(`SqliteStore: database schema version ${found} is newer than this Vigil's (${target})`);
    }
  };
  const found = version();
  check(found);
  if (found === target) return;
  db.transaction(() => {
    const from = version();
    check(from);
    for (const migration of MIGRATIONS.slice(from)) db.exec(migration);
    db.pragma(`user_version = ${target}`);
  }).immediate();
}

/**
 * The embedded default store: one SQLite file in WAL mode through better-sqlite3. Creations and
 * ends are committed (and synced) before they resolve; a touch that changes nothing worth writing
 * costs one indexed read. Expiry, warning and purge claims walk partial indexes, so they cost what
 * is due, not what is stored.
 */
export class SqliteStore implements Store {
  readonly #db: Database.Database;
  #closed = false;
  #closing: Promise<void> | null = null;
  readonly #readonly: boolean;
  readonly #busyTimeoutMs: number;
  /** Every call, in the order made; one that meets a lock held elsewhere waits on timers there. */
  readonly #lane: BusyLane;
  /** How the sweeper's calls run: a shorter wait for a lock (see `HOUSEKEEPING_WAIT_MS`). */
  readonly #housekeeping: { waitMs: number };
  /** The file, for the checkpointer; null for `:memory:` and read-only stores, which need none. */
  readonly #file: string | null;
  #checkpointer: WalCheckpointer | null = null;
  #writesBeforeCheckpointer = CHECKPOINTER_AFTER_WRITES;
  #tokens: SqliteTokenStore | undefined;
  /**
   * Whether the connection runs at `synchronous = NORMAL` now: touches leave it there for the next
   * touch; every other call (`#run`) sets FULL again before it starts (see `#relaxedTouch`).
   */
  #relaxed = false;

  readonly #insert: Database.Statement<[InsertParams]>;
  readonly #selectById: Database.Statement<[string], SessionRow>;
  readonly #update: Database.Statement<[WriteParams]>;
  readonly #touchIfUnchanged: Database.Statement<[TouchWriteParams]>;
  readonly #moveExpiryDue: Database.Statement<[string]>;
  readonly #moveWarnDue: Database.Statement<[string]>;
  readonly #selectBySubject: Database.Statement<[string], SessionRow>;
  readonly #selectLiveBySubject: Database.Statement<[string, number], SessionRow>;
  readonly #selectExpired: Database.Statement<[number, number], SessionRow>;
  readonly #selectWarnings: Database.Statement<[{ now: number; limit: number }], SessionRow>;
  readonly #selectPurgeable: Database.Statement<[number, number], number>;
  readonly #deleteBySeq: Database.Statement<[number]>;
  readonly #countLive: Database.Statement<[number], { policy: string; live: number }>;
  readonly #ping: Database.Statement<[]>;
  readonly #begin: Database.Statement<[]>;
  readonly #rollback: Database.Statement<[]>;

  readonly #createTx: Database.Transaction<
    (record: SessionRecord, options: CreateOptions) => SessionRecord[]
  >;
  readonly #settleTx: Database.Transaction<(id: string, now: number) => SessionLookup>;
  readonly #touchTx: Database.Transaction<(id: string, params: TouchParams) => TouchResult>;
  readonly #touchBatchTx: Database.Transaction<(calls: readonly TouchCall[]) => Array<TouchResult | null>>;
  readonly #touches = new TurnBatch<TouchCall, TouchResult>((calls) => this.#touchAll(calls));
  readonly #endTx: Database.Transaction<(id: string, reason: ManualEndReason, now: number) => SessionLookup>;
  readonly #endAllTx: Database.Transaction<
    (subject: string, reason: ManualEndReason, now: number) => SessionRecord[]
  >;
  readonly #claimExpiredTx: Database.Transaction<(now: number, limit: number) => SessionRecord[]>;
  readonly #claimWarningsTx: Database.Transaction<(now: number, limit: number) => SessionRecord[]>;
  readonly #purgeTx: Database.Transaction<(endedBefore: number, limit: number) => number>;
  /** The last write SQLite refused for want of disk or rights; cleared by a creation that succeeds. */
  #writeFault: { code: string; at: number } | null = null;

  /** Opens (creating the file and its directory if needed) and migrates; see `SqliteStoreOptions`. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    return new SqliteStore(options);
  }

  constructor(options: SqliteStoreOptions) {
    const db = openDatabase(options);
    this.#db = db;
    this.#file = options.path === ':memory:' || options.readonly === true ? null : options.path;
    this.#readonly = options.readonly === true;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 1000;
    this.#lane = new BusyLane(this.#busyTimeoutMs);
    this.#housekeeping = { waitMs: Math.min(this.#busyTimeoutMs, HOUSEKEEPING_WAIT_MS) };
    try {
      this.#insert = db.prepare(SQL.insert);
      this.#selectById = db.prepare(SQL.selectById);
      this.#update = db.prepare(SQL.update);
      this.#touchIfUnchanged = db.prepare(SQL.touchIfUnchanged);
      this.#moveExpiryDue = db.prepare(SQL.moveExpiryDue);
      this.#moveWarnDue = db.prepare(SQL.moveWarnDue);
      this.#selectBySubject = db.prepare(SQL.selectBySubject);
      this.#selectLiveBySubject = db.prepare(SQL.selectLiveBySubject);
      this.#selectExpired = db.prepare(SQL.selectExpired);
      this.#selectWarnings = db.prepare(SQL.selectWarnings);
      this.#selectPurgeable = db.prepare<[number, number], number>(SQL.selectPurgeable).pluck();
      this.#deleteBySeq = db.prepare(SQL.deleteBySeq);
      this.#countLive = db.prepare(SQL.countLive);
      this.#ping = db.prepare(SQL.ping);
      this.#begin = db.prepare(SQL.beginImmediate);
      this.#rollback = db.prepare(SQL.rollback);
      // From here on SQLite answers SQLITE_BUSY at once, and the lane waits on timers instead.
      db.pragma('busy_timeout = 0');
    } catch (error) {
      db.close();
      throw toStoreError('open', error);
    }

    this.#createTx = db.transaction((record: SessionRecord, { maxSessions }: CreateOptions) => {
      const evicted: SessionRecord[] = [];
      if (maxSessions !== null) {
        const live = this.#selectLiveBySubject.all(record.subject, record.createdAt);
        for (const row of live.slice(0, Math.max(0, live.length - maxSessions + 1))) {
          evicted.push(this.#write(endSession(toRecord(row), 'evicted', record.createdAt)));
        }
      }
      this.#insert.run({ ...record, attributes: JSON.stringify(record.attributes) });
      return evicted;
    });

    this.#settleTx = db.transaction((id: string, now: number) => this.#settleLocked(id, now));

    this.#touchTx = db.transaction((id: string, params: TouchParams): TouchResult => {
      const row = this.#selectById.get(id);
      if (row === undefined) return { kind: 'unknown' };
      const decision = applyTouch(toRecord(row), params);
      if (mustWrite(decision)) this.#write(decision.record);
      return touchResult(decision);
    });

    // A turn's touches under one write lock and one commit. Once a session's touch is left for the
    // synced path, its later touches in the batch are too: each session's touches stay in order.
    this.#touchBatchTx = db.transaction((calls: readonly TouchCall[]) => {
      const synced = new Set<string>();
      return calls.map(({ id, params }) => {
        const result = synced.has(id) ? null : this.#relaxedTouch(id, params);
        if (result === null) synced.add(id);
        return result;
      });
    });

    this.#endTx = db.transaction((id: string, reason: ManualEndReason, now: number): SessionLookup => {
      const lookup = this.#settleLocked(id, now);
      if (lookup.kind !== 'live') return lookup;
      return { kind: 'ended', record: this.#write(endSession(lookup.record, reason, now)), endedNow: true };
    });

    this.#endAllTx = db.transaction((subject: string, reason: ManualEndReason, now: number) =>
      this.#selectLiveBySubject.all(subject, now).map((row) => {
        const record = toRecord(row);
        this.#write(endSession(record, reason, now));
        return record;
      }),
    );

    this.#claimExpiredTx = db.transaction((now: number, limit: number) => {
      const claimed: SessionRecord[] = [];
      // An early entry (its session was extended since) moves to the true deadline, out of the
      // due range: each pass meets new entries, until `limit` claims or nothing more is due.
      for (let looked = 0; claimed.length < limit && looked < limit * EARLY_ENTRY_PASSES; ) {
        const want = limit - claimed.length;
        const rows = this.#selectExpired.all(now, want);
        for (const row of rows) {
          const { record, endedNow } = settle(toRecord(row), now);
          if (endedNow) claimed.push(this.#write(record));
          else this.#moveExpiryDue.run(row.id);
        }
        looked += rows.length;
        if (rows.length < want) break;
      }
      // Index order is only a lower bound's: report them in the order they ended.
      return claimed.sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
    });

    this.#claimWarningsTx = db.transaction((now: number, limit: number) => {
      const claimed: SessionRecord[] = [];
      for (let looked = 0; claimed.length < limit && looked < limit * EARLY_ENTRY_PASSES; ) {
        const want = limit - claimed.length;
        const rows = this.#selectWarnings.all({ now, limit: want });
        for (const row of rows) {
          const record = toRecord(row);
          if (record.warnAt !== null && record.warnAt <= now) {
            claimed.push(this.#write({ ...record, warnAt: null }));
          } else {
            // Extended since (moves to the new warning time) or already claimed (leaves the index).
            this.#moveWarnDue.run(row.id);
          }
        }
        looked += rows.length;
        if (rows.length < want) break;
      }
      return claimed;
    });

    this.#purgeTx = db.transaction((endedBefore: number, limit: number) => {
      const due = this.#selectPurgeable.all(endedBefore, limit);
      for (const seq of due) this.#deleteBySeq.run(seq);
      return due.length;
    });
  }

  /**
   * Token mode's state, in the same file on the same connection; its tables are made on first call
   * (at start-up: that call may wait for a lock held elsewhere, blocking, up to `busyTimeoutMs`).
   */
  tokenStore(): SqliteTokenStore {
    if (this.#tokens !== undefined) return this.#tokens;
    if (this.#closed) throw new StoreUnavailableError('SQLite store: tokenStore after close');
    this.#touches.flush();
    try {
      this.#durable();
      // Its calls queue in this store's lane, each synced first (FULL again after a touch).
      this.#tokens = blockingOnBusy(
        this.#db,
        this.#busyTimeoutMs,
        () =>
          new SqliteTokenStore(this.#db, (body) =>
            this.#closed
              ? Promise.reject(new StoreUnavailableError('SQLite token store: call after close'))
              : this.#enqueue(body),
          ),
      );
    } catch (error) {
      throw this.#storeError('tokenStore', error);
    }
    return this.#tokens;
  }

  /**
   * How the connection runs now, read back from SQLite (WAL, synchronous, busy timeout, schema).
   * It changes nothing: right after a written touch `synchronous` is `normal` (see `#relaxedTouch`).
   */
  get settings(): SqliteStoreSettings {
    if (this.#closed) throw new StoreUnavailableError('SQLite store: settings after close');
    this.#touches.flush();
    try {
      // Prepared on each read: SQLite evaluates a PRAGMA while compiling it, so one prepared
      // earlier answers its first run with the value it had then.
      const read = <T>(sql: string) => this.#db.prepare<[], T>(sql).pluck().get();
      return {
        journalMode: read<string>(SQL.journalMode) ?? 'unknown',
        synchronous: SYNCHRONOUS[read<number>(SQL.synchronous) ?? 0] ?? 'off',
        busyTimeoutMs: this.#busyTimeoutMs,
        sqliteBusyTimeoutMs: read<number>(SQL.busyTimeout) ?? 0,
        schemaVersion: read<number>(SQL.userVersion) ?? 0,
      };
    } catch (error) {
      throw toStoreError('settings', error);
    }
  }

  async create(record: SessionRecord, options: CreateOptions): Promise<{ evicted: SessionRecord[] }> {
    return this.#run('create', () => {
      const evicted = this.#createTx.immediate(record, options);
      // Only a creation clears a refused write: it needs fresh pages, where a touch that rewrites
      // one page in place (or in reused WAL space) can succeed on a full disk.
      this.#writeFault = null;
      this.#wrote();
      return { evicted };
    });
  }

  async get(id: string, now: number): Promise<SessionLookup> {
    return this.#run('get', () => {
      const row = this.#selectById.get(id);
      if (row === undefined) return { kind: 'unknown' };
      const { record, endedNow } = settle(toRecord(row), now);
      // Only a read that finds an unrecorded expiry writes, and then under the write lock, re-read:
      // of several readers in several processes exactly one records it and reports `endedNow`.
      return endedNow ? this.#settleTx.immediate(id, now) : lookupOf(record, false);
    });
  }

  /**
   * Touches wait for the rest of the event loop's turn and commit together (`TurnBatch`): one commit
   * per touch spent most of a written heartbeat's time on the WAL's locks and frame writes. Any
   * other call runs the waiting touches first, so the store still applies calls in the order made.
   */
  async touch(id: string, params: TouchParams): Promise<TouchResult> {
    return this.#touches.add({ id, params });
  }

  /**
   * A turn's touches, in order: a lone one as it comes, several in one write transaction; then the
   * rare touches that must be synced (see `#relaxedTouch`), each on its own, before any later call.
   * All of it is one call in the lane: a try that meets a lock held elsewhere is tried again from
   * where it stopped, never redoing a commit, and a touch whose commit went through is answered even
   * if one after it then waits in vain.
   */
  #touchAll(calls: readonly TouchCall[]): Array<Promise<TouchResult>> {
    const done: { results: Array<TouchResult | null> | null; next: number } = { results: null, next: 0 };
    const failures = new Map<number, unknown>();
    const all = this.#run(
      'touch',
      () => {
        done.results ??= this.#touchGroup(calls);
        for (; done.next < calls.length; done.next++) {
          const call = calls[done.next] as TouchCall;
          if (done.results[done.next] !== null) continue;
          try {
            done.results[done.next] = this.#lockedTouch(call.id, call.params);
          } catch (error) {
            if (isBusy(error)) throw error;
            failures.set(done.next, this.#storeError('touch', error));
          }
        }
        return done.results;
      },
      { relaxed: true },
    );
    return calls.map((_, index) =>
      all.then(
        (results) => {
          if (failures.has(index)) throw failures.get(index);
          return results[index] as TouchResult;
        },
        (error: unknown) => {
          const committed = done.results?.[index];
          if (committed === null || committed === undefined) throw error;
          return committed;
        },
      ),
    );
  }

  /** The group write of `#touchAll`: null for a touch left for the synced path. */
  #touchGroup(calls: readonly TouchCall[]): Array<TouchResult | null> {
    const [only] = calls;
    if (calls.length === 1 && only !== undefined) return [this.#relaxedTouch(only.id, only.params)];
    // Set before the transaction (a batch under load writes); a lone touch sets it only to write.
    this.#relax();
    return this.#touchBatchTx.immediate(calls);
  }

  /**
   * One touch, written at `synchronous = NORMAL`; null when it must be redone under the write lock,
   * synced (`#lockedTouch`): an end, a touch that arms a warning again (its last one was
   * claimed) or drops one (it moves the warning's index entry, see `SQL.touchIfUnchanged`), or a row
   * that moved since it was read (another process). Those are rare.
   *
   * A touch that only moves `lastSeenAt` or the idle deadline commits without waiting for fsync (WAL +
   * NORMAL): a power cut may lose it and end the session early, never late — Principle 3 allows that
   * for touches, and it is ~4x the written heartbeats per second (no fsync wait). It stays ordered in
   * the WAL: the next FULL commit (a creation, an end) or checkpoint syncs it. The connection stays at
   * NORMAL for the next touch (heartbeats come in runs): every other call sets FULL again before it
   * starts (`#run`, `#lockedTouch`, the token store), so only touches ever commit at NORMAL. That
   * saves two PRAGMA statements per written touch.
   */
  #relaxedTouch(id: string, params: TouchParams): TouchResult | null {
    const row = this.#selectById.get(id);
    if (row === undefined) return { kind: 'unknown' };
    const decision = applyTouch(toRecord(row), params);
    // A coalesced touch (or one on a session already ended) writes nothing.
    if (!mustWrite(decision)) return touchResult(decision);
    const { record } = decision;
    if (decision.kind === 'ended' || (row.warn_at === null) !== (record.warnAt === null)) return null;
    this.#relax();
    // One statement, one table page written and no index entry; guarded by the values read.
    const written = this.#touchIfUnchanged.run({
      id,
      lastActivityAt: record.lastActivityAt,
      lastSeenAt: record.lastSeenAt,
      idleExpiresAt: record.idleExpiresAt,
      warnAt: record.warnAt,
      wasSeenAt: row.last_seen_at,
      wasIdleExpiresAt: row.idle_expires_at,
      wasWarnAt: row.warn_at,
    });
    this.#wrote();
    return written.changes === 1 ? touchResult(decision) : null;
  }

  async end(id: string, reason: ManualEndReason, now: number): Promise<SessionLookup> {
    return this.#run('end', () => this.#endTx.immediate(id, reason, now));
  }

  async endAllForSubject(subject: string, reason: ManualEndReason, now: number): Promise<SessionRecord[]> {
    return this.#run('endAllForSubject', () => this.#endAllTx.immediate(subject, reason, now));
  }

  async listBySubject(subject: string, now: number): Promise<SessionRecord[]> {
    // Expired sessions are shown ended but not recorded here: the read or sweeper that records
    // them also reports them, so each end still yields exactly one event.
    return this.#run('listBySubject', () =>
      this.#selectBySubject.all(subject).map((row) => settle(toRecord(row), now).record),
    );
  }

  async claimExpired(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#run('claimExpired', () => this.#claimExpiredTx.immediate(now, limit), this.#housekeeping);
  }

  async claimWarnings(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#run('claimWarnings', () => this.#claimWarningsTx.immediate(now, limit), this.#housekeeping);
  }

  async purgeEnded(endedBefore: number, limit: number): Promise<number> {
    return this.#run('purgeEnded', () => this.#purgeTx.immediate(endedBefore, limit), this.#housekeeping);
  }

  async countLive(now: number): Promise<Record<string, number>> {
    return this.#run('countLive', () => {
      const counts: Record<string, number> = {};
      for (const { policy, live } of this.#countLive.all(now)) counts[policy] = live;
      return counts;
    });
  }

  /**
   * Whether the store can serve (`/readyz`): it reads, and unless read-only takes the write lock
   * (`BEGIN IMMEDIATE`, rolled back at once), so a lock held by another process fails it — reads go
   * on under WAL, but no creation or revocation could commit. It waits for that lock only briefly,
   * on timers, and out of turn: it changes nothing, so calls waiting in the lane do not delay it.
   */
  async ping(): Promise<void> {
    if (this.#closed) throw new StoreUnavailableError('SQLite store: ping after close');
    this.#touches.flush();
    try {
      await this.#lane.probe(
        () => {
          if (this.#closed) throw new StoreUnavailableError('SQLite store: ping after close');
          this.#durable();
          if (this.#readonly) return this.#ping.get();
          this.#begin.run();
          try {
            return this.#ping.get();
          } finally {
            this.#rollback.run();
          }
        },
        Math.min(this.#busyTimeoutMs, PING_WAIT_MS),
      );
    } catch (error) {
      throw this.#storeError('ping', error);
    }
    const fault = this.#writeFault;
    if (fault !== null && Date.now() - fault.at < WRITE_FAULT_HOLD_MS) {
      throw new StoreUnavailableError(`SQLite store: the last write was refused (${fault.code})`);
    }
  }

  /** Runs the touches still waiting, lets the calls made before it finish, then closes. */
  async close(): Promise<void> {
    if (this.#closing === null) {
      this.#touches.flush();
      this.#closed = true;
      this.#closing = this.#shutDown();
    }
    await this.#closing;
  }

  async #shutDown(): Promise<void> {
    // A call waiting for a lock held elsewhere ends within `busyTimeoutMs`, answered either way.
    await this.#lane.idle();
    await this.#checkpointer?.stop();
    // No `PRAGMA optimize` here on purpose: statistics taken on a small or empty table can steer the
    // planner away from the partial indexes; every query here is single-table and indexed as is.
    this.#db.close();
  }

  /**
   * Runs one operation: refused once closed, in its turn (waiting on timers for a lock held
   * elsewhere, up to `waitMs`), SQLite outages turned into `StoreUnavailableError`, and durable
   * (`synchronous = FULL`) unless it is a touch (`relaxed`), which sets what it needs.
   */
  #run<T>(
    operation: string,
    body: () => T,
    { relaxed = false, waitMs = this.#busyTimeoutMs }: { relaxed?: boolean; waitMs?: number } = {},
  ): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new StoreUnavailableError(`SQLite store: ${operation} after close`));
    }
    return this.#enqueue(body, relaxed, waitMs).catch((error: unknown) => {
      throw this.#storeError(operation, error);
    });
  }

  /**
   * Queues `body` in the lane, after the touches made before it (a no-op inside the touches' own
   * run), synced first unless `relaxed`. Run again whole if it meets a lock: one transaction each.
   */
  #enqueue<T>(body: () => T, relaxed = false, waitMs = this.#busyTimeoutMs): Promise<T> {
    this.#touches.flush();
    return this.#lane.run(() => {
      if (!relaxed) this.#durable();
      return body();
    }, waitMs);
  }

  /** The error a caller gets; remembers a write the file refused, for `ping`. */
  #storeError(operation: string, error: unknown): unknown {
    if (error instanceof Database.SqliteError && UNWRITABLE_CODES.test(error.code)) {
      this.#writeFault = { code: error.code, at: Date.now() };
    }
    return toStoreError(operation, error);
  }

  /** A touch read, decided and written under the write lock, synced: see `#relaxedTouch`. */
  #lockedTouch(id: string, params: TouchParams): TouchResult {
    this.#durable();
    return this.#touchTx.immediate(id, params);
  }

  /** Makes the connection's next commits synced before they return (after touches relaxed it). */
  #durable(): void {
    if (!this.#relaxed) return;
    this.#db.exec(SQL.syncFull);
    this.#relaxed = false;
  }

  /** Lets the connection's next commits return before fsync: for touches only (see `#relaxedTouch`). */
  #relax(): void {
    if (this.#relaxed) return;
    this.#db.exec(SQL.syncNormal);
    this.#relaxed = true;
  }

  /** The session as it is at `now`, recording an expiry it finds. Runs inside a write transaction. */
  #settleLocked(id: string, now: number): SessionLookup {
    const row = this.#selectById.get(id);
    if (row === undefined) return { kind: 'unknown' };
    const { record, endedNow } = settle(toRecord(row), now);
    if (endedNow) this.#write(record);
    return lookupOf(record, endedNow);
  }

  /** Counts a commit; starts background checkpoints once this store writes enough to need them. */
  #wrote(): void {
    if (this.#file === null || this.#checkpointer !== null || --this.#writesBeforeCheckpointer > 0) return;
    try {
      this.#checkpointer = new WalCheckpointer(this.#file, CHECKPOINT_INTERVAL_MS);
      this.#db.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
    } catch {
      // No thread (or no pragma): commits keep checkpointing as SQLite does by default.
      this.#writesBeforeCheckpointer = Number.POSITIVE_INFINITY;
    }
  }

  /** Stores what the lifecycle decided for an existing session. */
  #write(record: SessionRecord): SessionRecord {
    this.#update.run({
      id: record.id,
      lastActivityAt: record.lastActivityAt,
      lastSeenAt: record.lastSeenAt,
      idleExpiresAt: record.idleExpiresAt,
      warnAt: record.warnAt,
      endedAt: record.endedAt,
      reason: record.reason,
    });
    return record;
  }
}
