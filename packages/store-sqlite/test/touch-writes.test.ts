import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createSession,
  newRefreshToken,
  newSessionToken,
  refreshFamilyId,
  refreshTokenHash,
  resolvePolicy,
  type SessionRecord,
  sessionIdFor,
  touchParams,
} from '@vigil/core';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/index.js';
import { MIGRATIONS, SQL } from '../src/sql.js';

// What makes a written heartbeat cheap on SQLite (sql.ts migration 2, SqliteStore#touch and
// checkpointer.ts): touches leave the sweeper's index entries where they are, write in one guarded
// statement that writes no index, leave the connection at synchronous = NORMAL only for the next
// touch, and checkpoints run off the event loop. Each must keep every answer (and every guarantee)
// the same.

const T0 = Date.UTC(2026, 0, 1, 12);
const SECOND = 1000;
const policy = resolvePolicy('default', {
  idleTimeout: '60s',
  absoluteTimeout: '10m',
  warnBefore: '10s',
  touchGranularity: '1s',
});
const active = (now: number) => touchParams(policy, 'active', now);

function record(subject = 'alice', now = T0): SessionRecord {
  return createSession({ id: sessionIdFor(newSessionToken()), subject, policy, now });
}

let root = '';
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'vigil-sqlite-touch-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshPath = () => join(root, `case-${++counter}.db`);

/** The sweeper's index times of one session, read beside the store on a second connection. */
function dueTimes(path: string, id: string): { expiry: number | null; warn: number | null } {
  const db = new Database(path, { readonly: true });
  try {
    const row = db.prepare('SELECT expiry_due_at, warn_due_at FROM sessions WHERE id = ?').get(id) as {
      expiry_due_at: number | null;
      warn_due_at: number | null;
    };
    return { expiry: row.expiry_due_at, warn: row.warn_due_at };
  } finally {
    db.close();
  }
}

