import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads the units people write in configs', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('8h'), 28_800_000);
    assert.equal(parseDuration('30d'), 2_592_000_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration(1234), 1234);
  });

  it('refuses anything else, naming the field', () => {
    for (const bad of [
      '',
      '15',
      'm',
      '1.5h',
      '-3s',
      '15 m',
      '15min',
      '1h 30m',
      'ten minutes',
      -1,
      1.5,
      Number.NaN,
      null,
      {},
      [],
    ]) {
      assert.throws(
        () => parseDuration(bad, 'policies.default.idleTimeout'),
        (error: { code?: string; details?: { field: string; rule: string }[] }) =>
          error.code === 'validation_failed' &&
          error.details?.[0]?.field === 'policies.default.idleTimeout' &&
          error.details[0].rule === 'duration',
        `should refuse ${JSON.stringify(bad)}`,
      );
    }
  });

  it('round-trips through formatDuration', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 400 * 86_400_000 }),
        (ms) => parseDuration(formatDuration(ms)) === ms,
      ),
    );
  });
});
