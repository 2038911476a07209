import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  createSession,
  newSessionToken,
  resolvePolicy,
  type SessionRecord,
  StoreUnavailableError,
  sessionIdFor,
  touchParams,
} from '@vigil/core';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/index.js';
import { MIGRATIONS, SQL } from '../src/sql.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const SECOND = 1000;
const policy = resolvePolicy('default', {
  idleTimeout: '60s',
  absoluteTimeout: '10m',
  warnBefore: '10s',
  touchGranularity: '1s',
});

function record(subject = 'alice', now = T0, token = newSessionToken()): SessionRecord {
  return createSession({ id: sessionIdFor(token), subject, policy, attributes: { tenant: 't1' }, now });
}

let root = '';
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'vigil-sqlite-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
/** A path for a database file that does not exist yet, in a directory that does not either. */
const freshPath = () => join(root, `case-${++counter}`, 'nested', 'vigil.db');

async function rejectsUnavailable(promise: Promise<unknown>, code?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreUnavailableError, `a StoreUnavailableError, got ${String(error)}`);
    assert.equal(error.code, 'store_unavailable');
    assert.equal(error.status, 503);
    if (code !== undefined) assert.match(error.message, new RegExp(code));
    return true;
  });
}

describe('SqliteStore: opening and settings', () => {
  it('creates the parent directory, runs in WAL mode with synchronous = FULL', async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    assert.deepEqual(store.settings, {
      journalMode: 'wal',
      synchronous: 'full',
      busyTimeoutMs: 1000,
      // SQLite itself never waits for a lock (it would block the event loop): the store does, on timers.
      sqliteBusyTimeoutMs: 0,
      schemaVersion: MIGRATIONS.length,
    });
    await store.close();
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal', 'WAL is persistent in the file');
    raw.close();
  });

  it('takes busyTimeoutMs and rejects nonsense options', async () => {
    const store = await SqliteStore.open({ path: ':memory:', busyTimeoutMs: 250 });
    assert.equal(store.settings.busyTimeoutMs, 250);
    assert.equal(store.settings.sqliteBusyTimeoutMs, 0);
    assert.equal(store.settings.journalMode, 'memory');
    await store.create(record(), { maxSessions: null });
    await store.close();
    assert.throws(() => new SqliteStore({ path: ':memory:', busyTimeoutMs: -1 }), RangeError);
    assert.throws(() => new SqliteStore({ path: ':memory:', busyTimeoutMs: 1.5 }), RangeError);
    assert.throws(() => new SqliteStore({ path: '' }), TypeError);
  });

  it('migrations are idempotent: reopening changes neither version nor schema', async () => {
    const path = freshPath();
    const schema = () => {
      const raw = new Database(path, { readonly: true });
      const objects = raw.prepare('SELECT type, name, sql FROM sqlite_schema ORDER BY name').all();
      const version = raw.pragma('user_version', { simple: true });
      raw.close();
      return { objects, version };
    };
    await (await SqliteStore.open({ path })).close();
    const first = schema();
    assert.equal(first.version, MIGRATIONS.length);
    await (await SqliteStore.open({ path })).close();
    await (await SqliteStore.open({ path })).close();
    assert.deepEqual(schema(), first);
  });

  it('refuses a database whose schema is newer than this code', async () => {
    const path = freshPath();
    await (await SqliteStore.open({ path })).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    await assert.rejects(SqliteStore.open({ path }), /newer than this Vigil/);
  });

  it('two stores opening the same new file both come up and share the data', async () => {
    const path = freshPath();
    const [a, b] = await Promise.all([SqliteStore.open({ path }), SqliteStore.open({ path })]);
    const ra = record('shared');
    const rb = record('shared', T0 + 1);
    await a.create(ra, { maxSessions: null });
    await b.create(rb, { maxSessions: null });
    for (const store of [a, b]) {
      assert.deepEqual(
        (await store.listBySubject('shared', T0 + SECOND)).map((r) => r.id),
        [ra.id, rb.id],
      );
    }
    await Promise.all([a.close(), b.close()]);
  });

  it('several processes opening the same new file at once all come up', async () => {
    const path = freshPath();
    const fixture = fileURLToPath(new URL('./fixtures/open-and-create.ts', import.meta.url));
    const startAt = Date.now() + 1500;
    const run = promisify(execFile);
    const children = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        run(
          process.execPath,
          ['--conditions=vigil-source', '--import', 'tsx', fixture, path, 'proc', String(startAt)],
          { timeout: 20_000, env: { ...process.env, CHILD: String(i) } },
        ),
      ),
    );
    const seen = children.map(({ stdout }) => JSON.parse(stdout) as { id: string; schemaVersion: number });
    assert.ok(seen.every((s) => s.schemaVersion === MIGRATIONS.length));
    const store = await SqliteStore.open({ path });
    const listed = (await store.listBySubject('proc', Date.now())).map((r) => r.id).sort();
    assert.deepEqual(listed, seen.map((s) => s.id).sort());
    await store.close();
  });
});

