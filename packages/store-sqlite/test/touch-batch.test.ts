import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Signal, StoreUnavailableError, touchParams } from '@vigil/core';
import { conformancePolicy, newRecord, runTouchBursts, T0 } from '@vigil/core/conformance';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/index.js';

// Touches made in one turn of the event loop commit together (turn-batch.ts, SqliteStore#touchAll).
// Each must answer exactly as it would alone, in the order made, and a batch that cannot commit
// must apply none of its touches.

const SECOND = 1000;
const touchOf = (signal: Signal, now: number) => touchParams(conformancePolicy, signal, now);

let root = '';
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'vigil-sqlite-batch-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshPath = () => join(root, `case-${++counter}.db`);

describe('SqliteStore: touches of one turn commit together', () => {
  it('sixteen touches made together write one commit, not sixteen', async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    const sessions = Array.from({ length: 16 }, (_, i) => newRecord(`u${i}`));
    for (const session of sessions) await store.create(session, { maxSessions: null });
    const walBytes = () => statSync(`${path}-wal`).size;
    const reader = new Database(path, { readonly: true });
    const frameBytes = 24 + (reader.pragma('page_size', { simple: true }) as number);
    reader.close();
    const walBefore = walBytes();

    const results = await Promise.all(
      sessions.map((s) => store.touch(s.id, touchOf('active', T0 + 5 * SECOND))),
    );

    for (const result of results) {
      assert.equal(result.kind, 'live');
      assert.equal(result.kind === 'live' && result.record.idleExpiresAt, T0 + 65 * SECOND);
    }
    // One commit of the page (or two) that holds the rows; one commit each would add sixteen frames.
    const frames = (walBytes() - walBefore) / frameBytes;
    assert.ok(frames >= 1 && frames <= 3, `the touches added ${frames} WAL frames`);
    for (const session of sessions) {
      const read = await store.get(session.id, T0 + 6 * SECOND);
      assert.equal(read.kind === 'live' && read.record.idleExpiresAt, T0 + 65 * SECOND);
    }
    await store.close();
  });

  it('bursts of touches answer as the same touches made one by one', async () => {
    const store = await SqliteStore.open({ path: freshPath() });
    await runTouchBursts(store, { seed: 20261205, rounds: 60 });
    await store.close();
  });

  it('a batch that cannot commit fails every touch in it and applies none', async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path, busyTimeoutMs: 50 });
    const sessions = [newRecord('a'), newRecord('b'), newRecord('c')];
    for (const session of sessions) await store.create(session, { maxSessions: null });
    // Another process holds the write lock for longer than the store waits.
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const outcomes = await Promise.allSettled(
        sessions.map((s) => store.touch(s.id, touchOf('active', T0 + 5 * SECOND))),
      );
      for (const outcome of outcomes) {
        assert.equal(outcome.status, 'rejected');
        assert.ok(outcome.status === 'rejected' && outcome.reason instanceof StoreUnavailableError);
      }
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    for (const session of sessions) {
      const read = await store.get(session.id, T0 + 6 * SECOND);
      assert.equal(read.kind === 'live' && read.record.idleExpiresAt, T0 + 60 * SECOND);
    }
    await store.close();
  });

  it('a call made after touches sees them, and closing applies the touches still waiting', async () => {
    const path = freshPath();
    const store = await SqliteStore.open({ path });
    const session = newRecord('a');
    await store.create(session, { maxSessions: null });
    const touched = store.touch(session.id, touchOf('active', T0 + 5 * SECOND));
    const read = await store.get(session.id, T0 + 6 * SECOND);
    assert.equal(read.kind === 'live' && read.record.idleExpiresAt, T0 + 65 * SECOND);
    assert.equal((await touched).kind, 'live');

    const waiting = store.touch(session.id, touchOf('active', T0 + 9 * SECOND));
    await store.close();
    assert.equal((await waiting).kind, 'live');
    const reopened = await SqliteStore.open({ path });
    const after = await reopened.get(session.id, T0 + 10 * SECOND);
    assert.equal(after.kind === 'live' && after.record.idleExpiresAt, T0 + 69 * SECOND);
    await reopened.close();
  });
});
