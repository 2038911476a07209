import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FIELDS, SlotTimes, TIME } from './slot-times.js';

function withCapacity(capacity: number): SlotTimes {
  const times = new SlotTimes();
  times.grow(new Float64Array(capacity), new Uint32Array(capacity * FIELDS));
  return times;
}

function read(times: SlotTimes, slot: number): number[] {
  return [
    times.createdAt(slot),
    times.get(slot, TIME.lastActivity),
    times.get(slot, TIME.lastSeen),
    times.get(slot, TIME.idleExpires),
    times.get(slot, TIME.absoluteExpires),
    times.get(slot, TIME.mark),
  ];
}

const DAY = 86_400_000;
const created = Date.UTC(2026, 11, 5);

describe('SlotTimes', () => {
  it('reads back what was put; times of a usual session need nothing aside', () => {
    const times = withCapacity(4);
    times.put(1, created, [
      created + 5_000,
      created + 6_000,
      created + 905_000,
      created + 8 * 3_600_000,
      Number.NaN,
    ]);
    assert.deepEqual(read(times, 1), [
      created,
      created + 5_000,
      created + 6_000,
      created + 905_000,
      created + 8 * 3_600_000,
      Number.NaN,
    ]);
    assert.equal(times.asideCount, 0);
  });

  it('keeps aside, exactly, a time 60 days on, one before creation and one not in whole milliseconds', () => {
    const times = withCapacity(4);
    const put = [created + 1, created - 1, created + 0.5, created + 60 * DAY, created + 2 ** 32] as const;
    times.put(2, created, put);
    assert.deepEqual(read(times, 2), [created, ...put]);
    assert.equal(times.asideCount, 1);
    // The slot written again with times that fit no longer keeps anything aside.
    times.put(2, created, [created, created, created, created, Number.NaN]);
    assert.equal(times.asideCount, 0);
    assert.equal(times.get(2, TIME.absoluteExpires), created);
    times.put(3, created, put);
    times.clear(3);
    assert.equal(times.asideCount, 0);
  });

  it('keeps what the slots held when it grows; new slots have no times', () => {
    const times = withCapacity(2);
    times.put(1, created, [created + 1, created + 2, created + 3, created + 4, created + 5]);
    times.grow(new Float64Array(4), new Uint32Array(4 * FIELDS));
    assert.deepEqual(read(times, 1), [
      created,
      created + 1,
      created + 2,
      created + 3,
      created + 4,
      created + 5,
    ]);
    assert.deepEqual(read(times, 3).slice(1), [Number.NaN, Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
  });

  it('any float64 times read back exactly as put', () => {
    const time = fc.oneof(
      fc.double({ noNaN: false }),
      fc.integer({ min: 0, max: 2 ** 33 }).map((offset) => created + offset),
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true }), fc.tuple(time, time, time, time, time), (createdAt, put) => {
        const times = withCapacity(1);
        times.put(0, createdAt, put);
        assert.deepEqual(read(times, 0), [createdAt, ...put]);
      }),
    );
  });
});
