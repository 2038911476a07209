import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from './clock.js';
import { type SessionEvent, SessionEvents } from './events.js';
import { createSession } from './lifecycle.js';
import { MemoryStore } from './memory-store.js';
import { resolvePolicy } from './policy.js';
import { Sweeper } from './sweeper.js';

const policy = resolvePolicy('default', { idleTimeout: '60s', absoluteTimeout: '1h', warnBefore: '10s' });

async function setup(count: number) {
  const clock = new ManualClock();
  const store = new MemoryStore();
  const events = new SessionEvents();
  const seen: SessionEvent[] = [];
  events.on((event) => seen.push(event));
  for (let i = 0; i < count; i++) {
    const record = createSession({ id: `s${i}`, subject: `u${i}`, policy, now: clock.now() + i });
    await store.create(record, { maxSessions: null });
  }
  const sweeper = new Sweeper({ store, clock, events, batchSize: 7, endedRetentionMs: 60_000 });
  return { clock, store, events, seen, sweeper };
}

describe('Sweeper', () => {
  it('emits one warning and one expiry per session, across batches', async () => {
    const { clock, seen, sweeper } = await setup(20);
    clock.advance(49_000);
    assert.deepEqual(await sweeper.sweep(), { warned: 0, expired: 0, purged: 0 });
    clock.advance(1_100);
    assert.deepEqual(await sweeper.sweep(), { warned: 20, expired: 0, purged: 0 });
    clock.advance(10_000);
    assert.deepEqual(await sweeper.sweep(), { warned: 0, expired: 20, purged: 0 });
    assert.deepEqual(await sweeper.sweep(), { warned: 0, expired: 0, purged: 0 });
    const types = seen.map((e) => e.type);
    assert.equal(types.filter((t) => t === 'session.warning').length, 20);
    assert.equal(types.filter((t) => t === 'session.expired').length, 20);
    assert.ok(seen.every((e) => e.type !== 'session.expired' || e.session.reason === 'idle_timeout'));
  });

  it('purges ended sessions once the retention has passed', async () => {
    const { clock, store, sweeper } = await setup(3);
    clock.advance(61_000);
    await sweeper.sweep();
    assert.equal((await store.get('s0', clock.now())).kind, 'ended');
    clock.advance(60_000);
    assert.equal((await sweeper.sweep()).purged, 3);
    assert.equal((await store.get('s0', clock.now())).kind, 'unknown');
  });

  it('runs on its own timer until stopped', async () => {
    const { clock, store, events, seen } = await setup(1);
    clock.advance(61_000);
    const timed = new Sweeper({ store, clock, events, intervalMs: 5 });
    timed.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await timed.stop();
    assert.deepEqual(
      seen.map((e) => e.type),
      ['session.expired'],
    );
  });
});
