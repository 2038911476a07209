import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeadlineIndex } from './deadline-index.js';

describe('DeadlineIndex', () => {
  it('yields what is due, earliest bucket first, and nothing later', () => {
    const index = new DeadlineIndex();
    index.set('c', 5_500);
    index.set('a', 1_200);
    index.set('b', 3_000);
    index.set('later', 9_000);
    assert.deepEqual([...index.candidates(5_999)], ['a', 'b', 'c']);
    assert.deepEqual([...index.candidates(500)], []);
  });

  it('moves an id when its deadline moves and forgets deleted ids', () => {
    const index = new DeadlineIndex();
    index.set('a', 1_000);
    index.set('a', 10_000);
    index.set('b', 2_000);
    index.delete('b');
    assert.deepEqual([...index.candidates(5_000)], []);
    assert.deepEqual([...index.candidates(10_000)], ['a']);
    assert.equal(index.size, 1);
  });

  it('walks only buckets after the last emptied one', () => {
    const index = new DeadlineIndex();
    for (let i = 0; i < 100; i++) index.set(`s${i}`, i * 1000);
    for (const id of index.candidates(49_999)) index.delete(id);
    assert.equal(index.size, 50);
    assert.deepEqual([...index.candidates(50_000)], ['s50']);
  });
});
