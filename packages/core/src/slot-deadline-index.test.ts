import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlotDeadlineIndex, type SlotLinks } from './slot-deadline-index.js';

function links(size: number): SlotLinks {
  return { prev: new Int32Array(size).fill(-1), next: new Int32Array(size).fill(-1) };
}

describe('SlotDeadlineIndex', () => {
  it('yields what is due, earliest bucket first, in the order added within one, and nothing later', () => {
    const index = new SlotDeadlineIndex(links(8));
    index.add(2, 5_500);
    index.add(0, 1_200);
    index.add(1, 3_000);
    index.add(4, 3_400);
    index.add(3, 9_000);
    assert.deepEqual([...index.candidates(5_999)], [0, 1, 4, 2]);
    assert.deepEqual([...index.candidates(500)], []);
  });

  it('takes slots out from the head, the middle and the tail of a bucket', () => {
    const index = new SlotDeadlineIndex(links(8));
    for (const slot of [0, 1, 2, 3, 4]) index.add(slot, 2_000 + slot);
    index.remove(4, 2_004);
    index.remove(2, 2_002);
    index.remove(0, 2_000);
    assert.deepEqual([...index.candidates(2_999)], [1, 3]);
    index.remove(1, 2_001);
    index.remove(3, 2_003);
    assert.deepEqual([...index.candidates(2_999)], []);
    index.add(4, 7_000);
    assert.deepEqual([...index.candidates(7_000)], [4]);
  });

  it('lets the caller remove and re-add slots while it walks, and walks only buckets after the last emptied one', () => {
    const index = new SlotDeadlineIndex(links(100));
    for (let slot = 0; slot < 100; slot++) index.add(slot, slot * 1000);
    const seen: number[] = [];
    for (const slot of index.candidates(49_999)) {
      seen.push(slot);
      index.remove(slot, slot * 1000);
      if (slot % 10 === 0) index.add(slot, 200_000 + slot);
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.deepEqual([...index.candidates(50_000)], [50]);
    assert.deepEqual([...index.candidates(200_999)].slice(-5), [0, 10, 20, 30, 40]);
  });
});
