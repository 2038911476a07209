import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createSession,
  ManualClock,
  MemoryStore,
  newSessionToken,
  resolveConfig,
  SessionEndedError,
  type SessionEvent,
  SessionEvents,
  StoreUnavailableError,
  sessionIdFor,
  VigilError,
} from '@vigil/core';
import { localChecker } from '../src/index.js';
import { faultyStore, TEST_CONFIG } from './helpers.js';

async function setUp(options: { policyCacheSize?: number } = {}) {
  const clock = new ManualClock();
  const store = faultyStore(new MemoryStore());
  const config = resolveConfig(TEST_CONFIG);
  const events = new SessionEvents();
  const seen: SessionEvent[] = [];
  events.on((event) => seen.push(event));
  const checker = localChecker({ store, config: TEST_CONFIG, clock, events, ...options });
  const token = newSessionToken();
  const policy = config.policies.get('default');
  assert.ok(policy);
  await store.create(createSession({ id: sessionIdFor(token), subject: 'alice', policy, now: clock.now() }), {
    maxSessions: null,
  });
  return { clock, store, checker, token, seen };
}

describe('localChecker', () => {
  test('an active check that extends a session in its warning emits session.extended; an end emits once', async () => {
    const { clock, checker, token, seen } = await setUp();
    clock.advance(8500);
    const session = await checker.check({ token, passive: false });
    assert.equal(session.status.idleExpiresInMs, 10_000);
    assert.equal(session.status.state, 'active');
    assert.deepEqual(
      seen.map((event) => event.type),
      ['session.extended'],
    );
    clock.advance(9000);
    const warning = await checker.check({ token, passive: true });
    assert.equal(warning.status.state, 'warning');
    assert.equal(seen.length, 1, 'a passive check extends nothing');
    clock.advance(1000);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(checker.check({ token, passive: i === 0 }), (error: unknown) => {
        assert.ok(error instanceof SessionEndedError);
        assert.equal(error.reason, 'idle_timeout');
        assert.equal(error.endedAt, Date.UTC(2026, 0, 1) + 18_500);
        return true;
      });
    }
    assert.deepEqual(
      seen.map((event) => event.type),
      ['session.extended', 'session.expired'],
    );
  });

  test('errors are core VigilErrors: unauthenticated, session_ended, store_unavailable', async () => {
    const { store, checker, token } = await setUp({ policyCacheSize: 0 });
    await assert.rejects(
      checker.check({ token: newSessionToken(), passive: false }),
      (error: unknown) => error instanceof VigilError && error.code === 'unauthenticated',
    );
    await assert.rejects(
      checker.check({ token: 'Bearer nonsense', passive: false }),
      (error: unknown) => error instanceof VigilError && error.code === 'unauthenticated',
    );
    store.mode = 'throw';
    await assert.rejects(checker.check({ token, passive: false }), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.doesNotMatch(error.message, /db\.internal|vgl_/);
      return true;
    });
    store.mode = 'ok';
    await store.end(sessionIdFor(token), 'logout', Date.UTC(2026, 0, 1));
    await assert.rejects(
      checker.check({ token, passive: false }),
      (error: unknown) => error instanceof SessionEndedError && error.reason === 'logout',
    );
  });
});
