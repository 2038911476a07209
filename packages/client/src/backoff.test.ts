import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter, resolveRetry, retryDelay } from './backoff.js';

describe('retryDelay', () => {
  const retry = resolveRetry({ baseMs: 1000, maxMs: 8000, factor: 2 });

  it('grows exponentially and stays between half and all of each step', () => {
    for (const [attempt, step] of [
      [0, 1000],
      [1, 2000],
      [2, 4000],
    ] as const) {
      assert.equal(
        retryDelay(attempt, retry, null, () => 0),
        step / 2,
      );
      assert.equal(
        retryDelay(attempt, retry, null, () => 0.999999),
        step,
      );
    }
  });

  it('is capped at maxMs', () => {
    assert.equal(
      retryDelay(10, retry, null, () => 0.999999),
      8000,
    );
  });

  it('jitters: different random draws give different waits', () => {
    const waits = new Set([0.1, 0.4, 0.7].map((r) => retryDelay(2, retry, null, () => r)));
    assert.equal(waits.size, 3);
  });

  it('never waits less than Retry-After', () => {
    assert.equal(
      retryDelay(0, retry, 5000, () => 0.5),
      5000,
    );
    assert.equal(
      retryDelay(3, retry, 10, () => 0.5),
      6000,
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(' 0 '), 0);
  });

  it('reads an HTTP date against now', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Tue, 01 Jan 2000 00:00:05 GMT', now), 0);
  });

  it('ignores absence and nonsense', () => {
    assert.equal(parseRetryAfter(null), null);
    assert.equal(parseRetryAfter('soon'), null);
    assert.equal(parseRetryAfter('-3'), null);
  });
});
