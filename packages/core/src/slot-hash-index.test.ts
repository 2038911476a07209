import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SlotHashIndex } from './slot-hash-index.js';

describe('SlotHashIndex', () => {
  it('answers like a Map through any run of sets, replacements and deletes', () => {
    // Short keys from a small alphabet collide often; slots are reused as a store reuses them.
    const key = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '{', 'é'), maxLength: 4 });
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key }),
      fc.record({ kind: fc.constant('delete' as const), key }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const keys: (string | undefined)[] = [];
        const index = new SlotHashIndex((slot) => keys[slot]);
        const model = new Map<string, number>();
        const free: number[] = [];
        for (const { kind, key: k } of ops) {
          const current = model.get(k);
          if (kind === 'set') {
            // A new slot for the key (as a store moves a subject to its newest session).
            const slot = free.pop() ?? keys.length;
            keys[slot] = k;
            index.set(k, slot);
            if (current !== undefined) {
              keys[current] = undefined;
              free.push(current);
            }
            model.set(k, slot);
          } else if (current !== undefined) {
            index.delete(k);
            keys[current] = undefined;
            free.push(current);
            model.delete(k);
          }
          assert.equal(index.size, model.size);
        }
        for (const [k, slot] of model) assert.equal(index.get(k), slot);
        assert.equal(index.get('never'), undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('stays correct across growth to many keys', () => {
    const keys = Array.from({ length: 50_000 }, (_, i) => `id-${i}`);
    const index = new SlotHashIndex((slot) => keys[slot]);
    keys.forEach((k, slot) => {
      index.set(k, slot);
    });
    for (let slot = 0; slot < keys.length; slot += 2) index.delete(keys[slot] as string);
    assert.equal(index.size, 25_000);
    for (let slot = 0; slot < keys.length; slot++) {
      assert.equal(index.get(keys[slot] as string), slot % 2 === 0 ? undefined : slot);
    }
  });
});
