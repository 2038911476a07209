import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RecentCounts } from '../src/recent-counts.js';

describe('RecentCounts', () => {
  test('reads what a plain list of every add would say, whatever the order of the adds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.record({ series: fc.constantFrom('a', 'b'), at: fc.integer({ min: 0, max: 50_000 }) }), {
          maxLength: 60,
        }),
        fc.integer({ min: 0, max: 20_000 }),
        (bucketMs, size, adds, extra) => {
          const counts = new RecentCounts(['a', 'b'] as const, { bucketMs, size });
          for (const { series, at } of adds) counts.add(series, at);
          // Read at or after the last add, as the server does (its clock only goes forward).
          const now = Math.max(0, ...adds.map((add) => add.at)) + extra;
          const last = Math.floor(now / bucketMs);
          const first = last - size + 1;
          const expected = { a: new Array(size).fill(0), b: new Array(size).fill(0) };
          for (const { series, at } of adds) {
            const bucket = Math.floor(at / bucketMs);
            if (bucket >= first) expected[series][bucket - first]++;
          }
          const read = counts.read(now);
          assert.equal(read.from, first * bucketMs);
          assert.deepEqual(read.series, expected);
        },
      ),
    );
  });

  test('refuses a window it cannot hold', () => {
    assert.throws(() => new RecentCounts(['a'], { bucketMs: 0, size: 10 }), RangeError);
    assert.throws(() => new RecentCounts(['a'], { bucketMs: 1000, size: 0 }), RangeError);
  });
});
