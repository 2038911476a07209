import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BusyLane, isBusy } from '../src/busy-lane.js';

// The lane on its own, with a lock that is a flag: what the store's lock waits rest on.

const busy = () => new Database.SqliteError('database is locked', 'SQLITE_BUSY');

/** A lock held until `release()`: a call that meets it throws SQLITE_BUSY, having done nothing. */
function fakeLock() {
  let held = true;
  return {
    check() {
      if (held) throw busy();
    },
    release() {
      held = false;
    },
  };
}

describe('BusyLane', () => {
  it('runs a call at once, synchronously, when nothing waits', async () => {
    const lane = new BusyLane(100);
    let ran = false;
    const answer = lane.run(() => {
      ran = true;
      return 42;
    });
    assert.equal(ran, true, 'ran inside run()');
    assert.equal(await answer, 42);
  });

  it('tries a call that meets a lock again on timers, and queues later calls behind it, in order', async () => {
    const lane = new BusyLane(2000);
    const lock = fakeLock();
    const order: string[] = [];
    const first = lane.run(() => {
      lock.check();
      order.push('first');
      return 1;
    });
    const second = lane.run(() => {
      order.push('second');
      return 2;
    });
    assert.deepEqual(order, [], 'the second waits behind the first, though it needs no lock');
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(turned, true, 'the event loop turns meanwhile');
    lock.release();
    assert.deepEqual(await Promise.all([first, second]), [1, 2]);
    assert.deepEqual(order, ['first', 'second']);
    await lane.idle();
  });

  it('fails a call with its last SQLITE_BUSY once its wait is over; the next ones get their own', async () => {
    const lane = new BusyLane(80);
    const lock = fakeLock();
    const started = performance.now();
    const calls = [0, 1, 2].map(() => lane.run(() => lock.check()));
    const outcomes = await Promise.allSettled(calls);
    const elapsed = performance.now() - started;
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(isBusy((outcome as PromiseRejectedResult).reason));
    }
    assert.ok(elapsed >= 75, `waited its bound: ${Math.round(elapsed)} ms`);
    assert.ok(elapsed < 80 + 300, `all ended about then: ${Math.round(elapsed)} ms`);
    await lane.idle();
  });

  it('fails at once on any other error, and goes on with the next call', async () => {
    const lane = new BusyLane(1000);
    const failing = lane.run(() => {
      throw new Database.SqliteError('disk is full', 'SQLITE_FULL');
    });
    await assert.rejects(failing, { code: 'SQLITE_FULL' });
    assert.equal(await lane.run(() => 'next'), 'next');
  });

  it('a probe does not wait behind the lane, and has its own bound', async () => {
    const lane = new BusyLane(5000);
    const lock = fakeLock();
    const waiting = lane.run(() => lock.check());
    const started = performance.now();
    assert.equal(await lane.probe(() => 'free', 50), 'free', 'out of turn');
    await assert.rejects(
      lane.probe(() => lock.check(), 50),
      (error: unknown) => isBusy(error),
    );
    assert.ok(performance.now() - started < 50 + 300, 'within its own bound');
    lock.release();
    await waiting;
    await lane.idle();
  });
});
