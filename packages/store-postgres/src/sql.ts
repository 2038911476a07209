/**
 * Every SQL text of the store, in one place, built once per schema. Each statement has a name, so
 * that every pooled connection parses and plans it once and afterwards only executes it (`pg` sends
 * a named statement's text only the first time per connection). The tests read the claim queries
 * from here to check their plans.
 */
import { createHash } from 'node:crypto';
import { escapeIdentifier } from 'pg';

/** A schema name we can also put in a NOTIFY channel name (63 bytes at most) and a statement name. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/**
 * Schema migrations, applied in order by `migrate()` (migrate.ts); `vigil_schema` holds the numbers
 * applied. Append new ones; never edit a released one. `{s}` is the quoted schema name.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE {s}.vigil_sessions (
    -- Fixed-width columns first: no alignment padding between them. Times are epoch ms, as the
    -- Store contract passes them (time is an input: no now() anywhere in these statements).
    -- Creation order, stable: ties on created_at (listing, eviction of the oldest).
    seq bigint GENERATED ALWAYS AS IDENTITY,
    created_at bigint NOT NULL,
    last_activity_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    idle_expires_at bigint NOT NULL,
    absolute_expires_at bigint NOT NULL,
    -- The earlier deadline, kept in step by PostgreSQL itself, for the expiry index.
    expires_at bigint NOT NULL GENERATED ALWAYS AS (least(idle_expires_at, absolute_expires_at)) STORED,
    warn_at bigint,
    ended_at bigint,
    -- Bumped by every write: a write that read the row first applies only if nobody wrote since.
    version integer NOT NULL DEFAULT 0,
    -- The one-way hash of the token. The token itself never reaches the store.
    id text PRIMARY KEY,
    subject text NOT NULL,
    policy text NOT NULL,
    reason text,
    -- json, not jsonb: kept as the text we were given, so every JSON value round-trips exactly.
    attributes json NOT NULL DEFAULT '{}',
    CHECK ((ended_at IS NULL) = (reason IS NULL))
  ) WITH (fillfactor = 90); -- room on the page for a sleeping touch's update to stay HOT
  -- Live sessions by deadline: the sweeper's expiry claims.
  CREATE INDEX vigil_sessions_live_expires ON {s}.vigil_sessions (expires_at) WHERE ended_at IS NULL;
  -- Live sessions with a pending warning: the sweeper's warning claims.
  CREATE INDEX vigil_sessions_live_warn ON {s}.vigil_sessions (warn_at)
    WHERE ended_at IS NULL AND warn_at IS NOT NULL;
  -- Ended sessions by end time: purging after the retention period.
  CREATE INDEX vigil_sessions_ended ON {s}.vigil_sessions (ended_at) WHERE ended_at IS NOT NULL;
  -- A subject's sessions, oldest first: listing, log out everywhere, maxSessions eviction.
  CREATE INDEX vigil_sessions_subject ON {s}.vigil_sessions (subject, created_at, seq);
  `,
];

/** `pg_advisory_xact_lock(key1, key2)` keys: one class for Vigil's migrations, then the schema. */
export const MIGRATION_LOCK_CLASS = 0x56494749; // "VIGI"

/** Columns of a session, in `SessionRow` order, plus what the store needs besides (seq, version). */
const COLUMNS = `id, subject, policy, created_at, last_activity_at, last_seen_at, idle_expires_at,
  absolute_expires_at, warn_at, attributes, ended_at, reason, seq, version`;
const prefixed = (alias: string) =>
  COLUMNS.split(',')
    .map((c) => `${alias}.${c.trim()}`)
    .join(', ');

export interface Statement {
  /** Unique per schema: two stores on two schemas may share one pool. */
  name: string;
  text: string;
}

export type StatementName = keyof ReturnType<typeof buildStatements>;

