import assert from 'node:assert/strict';
import { it } from 'node:test';
import { deadlinesOf, endReasonOf } from './deadlines.js';
import type { SessionStatus } from './types.js';

const status = (over: Partial<SessionStatus>): SessionStatus => ({
  id: 's',
  subject: 'u',
  policy: 'default',
  state: 'active',
  idleExpiresInMs: 30_000,
  absoluteExpiresInMs: 90_000,
  warnInMs: 20_000,
  heartbeatIntervalMs: 10_000,
  // Deliberately absurd: the client never reads these.
  idleExpiresAt: '1999-01-01T00:00:00.000Z',
  absoluteExpiresAt: '1999-01-01T00:00:00.000Z',
  serverTime: '2999-01-01T00:00:00.000Z',
  ...over,
});

it('places deadlines at arrival time plus the relative durations, ignoring the server clock', () => {
  assert.deepEqual(deadlinesOf(status({}), 1000), {
    idleEndsAt: 31_000,
    absoluteEndsAt: 91_000,
    endsAt: 31_000,
    warnAt: 21_000,
  });
});

it('ends at the earlier deadline and names it', () => {
  const idle = deadlinesOf(status({}), 0);
  const absolute = deadlinesOf(status({ absoluteExpiresInMs: 5000, warnInMs: 0 }), 0);
  assert.equal(endReasonOf(idle), 'idle_timeout');
  assert.equal(absolute.endsAt, 5000);
  assert.equal(endReasonOf(absolute), 'absolute_timeout');
});
