import { StoreUnavailableError, VigilError } from '@vigil/core';
import { DatabaseError, type PoolConfig } from 'pg';
import { SchemaTooNewError } from './schema-migrations.js';

/**
 * Pool settings that bound every call (DESIGN: store outages), for a call budget of `timeoutMs`:
 *
 * - waiting for a pooled connection, or making a new one, gives up after `timeoutMs`
 *   (`connectionTimeoutMillis`: a database that is down fails at once, one that hangs in time);
 * - the server cancels a statement after `timeoutMs` (`statement_timeout`), which also ends waits
 *   for row locks; a cancelled statement leaves its connection fit for reuse;
 * - the client gives up on a statement a little later (`query_timeout`), for a server that does not
 *   answer at all (frozen, network gone): that connection is then discarded, never reused;
 * - a session that sits in an open transaction (a node died mid-call) is ended by the server after
 *   a few seconds (`idle_in_transaction_session_timeout`), releasing its row locks.
 *
 * At most `maxConnections` connections, ever: callers beyond that wait their turn (bounded as
 * above) instead of opening more.
 */
export function boundedPoolConfig(timeoutMs: number, maxConnections = 10): PoolConfig {
  return {
    max: maxConnections,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 500,
    idle_in_transaction_session_timeout: Math.max(5000, 5 * timeoutMs),
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'vigil',
  };
}

/**
 * Exponential backoff with full jitter, capped at 2 s, for the listening connection: when the
 * database comes back every node listens again within a few seconds, not all at the same moment.
 */
export function reconnectDelay(attempt: number): number {
  const ceiling = Math.min(2000, 50 * 2 ** Math.min(attempt, 10));
  return Math.ceil(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export interface ParsedSpec {
  /** The connection string for `pg`, without Vigil's own parameters. */
  connectionString: string;
  /** `postgres://host:port/db`, for messages: never a user name or password. */
  label: string;
  /** `?schema=NAME` in the spec, if any. */
  schema: string | undefined;
}

/**
 * Reads a store spec: `postgres://[user[:password]@]host[:port]/db[?schema=NAME&sslmode=…]` (or
 * `postgresql://`). `schema` is Vigil's; every other parameter is left to `pg`.
 */
export function parseSpec(spec: string): ParsedSpec {
  if (!/^postgres(ql)?:\/\//.test(spec)) {
    throw new TypeError('a PostgreSQL store spec starts with postgres:// or postgresql://');
  }
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new TypeError('the PostgreSQL store spec is not a valid URL');
  }
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  return {
    connectionString: url.toString(),
    label: `postgres://${url.host}${url.pathname}`,
    schema,
  };
}

/**
 * SQLSTATE classes and codes meaning "the database cannot answer now": connection trouble (08),
 * not enough resources (53: too many connections, disk full), cancelled or shutting down (57:
 * our own statement_timeout, an admin shutdown, a server starting up), system/I-O errors (58),
 * transaction rollback (40: serialization failure, deadlock — retrying helps), rejected
 * credentials (28) or database (3D), internal errors (XX), lock_timeout (55P03), and a read-only
 * server (25006: a standby after a failover).
 */
const UNAVAILABLE = /^(08|53|57|58|40|28|3D|XX)|^(55P03|25006)$/;

/**
 * Connection errors, timeouts and the SQLSTATEs above become `StoreUnavailableError` (503 with
 * Retry-After, never 401); the message names the setting to tune and never a password. Other
 * database errors (a constraint, a missing table) and programming errors are bugs and stay as
 * they are.
 */
export function toStoreError(
  error: unknown,
  operation: string,
  label: string,
  timeoutMs: number,
  retryAfterMs: number,
): unknown {
  if (error instanceof VigilError || error instanceof SchemaTooNewError) return error;
  if (error instanceof DatabaseError) {
    if (!UNAVAILABLE.test(error.code ?? '')) return error;
  } else if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) {
    return error;
  }
  const reason =
    error instanceof DatabaseError
      ? `${error.code}: ${error.message}`
      : error instanceof AggregateError
        ? error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ')
        : error instanceof Error
          ? error.message
          : String(error);
  return new StoreUnavailableError(
    `${label}: ${operation} failed (${reason}); each call is bounded by queryTimeoutMs (${timeoutMs} ms)`,
    { cause: error, retryAfterMs },
  );
}