describe('SqliteStore: durability and sharing', () => {
  it('everything written survives close and reopen', async () => {
    const path = freshPath();
    const live = record('bob');
    const revoked = record('bob', T0 + 1);
    let store = await SqliteStore.open({ path });
    await store.create(live, { maxSessions: null });
    await store.create(revoked, { maxSessions: null });
    const touched = await store.touch(live.id, touchParams(policy, 'active', T0 + 30 * SECOND));
    await store.end(revoked.id, 'revoked', T0 + 31 * SECOND);
    await store.close();

    store = await SqliteStore.open({ path });
    assert.deepEqual(await store.get(live.id, T0 + 40 * SECOND), {
      kind: 'live',
      record: touched.kind === 'live' ? touched.record : undefined,
    });
    const gone = await store.get(revoked.id, T0 + 40 * SECOND);
    assert.equal(gone.kind === 'ended' && gone.record.reason, 'revoked');
    assert.equal(gone.kind === 'ended' && gone.record.endedAt, T0 + 31 * SECOND);
    await store.close();
  });

  it('a revocation by one connection is seen by another on its next read', async () => {
    const path = freshPath();
    const [a, b] = [await SqliteStore.open({ path }), await SqliteStore.open({ path })];
    const session = record('carol');
    await a.create(session, { maxSessions: null });
    assert.equal((await b.get(session.id, T0 + SECOND)).kind, 'live');
    await a.end(session.id, 'revoked', T0 + 2 * SECOND);
    const seen = await b.get(session.id, T0 + 3 * SECOND);
    assert.equal(seen.kind === 'ended' && seen.record.reason, 'revoked');
    assert.equal(seen.kind === 'ended' && seen.endedNow, false);
    const touched = await b.touch(session.id, touchParams(policy, 'active', T0 + 4 * SECOND));
    assert.equal(touched.kind === 'ended' && touched.record.reason, 'revoked');
    await Promise.all([a.close(), b.close()]);
  });

  it('an expiry is recorded once across connections', async () => {
    const path = freshPath();
    const [a, b] = [await SqliteStore.open({ path }), await SqliteStore.open({ path })];
    const session = record('dan');
    await a.create(session, { maxSessions: null });
    const late = T0 + 61 * SECOND;
    const first = await a.get(session.id, late);
    const second = await b.get(session.id, late);
    assert.equal(first.kind === 'ended' && first.endedNow, true);
    assert.equal(second.kind === 'ended' && second.endedNow, false);
    assert.deepEqual([await a.claimExpired(late, 10), await b.claimExpired(late, 10)], [[], []]);
    await Promise.all([a.close(), b.close()]);
  });

  it('a coalesced touch writes nothing; a touch that moves a deadline commits', async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    const session = record('erin');
    await store.create(session, { maxSessions: null });
    const watcher = new Database(path, { readonly: true });
    const version = () => watcher.pragma('data_version', { simple: true });
    const before = version();
    const coalesced = await store.touch(session.id, touchParams(policy, 'active', T0 + 500));
    assert.equal(coalesced.kind === 'live' && coalesced.record.idleExpiresAt, session.idleExpiresAt);
    await store.touch(session.id, touchParams(policy, 'sleeping', T0 + 600));
    await store.get(session.id, T0 + 700);
    assert.equal(version(), before, 'no commit by another connection');
    await store.touch(session.id, touchParams(policy, 'active', T0 + 5 * SECOND));
    assert.notEqual(version(), before);
    assert.equal(store.settings.synchronous, 'normal', 'a written touch commits without fsync');
    await store.get(session.id, T0 + 6 * SECOND);
    assert.equal(store.settings.synchronous, 'full', 'any other call is synced again');
    watcher.close();
    await store.close();
  });

  it('claims expiries with the reason and end time the lifecycle gives', async () => {
    const store = await SqliteStore.open({ path: freshPath() });
    const short = resolvePolicy('short', { idleTimeout: '60s', absoluteTimeout: '90s' });
    const tie = resolvePolicy('tie', { idleTimeout: '60s', absoluteTimeout: '60s' });
    const idle = record('f');
    const absolute = createSession({ id: 'abs', subject: 'f', policy: short, now: T0 });
    const both = createSession({ id: 'tie', subject: 'f', policy: tie, now: T0 });
    for (const r of [idle, absolute, both]) await store.create(r, { maxSessions: null });
    await store.touch(absolute.id, touchParams(short, 'active', T0 + 50 * SECOND));
    const claimed = await store.claimExpired(T0 + 100 * SECOND, 10);
    assert.deepEqual(
      claimed.map((r) => [r.id, r.reason, r.endedAt, r.warnAt]),
      [
        [idle.id, 'idle_timeout', T0 + 60 * SECOND, null],
        [both.id, 'absolute_timeout', T0 + 60 * SECOND, null],
        [absolute.id, 'absolute_timeout', T0 + 90 * SECOND, null],
      ].sort((x, y) => Number(x[2]) - Number(y[2])),
    );
    await store.close();
  });
});