describe('SqliteStore: touches and the sweeper indexes', () => {
  it('a touch leaves the index times early; claims move them and still come at the true times', async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    const session = record();
    await store.create(session, { maxSessions: null });
    assert.deepEqual(dueTimes(path, session.id), { expiry: T0 + 60 * SECOND, warn: T0 + 50 * SECOND });

    await store.touch(session.id, active(T0 + 20 * SECOND));
    await store.touch(session.id, active(T0 + 30 * SECOND));
    assert.deepEqual(dueTimes(path, session.id), { expiry: T0 + 60 * SECOND, warn: T0 + 50 * SECOND });

    // Due by the index, not by the session: nothing is claimed, and the entries move to the truth.
    assert.deepEqual(await store.claimWarnings(T0 + 60 * SECOND, 10), []);
    assert.deepEqual(await store.claimExpired(T0 + 60 * SECOND, 10), []);
    assert.deepEqual(dueTimes(path, session.id), { expiry: T0 + 90 * SECOND, warn: T0 + 80 * SECOND });

    const warned = await store.claimWarnings(T0 + 80 * SECOND, 10);
    assert.deepEqual(
      warned.map((r) => [r.id, r.warnAt]),
      [[session.id, null]],
    );
    assert.equal(dueTimes(path, session.id).warn, null, 'a claimed warning leaves the index');

    // An extension after the claim sets a new warning, and only then writes its index entry again.
    await store.touch(session.id, active(T0 + 85 * SECOND));
    assert.deepEqual(dueTimes(path, session.id), { expiry: T0 + 90 * SECOND, warn: T0 + 135 * SECOND });
    assert.deepEqual(await store.claimExpired(T0 + 144 * SECOND, 10), []);
    const expired = await store.claimExpired(T0 + 145 * SECOND, 10);
    assert.deepEqual(
      expired.map((r) => [r.id, r.reason, r.endedAt]),
      [[session.id, 'idle_timeout', T0 + 145 * SECOND]],
    );
    await store.close();
  });

  it('skips many early entries within one claim and reports the expired ones in the order they ended', async () => {
    const store = await SqliteStore.open({ path: freshPath() });
    const extended = Array.from({ length: 12 }, (_, i) => record(`e${i}`));
    const idle = Array.from({ length: 5 }, (_, i) => record(`i${i}`, T0 + (5 - i) * SECOND));
    for (const r of [...extended, ...idle]) await store.create(r, { maxSessions: null });
    for (const r of extended) await store.touch(r.id, active(T0 + 30 * SECOND));
    const claimed = await store.claimExpired(T0 + 70 * SECOND, 5);
    assert.deepEqual(
      claimed.map((r) => r.id),
      [...idle].reverse().map((r) => r.id),
    );
    assert.deepEqual(await store.claimExpired(T0 + 89 * SECOND, 100), []);
    assert.equal((await store.claimExpired(T0 + 90 * SECOND, 100)).length, extended.length);
    await store.close();
  });

  it('the one-statement touch write changes nothing once the row moved since it was read', async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    const session = record();
    await store.create(session, { maxSessions: null });
    await store.close();
    const db = new Database(path);
    const write = db.prepare(SQL.touchIfUnchanged);
    const attempt = (was: { seen: number; idle: number; warn: number | null }) =>
      write.run({
        id: session.id,
        lastActivityAt: T0 + 5 * SECOND,
        lastSeenAt: T0 + 5 * SECOND,
        idleExpiresAt: T0 + 65 * SECOND,
        warnAt: T0 + 55 * SECOND,
        wasSeenAt: was.seen,
        wasIdleExpiresAt: was.idle,
        wasWarnAt: was.warn,
      }).changes;
    assert.equal(attempt({ seen: T0 + 1, idle: T0 + 60 * SECOND, warn: T0 + 50 * SECOND }), 0);
    assert.equal(attempt({ seen: T0, idle: T0 + 61 * SECOND, warn: T0 + 50 * SECOND }), 0);
    assert.equal(attempt({ seen: T0, idle: T0 + 60 * SECOND, warn: null }), 0);
    assert.equal(attempt({ seen: T0, idle: T0 + 60 * SECOND, warn: T0 + 50 * SECOND }), 1);
    db.prepare('UPDATE sessions SET ended_at = ?, reason = ? WHERE id = ?').run(T0, 'revoked', session.id);
    assert.equal(attempt({ seen: T0 + 5 * SECOND, idle: T0 + 65 * SECOND, warn: T0 + 55 * SECOND }), 0);
    db.close();
  });

  it('migrating a version-1 file carries its live sessions’ index times over', async () => {
    const path = freshPath();
    const live = record('ann');
    const ended = record('bob');
    const v1 = new Database(path);
    v1.pragma('journal_mode = WAL');
    v1.exec(MIGRATIONS[0] ?? '');
    v1.pragma('user_version = 1');
    const insert = v1.prepare(`INSERT INTO sessions (id, subject, policy, created_at, last_activity_at,
      last_seen_at, idle_expires_at, absolute_expires_at, warn_at, attributes, ended_at, reason)
      VALUES (?, ?, 'default', ?, ?, ?, ?, ?, ?, '{}', ?, ?)`);
    for (const [r, endedAt] of [
      [live, null],
      [ended, T0 + SECOND],
    ] as const) {
      insert.run(
        r.id,
        r.subject,
        r.createdAt,
        r.lastActivityAt,
        r.lastSeenAt,
        r.idleExpiresAt,
        r.absoluteExpiresAt,
        endedAt === null ? r.warnAt : null,
        endedAt,
        endedAt === null ? null : 'revoked',
      );
    }
    v1.close();

    const store = await SqliteStore.open({ path });
    assert.equal(store.settings.schemaVersion, MIGRATIONS.length);
    assert.deepEqual(dueTimes(path, live.id), { expiry: T0 + 60 * SECOND, warn: T0 + 50 * SECOND });
    assert.deepEqual(dueTimes(path, ended.id), { expiry: null, warn: null });
    assert.deepEqual(
      (await store.claimWarnings(T0 + 50 * SECOND, 10)).map((r) => r.id),
      [live.id],
    );
    assert.deepEqual(
      (await store.claimExpired(T0 + 60 * SECOND, 10)).map((r) => r.id),
      [live.id],
    );
    await store.close();
  });

  it('checkpoints on a thread once it writes a lot, and leaves nothing open after close', async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    const sessions = Array.from({ length: 20 }, (_, i) => record(`w${i}`));
    for (const r of sessions) await store.create(r, { maxSessions: null });
    // 1,100 touches, each written (2 s apart per session): past the point where the checkpointer
    // starts (1,000 writes).
    for (let i = 0; i < 1100; i++) {
      const r = sessions[i % sessions.length] as SessionRecord;
      const result = await store.touch(r.id, active(T0 + (i + 1) * 100));
      assert.equal(result.kind, 'live');
    }
    await store.close();
    // SQLite removes the WAL when its last connection closes: the thread's was closed too.
    assert.equal(existsSync(`${path}-wal`), false);
    const again = await SqliteStore.open({ path });
    const last = await again.get(sessions[0]?.id ?? '', T0 + 110 * SECOND);
    assert.equal(last.kind === 'live' && last.record.lastActivityAt, T0 + 108_100);
    await again.close();
  });

  it('the one-statement touch write changes no index entry; the full write does', () => {
    const db = new Database(':memory:');
    for (const migration of MIGRATIONS) db.exec(migration);
    const params = {
      id: 'x',
      lastActivityAt: 1,
      lastSeenAt: 1,
      idleExpiresAt: 1,
      warnAt: 1,
      endedAt: null,
      reason: null,
      wasSeenAt: 0,
      wasIdleExpiresAt: 0,
      wasWarnAt: 0,
    };
    /** The indexes a statement's bytecode deletes from or inserts into. */
    const indexWrites = (sql: string) => {
      const named = Object.fromEntries(Object.entries(params).filter(([key]) => sql.includes(`@${key}`)));
      const program = db.prepare(`EXPLAIN ${sql}`).all(named) as { opcode: string }[];
      return program.filter((op) => op.opcode === 'IdxDelete' || op.opcode === 'IdxInsert');
    };
    assert.deepEqual(indexWrites(SQL.touchIfUnchanged), [], 'a touch writes the table page only');
    assert.ok(
      indexWrites(SQL.update).length > 0,
      'the full write moves the warning entry (the check can fail)',
    );
    db.close();
  });

  it('only a written touch commits at synchronous = NORMAL; every other call is synced again first', async () => {
    const store = await SqliteStore.open({ path: freshPath() });
    const sessions = Array.from({ length: 3 }, (_, i) => record(`d${i}`));
    const [one, two, three] = sessions as [SessionRecord, SessionRecord, SessionRecord];
    let now = T0;
    const touched = async () => {
      now += 2 * SECOND;
      await store.touch(one.id, active(now));
      assert.equal(store.settings.synchronous, 'normal', 'the touch relaxed the connection');
    };
    // The first written touch after opening too (a prepared PRAGMA's first run does nothing).
    for (const r of sessions) await store.create(r, { maxSessions: null });
    const calls: [string, () => Promise<unknown>][] = [
      ['create', () => store.create(record('d3', now), { maxSessions: 1 })],
      ['get', () => store.get(two.id, now)],
      ['end', () => store.end(two.id, 'logout', now)],
      ['endAllForSubject', () => store.endAllForSubject('d3', 'revoked', now)],
      ['listBySubject', () => store.listBySubject('d0', now)],
      ['claimExpired', () => store.claimExpired(now, 10)],
      ['claimWarnings', () => store.claimWarnings(now, 10)],
      ['purgeEnded', () => store.purgeEnded(now - SECOND, 10)],
      ['countLive', () => store.countLive(now)],
      ['ping', () => store.ping()],
      [
        'tokenStore().issueFamily',
        async () => {
          const { token, parts } = newRefreshToken('s'.repeat(43));
          await store.tokenStore().issueFamily({
            sessionId: parts.sessionId,
            familyId: refreshFamilyId(parts.family),
            tokenHash: refreshTokenHash(token),
            issuedAt: now,
            expiresAt: now + 60 * SECOND,
          });
        },
      ],
      ['tokenStore().listSigningKeys', () => store.tokenStore().listSigningKeys()],
      // A touch that ends its session records an end: synced.
      ['touch (ending)', () => store.touch(three.id, active(T0 + 10 * 60 * SECOND))],
    ];
    for (const [name, call] of calls) {
      await touched();
      await call();
      assert.equal(store.settings.synchronous, 'full', `${name} runs synced`);
    }
    // A coalesced touch writes nothing and leaves the level as it was.
    await store.touch(one.id, active(now + 100));
    assert.equal(store.settings.synchronous, 'full');
    await store.close();
  });
});
