import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  boundedStore,
  newRefreshToken,
  refreshFamilyId,
  refreshTokenHash,
  StoreUnavailableError,
  type TouchParams,
  touchParams,
} from '@vigil/core';
import { auditEntry, conformancePolicy, newRecord, T0 } from '@vigil/core/conformance';
import { SqliteAuditLog, SqliteStore } from '../src/index.js';

// Another process (the sqlite3 CLI, a backup, `vigil migrate`) holding the file's write lock must
// not stall the server: SQLite's busy handler would sleep on the event loop, so every call queued
// behind the one sleeping, `storeTimeout` never fired and `/healthz` hung with them. Here the store
// waits for the lock on timers instead: calls fail with `store_unavailable` within their bound, the
// event loop keeps turning, `ping` (`/readyz`) says unavailable, and the store serves again once the
// lock is gone.

const SECOND = 1000;
/** A probe timer may fire this late while the store waits for a lock (blocking, it was 300+ ms). */
const MAX_LAG_MS = 200;
/** Slack on a call's bound: timers, a loaded CI machine. */
const SLACK_MS = 400;

const touchOf = (now: number): TouchParams => touchParams(conformancePolicy, 'active', now);

let root = '';
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'vigil-sqlite-locked-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshPath = () => join(root, `case-${++counter}.db`);

const driver = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Runs in a second process: takes the file's write lock (`BEGIN EXCLUSIVE`: in WAL mode readers go
 * on), says so on stdout and keeps it until killed (at most 8 s, should the test die first).
 */