describe('SqliteStore: query plans', () => {
  /** The plan of one statement, as the lines `EXPLAIN QUERY PLAN` prints. */
  const planOf = (db: Database.Database, sql: string, ...params: unknown[]) =>
    db
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .all(...params)
      .map((row) => (row as { detail: string }).detail);

  let shared: Promise<string> | undefined;
  /** One file, made once: 400 sessions of 40 subjects, half of them ended. */
  const populated = () => {
    shared ??= populate();
    return shared;
  };
  async function populate(): Promise<string> {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    for (let i = 0; i < 200; i++) await store.create(record(`u${i % 20}`, T0 + i), { maxSessions: null });
    for (let i = 0; i < 20; i++) await store.endAllForSubject(`u${i}`, 'revoked', T0 + SECOND);
    for (let i = 0; i < 200; i++) await store.create(record(`v${i % 20}`, T0 + i), { maxSessions: null });
    await store.close();
    return path;
  }

  const expectations = [
    ['selectExpired', [T0, 100], 'sessions_live_expires'],
    ['selectWarnings', [{ now: T0, limit: 100 }], 'sessions_live_warn'],
    ['selectPurgeable', [T0, 100], 'sessions_ended'],
    ['selectLiveBySubject', ['u1', T0], 'sessions_subject'],
    ['selectBySubject', ['u1'], 'sessions_subject'],
    ['selectById', ['x'], 'sqlite_autoindex_sessions_1'],
  ] as const;

  for (const analyzed of [false, true]) {
    it(`claims, purges and lookups use their indexes, never a scan${analyzed ? ' (after ANALYZE)' : ''}`, async () => {
      const db = new Database(await populated());
      if (analyzed) db.exec('ANALYZE');
      else db.exec('DROP TABLE IF EXISTS sqlite_stat1');
      for (const [name, params, index] of expectations) {
        const plan = planOf(db, SQL[name], ...params);
        assert.ok(
          plan.some(
            (line) => line.includes(`USING INDEX ${index}`) || line.includes(`COVERING INDEX ${index}`),
          ),
          `${name} uses ${index}: ${plan.join(' | ')}`,
        );
        assert.ok(!plan.some((line) => /^SCAN|TEMP B-TREE/.test(line)), `${name}: ${plan.join(' | ')}`);
      }
      db.close();
    });
  }
});