function buildStatements(t: string) {
  return {
    insert: `INSERT INTO ${t} (id, subject, policy, created_at, last_activity_at, last_seen_at,
        idle_expires_at, absolute_expires_at, warn_at, attributes, ended_at, reason)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::json, $11, $12)`,

    selectById: `SELECT ${COLUMNS} FROM ${t} WHERE id = $1`,

    /** The rows of a turn's touches (`PostgresStore#touchAll`), in one round trip. */
    selectByIds: `SELECT ${COLUMNS} FROM ${t} WHERE id = ANY($1::text[])`,

    /**
     * Writes what the lifecycle decided, only if the row is still the version it was decided on
     * (subject, policy, creation and attributes never change). 0 rows: someone else wrote first.
     */
    update: `UPDATE ${t} SET last_activity_at = $3, last_seen_at = $4, idle_expires_at = $5,
        warn_at = $6, ended_at = $7, reason = $8, version = version + 1
      WHERE id = $1 AND version = $2`,

    /**
     * The same for a touch that keeps the session alive: its commit does not wait for the WAL to
     * reach the disk (`synchronous_commit = off` for this transaction only). Principle 3: a lost
     * touch may end a session a little early, never late; creations and ends stay synchronous,
     * and each of their commits also flushes every touch committed before it.
     */
    updateTouch: `UPDATE ${t} SET last_activity_at = $3, last_seen_at = $4, idle_expires_at = $5,
        warn_at = $6, ended_at = $7, reason = $8, version = version + 1
      FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
      WHERE id = $1 AND version = $2`,

    /**
     * \`update\` (or, with \`synchronous_commit\` off, \`updateTouch\`) for many rows in one statement: the
     * final state of each session a turn's touches wrote, each applied only if its row is still the
     * version read. Returns the ids written; a missing one was written by someone else first.
     */
    updateMany: `UPDATE ${t} SET last_activity_at = v.last_activity_at, last_seen_at = v.last_seen_at,
        idle_expires_at = v.idle_expires_at, warn_at = v.warn_at, ended_at = v.ended_at,
        reason = v.reason, version = ${t}.version + 1
      FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
          $7::bigint[], $8::text[])
        AS v(id, version, last_activity_at, last_seen_at, idle_expires_at, warn_at, ended_at, reason)
      WHERE ${t}.id = v.id AND ${t}.version = v.version
      RETURNING ${t}.id`,
    updateManyTouch: `UPDATE ${t} SET last_activity_at = v.last_activity_at, last_seen_at = v.last_seen_at,
        idle_expires_at = v.idle_expires_at, warn_at = v.warn_at, ended_at = v.ended_at,
        reason = v.reason, version = ${t}.version + 1
      FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit,
        unnest($1::text[], $2::integer[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
          $7::bigint[], $8::text[])
        AS v(id, version, last_activity_at, last_seen_at, idle_expires_at, warn_at, ended_at, reason)
      WHERE ${t}.id = v.id AND ${t}.version = v.version
      RETURNING ${t}.id`,

    selectBySubject: `SELECT ${COLUMNS} FROM ${t} WHERE subject = $1 ORDER BY created_at, seq`,

    /**
     * Serializes creations for one subject (maxSessions): a transaction-scoped lock on a hash of
     * schema and subject, taken before the statement that counts the subject's live sessions, so
     * that statement's snapshot already sees every creation that held the lock before.
     */
    lockSubject: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',

    /**
     * Ends the subject's oldest live sessions beyond the newest `$3` (maxSessions − 1) as `evicted`
     * and stores the new session, in one statement (data-modifying CTEs always run). Live = not
     * ended and before its deadline at `$4` (creation time): an expired one is left to the read or
     * sweeper that reports it. Returns the evicted sessions as they are now.
     */
    createEvicting: `WITH doomed AS (
        SELECT id FROM ${t}
        WHERE subject = $2 AND ended_at IS NULL AND expires_at > $4
        ORDER BY created_at DESC, seq DESC OFFSET $13 FOR UPDATE
      ), evicted AS (
        UPDATE ${t} AS s SET ended_at = $4, reason = 'evicted', warn_at = NULL, version = s.version + 1
        FROM doomed WHERE s.id = doomed.id
        RETURNING ${prefixed('s')}
      ), created AS (
        INSERT INTO ${t} (id, subject, policy, created_at, last_activity_at, last_seen_at,
          idle_expires_at, absolute_expires_at, warn_at, attributes, ended_at, reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::json, $11, $12)
      )
      SELECT * FROM evicted`,

    /**
     * Ends every session of the subject that is live at `$2`, returning each as it was before.
     * `FOR UPDATE` (waiting, not skipping): of two concurrent calls the second waits, re-checks,
     * and finds them ended, so each session is counted by exactly one caller.
     */
    endAllForSubject: `WITH live AS (
        SELECT ${COLUMNS} FROM ${t}
        WHERE subject = $1 AND ended_at IS NULL AND expires_at > $2 FOR UPDATE
      )
      UPDATE ${t} AS s SET ended_at = $2, reason = $3, warn_at = NULL, version = s.version + 1
      FROM live WHERE s.id = live.id
      RETURNING ${prefixed('live')}`,

    /**
     * Claims due expiries through `vigil_sessions_live_expires`. `SKIP LOCKED`: concurrent claimers
     * (other nodes) take different rows instead of waiting; a row another transaction changed
     * meanwhile is re-checked against the WHERE before it is taken, so each end is recorded once.
     * The SET restates core's `settle` (lifecycle.ts): the session ended *at* its deadline, the
     * absolute one winning a tie, and its pending warning is dropped.
     */
    claimExpired: `WITH due AS (
        SELECT id FROM ${t}
        WHERE ended_at IS NULL AND expires_at <= $1
        ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
      )
      UPDATE ${t} AS s SET ended_at = s.expires_at,
        reason = CASE WHEN s.absolute_expires_at <= s.idle_expires_at
          THEN 'absolute_timeout' ELSE 'idle_timeout' END,
        warn_at = NULL, version = s.version + 1
      FROM due WHERE s.id = due.id
      RETURNING ${prefixed('s')}`,

    /**
     * Claims due warnings through `vigil_sessions_live_warn`, of sessions still alive at `$1` (one
     * past its deadline is reported by its expiry claim instead).
     */
    claimWarnings: `WITH due AS (
        SELECT id FROM ${t}
        WHERE ended_at IS NULL AND warn_at IS NOT NULL AND warn_at <= $1 AND expires_at > $1
        ORDER BY warn_at LIMIT $2 FOR UPDATE SKIP LOCKED
      )
      UPDATE ${t} AS s SET warn_at = NULL, version = s.version + 1
      FROM due WHERE s.id = due.id
      RETURNING ${prefixed('s')}`,

    /** Deletes sessions ended before `$1`, through `vigil_sessions_ended`. */
    purgeEnded: `WITH due AS (
        SELECT id FROM ${t}
        WHERE ended_at IS NOT NULL AND ended_at < $1
        ORDER BY ended_at LIMIT $2 FOR UPDATE SKIP LOCKED
      )
      DELETE FROM ${t} AS s USING due WHERE s.id = due.id`,

    countLive: `SELECT policy, count(*)::integer AS live FROM ${t}
      WHERE ended_at IS NULL AND expires_at > $1 GROUP BY policy`,

    /** Readiness: the table answers (so the schema is there and migrated). */
    ping: `SELECT 1 FROM ${t} LIMIT 1`,

    /** Cross-node events (remote-events.ts). */
    notify: 'SELECT pg_notify($1, $2)',
  };
}

/** Every statement of the store for one schema, named `vigil_<statement>_<schema hash>`. */
export function statementsFor(schema: string): Record<StatementName, Statement> {
  const table = `${escapeIdentifier(schema)}.vigil_sessions`;
  // The statement text depends on the schema and on this version of the SQL: hash both into the
  // name, so a pool shared by two stores (or two versions) never mixes their statements up.
  const texts = buildStatements(table);
  const out = {} as Record<StatementName, Statement>;
  for (const [name, text] of Object.entries(texts) as [StatementName, string][]) {
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
    out[name] = { name: `vigil_${name}_${hash}`, text };
  }
  return out;
}