const HOLDER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2], { timeout: 2000 });
db.exec('BEGIN EXCLUSIVE');
process.stdout.write('locked\\n');
setTimeout(() => process.exit(0), 8000);
`;

interface HeldLock {
  /** Ends the holder (SIGKILL by its PID: the OS drops its locks) and waits until it is gone. */
  release(): Promise<void>;
}

async function holdLock(t: TestContext, path: string): Promise<HeldLock> {
  const child: ChildProcess = spawn(process.execPath, ['-e', HOLDER, driver, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const release = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    await exited;
  };
  t.after(release);
  let said = '';
  for await (const chunk of child.stdout ?? []) {
    said += String(chunk);
    if (said.includes('locked\n')) break;
  }
  assert.ok(said.includes('locked'), 'the holder took the lock');
  return { release };
}

/** The longest a timer fired late (ms) from start to stop: how long the event loop was blocked. */
function lagProbe(t: TestContext): { stop(): number } {
  const interval = 5;
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - interval);
    last = now;
  }, interval);
  t.after(() => clearInterval(timer));
  return {
    stop() {
      clearInterval(timer);
      return Math.max(worst, performance.now() - last - interval);
    },
  };
}

/** When each call settled (ms after `started`) and how. */
async function settleTimes(
  started: number,
  calls: ReadonlyArray<Promise<unknown>>,
): Promise<Array<{ ms: number; outcome: PromiseSettledResult<unknown> }>> {
  return Promise.all(
    calls.map((call) =>
      call.then(
        (value) => ({ ms: performance.now() - started, outcome: { status: 'fulfilled', value } as const }),
        (reason: unknown) => ({
          ms: performance.now() - started,
          outcome: { status: 'rejected', reason } as const,
        }),
      ),
    ),
  );
}

function assertUnavailable(outcome: PromiseSettledResult<unknown>, name: string): void {
  assert.equal(outcome.status, 'rejected', `${name} is refused while the lock is held`);
  const { reason } = outcome as PromiseRejectedResult;
  assert.ok(
    reason instanceof StoreUnavailableError,
    `${name}: a StoreUnavailableError, got ${String(reason)}`,
  );
  assert.equal(reason.code, 'store_unavailable');
}

describe('SqliteStore: a write lock held by another process', () => {
  it('concurrent calls fail with store_unavailable within busyTimeoutMs, the event loop keeps turning', async (t) => {
    const path = freshPath();
    const busyTimeoutMs = 300;
    const store = await SqliteStore.open({ path, busyTimeoutMs });
    t.after(() => store.close());
    const tokens = store.tokenStore();
    const sessions = Array.from({ length: 5 }, (_, i) => newRecord(`u${i}`));
    for (const session of sessions) await store.create(session, { maxSessions: null });
    const [a, b, c, d, e] = sessions.map((s) => s.id) as [string, string, string, string, string];

    const lock = await holdLock(t, path);
    const probe = lagProbe(t);
    const started = performance.now();
    const { token, parts } = newRefreshToken('s'.repeat(43));
    const named: Array<[string, Promise<unknown>]> = [
      ['create', store.create(newRecord('new'), { maxSessions: null })],
      ['end', store.end(a, 'revoked', T0 + SECOND)],
      // Two touches of one turn (one group commit), then calls made in later turns.
      ['touch', store.touch(b, touchOf(T0 + 5 * SECOND))],
      ['touch', store.touch(c, touchOf(T0 + 5 * SECOND))],
      [
        'endAllForSubject',
        new Promise((resolve) => setImmediate(resolve)).then(() =>
          store.endAllForSubject('u3', 'revoked', T0 + SECOND),
        ),
      ],
      [
        'touch, a turn later',
        new Promise((resolve) => setTimeout(resolve, 20)).then(() =>
          store.touch(e, touchOf(T0 + 5 * SECOND)),
        ),
      ],
      [
        'tokenStore().issueFamily',
        tokens.issueFamily({
          sessionId: parts.sessionId,
          familyId: refreshFamilyId(parts.family),
          tokenHash: refreshTokenHash(token),
          issuedAt: T0,
          expiresAt: T0 + 60 * SECOND,
        }),
      ],
    ];
    const pinged = performance.now();
    const ping = await settleTimes(pinged, [store.ping()]);
    const settled = await settleTimes(
      started,
      named.map(([, call]) => call),
    );
    const lag = probe.stop();

    named.forEach(([name], index) => {
      const { ms, outcome } = settled[index] as (typeof settled)[number];
      assertUnavailable(outcome, name);
      assert.ok(ms < busyTimeoutMs + SLACK_MS, `${name} ended within its bound: ${Math.round(ms)} ms`);
    });
    assertUnavailable(ping[0]?.outcome as PromiseSettledResult<unknown>, 'ping (/readyz)');
    assert.ok((ping[0]?.ms ?? 0) < busyTimeoutMs + SLACK_MS, 'ping answers without waiting long');
    assert.ok(lag < MAX_LAG_MS, `the event loop was blocked for ${Math.round(lag)} ms`);
    // WAL readers are not held up by the writer: reads still answer.
    assert.equal((await store.get(d, T0 + SECOND)).kind, 'live');

    await lock.release();
    await store.ping();
    const ended = await store.end(a, 'revoked', T0 + 2 * SECOND);
    assert.equal(ended.kind === 'ended' && ended.endedNow, true, 'writes go through again');
    const touched = await store.touch(b, touchOf(T0 + 5 * SECOND));
    assert.equal(touched.kind === 'live' && touched.record.idleExpiresAt, T0 + 65 * SECOND);
    assert.equal((await store.get(c, T0 + 6 * SECOND)).kind, 'live');
    const untouched = await store.get(c, T0 + 6 * SECOND);
    assert.equal(
      untouched.kind === 'live' && untouched.record.idleExpiresAt,
      T0 + 60 * SECOND,
      'the refused touch left nothing behind',
    );
  });

  it('a storeTimeout shorter than the wait still answers in time, with the event loop free', async (t) => {
    const path = freshPath();
    const raw = await SqliteStore.open({ path, busyTimeoutMs: 600 });
    t.after(() => raw.close());
    const store = boundedStore(raw, { timeoutMs: 150 });
    const sessions = Array.from({ length: 3 }, (_, i) => newRecord(`v${i}`));
    for (const session of sessions) await store.create(session, { maxSessions: null });

    const lock = await holdLock(t, path);
    const probe = lagProbe(t);
    const started = performance.now();
    const settled = await settleTimes(
      started,
      sessions.map((s) => store.end(s.id, 'revoked', T0 + SECOND)),
    );
    const lag = probe.stop();
    for (const { ms, outcome } of settled) {
      assertUnavailable(outcome, 'end');
      assert.ok(ms < 150 + SLACK_MS, `storeTimeout answered: ${Math.round(ms)} ms`);
    }
    assert.ok(lag < MAX_LAG_MS, `the event loop was blocked for ${Math.round(lag)} ms`);
    await lock.release();
    await raw.ping();
  });

  it('calls made while one waits for the lock run after it, in order, once the lock is gone', async (t) => {
    const path = freshPath();
    const store = await SqliteStore.open({ path, busyTimeoutMs: 3 * SECOND });
    t.after(() => store.close());
    const session = newRecord('w');
    await store.create(session, { maxSessions: null });

    const lock = await holdLock(t, path);
    const touched = store.touch(session.id, touchOf(T0 + 5 * SECOND));
    await new Promise((resolve) => setImmediate(resolve));
    const ended = store.end(session.id, 'revoked', T0 + 6 * SECOND);
    const read = store.get(session.id, T0 + 7 * SECOND);
    const probe = lagProbe(t);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await lock.release();
    const [t1, e1, r1] = await Promise.all([touched, ended, read]);
    assert.ok(probe.stop() < MAX_LAG_MS, 'the event loop turned while they waited');
    assert.equal(t1.kind === 'live' && t1.record.idleExpiresAt, T0 + 65 * SECOND, 'the touch went first');
    assert.equal(e1.kind === 'ended' && e1.endedNow, true, 'then the revocation');
    assert.equal(r1.kind === 'ended' && r1.record.reason, 'revoked', 'then the read, which sees it');
  });
});

describe('SqliteAuditLog: a write lock held by another process', () => {
  it('appends fail with store_unavailable within busyTimeoutMs without blocking, and go through after', async (t) => {
    const path = freshPath();
    const busyTimeoutMs = 300;
    const store = await SqliteStore.open({ path });
    await store.close();
    const log = await SqliteAuditLog.open({ path, busyTimeoutMs });
    t.after(() => log.close());
    await log.append([auditEntry('a0', T0 + 0)]);

    const lock = await holdLock(t, path);
    const probe = lagProbe(t);
    const started = performance.now();
    const settled = await settleTimes(started, [
      log.append([auditEntry('a1', T0 + 1)]),
      log.append([auditEntry('a2', T0 + 2)]),
      log.purge(T0 + 365 * 24 * 3600 * SECOND),
    ]);
    const lag = probe.stop();
    for (const { ms, outcome } of settled) {
      assertUnavailable(outcome, 'an audit write');
      assert.ok(ms < busyTimeoutMs + SLACK_MS, `ended within its bound: ${Math.round(ms)} ms`);
    }
    assert.ok(lag < MAX_LAG_MS, `the event loop was blocked for ${Math.round(lag)} ms`);
    assert.equal((await log.query({ limit: 10 })).entries.length, 1, 'reads still answer');

    await lock.release();
    await log.append([auditEntry('a3', T0 + 3)]);
    assert.equal((await log.query({ limit: 10 })).entries.length, 2);
  });
});
