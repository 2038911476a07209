/**
 * Every SQL text of the store, in one place. The store prepares each statement once at open; the
 * tests read the claim and purge queries from here to check their query plans.
 */

/**
 * Schema migrations, applied in order: `PRAGMA user_version` is the number already applied. Append
 * new ones; never edit a released one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sessions (
    -- Creation order, stable (an alias of the rowid survives VACUUM): ties on created_at.
    seq INTEGER PRIMARY KEY,
    -- The one-way hash of the token. The token itself never reaches the store.
    id TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    policy TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    -- The earlier deadline, kept in step by SQLite itself, for the expiry index.
    expires_at INTEGER NOT NULL GENERATED ALWAYS AS (min(idle_expires_at, absolute_expires_at)) STORED,
    warn_at INTEGER,
    attributes TEXT NOT NULL DEFAULT '{}',
    ended_at INTEGER,
    reason TEXT,
    CHECK ((ended_at IS NULL) = (reason IS NULL))
  ) STRICT;
  -- Live sessions by deadline: the sweeper's expiry claims.
  CREATE INDEX sessions_live_expires ON sessions (expires_at) WHERE ended_at IS NULL;
  -- Live sessions with a pending warning: the sweeper's warning claims.
  CREATE INDEX sessions_live_warn ON sessions (warn_at) WHERE ended_at IS NULL AND warn_at IS NOT NULL;
  -- Ended sessions by end time: purging after the retention period.
  CREATE INDEX sessions_ended ON sessions (ended_at) WHERE ended_at IS NOT NULL;
  -- A subject's sessions, oldest first: listing, log out everywhere, maxSessions eviction.
  CREATE INDEX sessions_subject ON sessions (subject, created_at);
  `,
  // 2: touches stop moving index entries. An active touch moved the deadline and the warning time,
  // and so an entry in each of the two sweeper indexes: five pages written per touch instead of one.
  // The indexes now hold a time at or before the true one (a deadline and a warning time only ever
  // move later), written at creation; a claim that meets an early entry moves it to the true time.
  // Each live session then costs the sweeper one look per idle period, and a touch one page.
  `
  ALTER TABLE sessions ADD COLUMN expiry_due_at INTEGER;
  ALTER TABLE sessions ADD COLUMN warn_due_at INTEGER;
  UPDATE sessions SET expiry_due_at = expires_at, warn_due_at = warn_at WHERE ended_at IS NULL;
  DROP INDEX sessions_live_expires;
  DROP INDEX sessions_live_warn;
  CREATE INDEX sessions_live_expires ON sessions (expiry_due_at) WHERE ended_at IS NULL;
  CREATE INDEX sessions_live_warn ON sessions (warn_due_at)
    WHERE ended_at IS NULL AND warn_due_at IS NOT NULL;
  `,
];

const COLUMNS = `id, subject, policy, created_at, last_activity_at, last_seen_at, idle_expires_at,
  absolute_expires_at, warn_at, attributes, ended_at, reason`;

export const SQL = {
  insert: `INSERT INTO sessions (${COLUMNS}, expiry_due_at, warn_due_at)
    VALUES (@id, @subject, @policy, @createdAt, @lastActivityAt, @lastSeenAt, @idleExpiresAt,
      @absoluteExpiresAt, @warnAt, @attributes, @endedAt, @reason,
      min(@idleExpiresAt, @absoluteExpiresAt), @warnAt)`,

  selectById: `SELECT ${COLUMNS} FROM sessions WHERE id = ?`,

  /**
   * Writes what the lifecycle may change; subject, policy, creation and attributes never change.
   * The warning's index entry stays where it is (at or before the new time) unless there was none
   * (its warning was claimed, and an extension set a new one) or there is none any more.
   */
  update: `UPDATE sessions SET last_activity_at = @lastActivityAt, last_seen_at = @lastSeenAt,
    idle_expires_at = @idleExpiresAt, warn_at = @warnAt, ended_at = @endedAt, reason = @reason,
    warn_due_at = CASE WHEN @warnAt IS NULL THEN NULL ELSE coalesce(warn_due_at, @warnAt) END
    WHERE id = @id`,

  /**
   * A touch's write in one statement, without a transaction: it applies only if the row is still
   * what the touch was decided on (live, same deadline, last-seen time and warning time), so it is
   * as atomic as read-decide-write under the lock. When another process got there first it changes
   * nothing, and the store redoes the touch under the write lock.
   *
   * It names no indexed column, so SQLite writes the row's one table page and no index entry: the
   * warning's entry stays where it is, which is right whenever the touch keeps a warning pending
   * (the entry is at or before the new time) or keeps none (there is no entry). The last condition
   * says so; when it does not hold, the touch changes nothing and is redone under the write lock,
   * where `update` moves the entry. A test reads this statement's bytecode for index writes.
   */
  touchIfUnchanged: `UPDATE sessions SET last_activity_at = @lastActivityAt, last_seen_at = @lastSeenAt,
    idle_expires_at = @idleExpiresAt, warn_at = @warnAt
    WHERE id = @id AND ended_at IS NULL AND last_seen_at = @wasSeenAt
      AND idle_expires_at = @wasIdleExpiresAt AND warn_at IS @wasWarnAt
      AND (warn_due_at IS NULL) = (@warnAt IS NULL)`,

  /** Moves an early expiry entry to the session's true deadline. */
  moveExpiryDue: 'UPDATE sessions SET expiry_due_at = expires_at WHERE id = ?',

  /** Moves an early warning entry to the true warning time, or drops it (no warning pending). */
  moveWarnDue: 'UPDATE sessions SET warn_due_at = warn_at WHERE id = ?',

  selectBySubject: `SELECT ${COLUMNS} FROM sessions WHERE subject = ? ORDER BY created_at, seq`,

  /** Live at `now` (not ended, deadline not reached): those are the ones eviction and endAll end. */
  selectLiveBySubject: `SELECT ${COLUMNS} FROM sessions
    WHERE subject = ? AND ended_at IS NULL AND expires_at > ? ORDER BY created_at, seq`,

  /**
   * Due expiry entries, through `sessions_live_expires`; the store settles and writes each one
   * (or moves an early one to its true deadline).
   */
  selectExpired: `SELECT ${COLUMNS} FROM sessions
    WHERE ended_at IS NULL AND expiry_due_at <= ? ORDER BY expiry_due_at LIMIT ?`,

  /**
   * Due warning entries of sessions still alive (an expired one is reported by its expiry claim
   * instead), through `sessions_live_warn`; the store claims each one, or moves an early one.
   */
  selectWarnings: `SELECT ${COLUMNS} FROM sessions
    WHERE ended_at IS NULL AND warn_due_at IS NOT NULL AND warn_due_at <= @now AND expires_at > @now
    ORDER BY warn_due_at LIMIT @limit`,

  /**
   * Ended sessions past the cutoff, through `sessions_ended`; the store deletes them by `seq`. (One
   * `DELETE … WHERE seq IN (subquery)` lets the planner pick a full scan once ANALYZE has run.)
   */
  selectPurgeable: `SELECT seq FROM sessions
    WHERE ended_at IS NOT NULL AND ended_at < ? ORDER BY ended_at LIMIT ?`,

  deleteBySeq: 'DELETE FROM sessions WHERE seq = ?',

  countLive: `SELECT policy, count(*) AS live FROM sessions
    WHERE ended_at IS NULL AND expires_at > ? GROUP BY policy`,

  /**
   * Per-commit durability: touches relax it (see SqliteStore#touch). Run with `exec`, never
   * prepared once: SQLite applies a PRAGMA when it compiles it, so a prepared one's first run does
   * nothing (later runs recompile it). `exec` compiles it each time, and costs less.
   */
  syncNormal: 'PRAGMA synchronous = NORMAL',
  syncFull: 'PRAGMA synchronous = FULL',

  journalMode: 'PRAGMA journal_mode',
  synchronous: 'PRAGMA synchronous',
  busyTimeout: 'PRAGMA busy_timeout',
  userVersion: 'PRAGMA user_version',

  ping: 'SELECT count(*) FROM (SELECT 1 FROM sessions LIMIT 1)',
  /** `ping` takes the write lock, and gives it back at once: is any other connection holding it? */
  beginImmediate: 'BEGIN IMMEDIATE',
  rollback: 'ROLLBACK',
} as const;