describe('SqliteStore: failures', () => {
  it('a read-only database rejects writes with store_unavailable and keeps the data', async () => {
    const path = freshPath();
    const kept = record('gus');
    const writer = await SqliteStore.open({ path });
    await writer.create(kept, { maxSessions: null });
    await writer.close();

    const reader = await SqliteStore.open({ path, readonly: true });
    assert.equal((await reader.get(kept.id, T0 + SECOND)).kind, 'live');
    await reader.ping();
    await rejectsUnavailable(reader.create(record('gus'), { maxSessions: null }), 'SQLITE_READONLY');
    // Reads still work, but a node whose writes are refused is not ready (`/readyz` 503).
    await rejectsUnavailable(reader.ping(), 'SQLITE_READONLY');
    await rejectsUnavailable(reader.end(kept.id, 'revoked', T0 + SECOND));
    await rejectsUnavailable(reader.touch(kept.id, touchParams(policy, 'active', T0 + 5 * SECOND)));
    await reader.close();

    const again = await SqliteStore.open({ path });
    assert.deepEqual(await again.get(kept.id, T0 + SECOND), { kind: 'live', record: kept });
    await again.close();
  });

  it('a write lock held elsewhere past busyTimeoutMs is store_unavailable, and it recovers', async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path, busyTimeoutMs: 50 });
    const session = record('ivy');
    await store.create(session, { maxSessions: null });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    await rejectsUnavailable(store.end(session.id, 'revoked', T0 + SECOND), 'SQLITE_BUSY');
    assert.ok(Date.now() - started < 1000, 'bounded by the busy timeout');
    assert.equal((await store.get(session.id, T0 + SECOND)).kind, 'live', 'reads go on under WAL');
    other.exec('ROLLBACK');
    other.close();
    const ended = await store.end(session.id, 'revoked', T0 + 2 * SECOND);
    assert.equal(ended.kind === 'ended' && ended.endedNow, true);
    await store.close();
  });

  it('a file that cannot be opened is store_unavailable', async () => {
    const missing = join(root, `case-${++counter}-missing.db`);
    await rejectsUnavailable(SqliteStore.open({ path: missing, readonly: true }), 'SQLITE_CANTOPEN');
    const notADatabase = join(root, `case-${++counter}.db`);
    await writeFile(notADatabase, 'x'.repeat(4096));
    await rejectsUnavailable(SqliteStore.open({ path: notADatabase }), 'SQLITE_NOTADB');
  });

  it('every operation after close rejects; close is idempotent', async () => {
    const store = await SqliteStore.open({ path: freshPath() });
    await store.close();
    await store.close();
    await rejectsUnavailable(store.ping());
    await rejectsUnavailable(store.get('x', T0));
    await rejectsUnavailable(store.create(record(), { maxSessions: null }));
  });
});

describe('SqliteStore: secrets', () => {
  it('the token never reaches the database, only its hash', async () => {
    const path = freshPath();
    const token = newSessionToken();
    const store = await SqliteStore.open({ path });
    const session = record('jane', T0, token);
    await store.create(session, { maxSessions: null });
    await store.touch(session.id, touchParams(policy, 'active', T0 + 5 * SECOND));
    await store.end(session.id, 'logout', T0 + 6 * SECOND);
    const dir = join(path, '..');
    const files = (await readdir(dir)).filter((name) => name.startsWith('vigil.db'));
    assert.ok(files.includes('vigil.db-wal'), 'the WAL is inspected too, before any checkpoint');
    const bytes = Buffer.concat(await Promise.all(files.map((name) => readFile(join(dir, name)))));
    await store.close();
    const all = Buffer.concat([bytes, await readFile(path)]);
    assert.ok(all.includes(session.id), 'the id is there (the search works)');
    assert.ok(!all.includes(token), 'the token is not');
    assert.ok(!all.includes(token.slice(4)), 'nor its random part');
  });
});
