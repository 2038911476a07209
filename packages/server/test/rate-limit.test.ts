import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TokenBuckets } from '../src/rate-limit.js';

test('a burst, then perSecond; the wait says when the next token comes', () => {
  const buckets = new TokenBuckets({ burst: 2, perSecond: 4 });
  assert.equal(buckets.take('a', 0), 0);
  assert.equal(buckets.take('a', 0), 0);
  assert.equal(buckets.take('a', 0), 250);
  assert.equal(buckets.take('a', 100), 150);
  assert.equal(buckets.take('a', 250), 0);
  assert.equal(buckets.take('b', 250), 0, 'keys are independent');
});

test('memory stays bounded: refilled buckets are dropped, and at most maxBuckets are kept', () => {
  const buckets = new TokenBuckets({ burst: 10, perSecond: 1, maxBuckets: 100 });
  for (let i = 0; i < 1000; i++) buckets.take(`k${i}`, 0);
  assert.equal(buckets.size, 100);
  buckets.take('late', 10_000);
  assert.equal(buckets.size, 1, 'every bucket had refilled: only the new one is kept');
});

test('property: never more than burst + perSecond × elapsed allowed, whatever the timing', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.double({ min: 0.1, max: 50, noNaN: true }),
      fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 200 }),
      (burst, perSecond, gaps) => {
        const buckets = new TokenBuckets({ burst, perSecond });
        let now = 0;
        let allowed = 0;
        for (const gap of gaps) {
          now += gap;
          if (buckets.take('k', now) === 0) allowed++;
        }
        assert.ok(allowed <= burst + (perSecond * now) / 1000 + 1e-9);
      },
    ),
    { numRuns: 200 },
  );
});
