import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { iso } from './status.js';

describe('iso', () => {
  it('writes exactly what Date#toISOString writes, whatever came before', () => {
    // Runs of nearby instants (the cache's case) mixed with far ones, negative and past year 9999.
    const instant = fc.oneof(
      fc.integer({ min: 1_700_000_000_000, max: 1_700_000_010_000 }),
      fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }),
      fc.constantFrom(0, -1, 999, 1000, -1000, -1001, 253_402_300_799_999, 253_402_300_800_000),
    );
    fc.assert(
      fc.property(fc.array(instant, { maxLength: 40 }), (instants) => {
        for (const ms of instants) assert.equal(iso(ms), new Date(ms).toISOString());
      }),
      { numRuns: 500 },
    );
  });

  it('throws for an invalid time, as toISOString does', () => {
    assert.throws(() => iso(Number.NaN), RangeError);
    assert.throws(() => iso(8_640_000_000_000_001), RangeError);
  });
});
