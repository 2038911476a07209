import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRefreshAfter, expiresWithSession } from './token-timing.js';
import type { SessionStatus } from './types.js';

function status(idleExpiresInMs: number, absoluteExpiresInMs = 3_600_000): SessionStatus {
  return {
    id: 'sid',
    subject: 'ada',
    policy: 'default',
    state: 'active',
    idleExpiresInMs,
    absoluteExpiresInMs,
    warnInMs: 0,
    heartbeatIntervalMs: 10_000,
    idleExpiresAt: '',
    absoluteExpiresAt: '',
    serverTime: '',
  };
}

describe('when an access token is refreshed', () => {
  it('is 30 s before expiry for long tokens, and at 80 % of the life for short ones', () => {
    assert.equal(defaultRefreshAfter(300_000), 270_000);
    assert.equal(defaultRefreshAfter(150_000), 120_000);
    assert.equal(defaultRefreshAfter(60_000), 48_000);
    assert.equal(defaultRefreshAfter(2000), 1600);
    assert.equal(defaultRefreshAfter(0), 0);
  });

  it('knows a token that ends with its session (exp is capped, in whole seconds) from one that does not', () => {
    assert.equal(expiresWithSession(300_000, status(900_000)), false);
    assert.equal(expiresWithSession(120_000, status(120_400)), true, 'exp rounded down below the idle end');
    assert.equal(expiresWithSession(59_000, status(3_600_000, 59_900)), true, 'the absolute end caps it too');
    assert.equal(expiresWithSession(100_000, status(102_000)), false);
  });
});
