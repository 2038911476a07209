import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyTouch, MemoryStore, resolvePolicy, touchParams } from '@vigil/core';
import { describeStoreConformance, newRecord, T0 } from '@vigil/core/conformance';

describeStoreConformance('memory', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

// The store keeps times as 32-bit millisecond offsets from creation (slot-times.ts): about 49 days.
describe('MemoryStore: a session whose times lie beyond 49 days of its creation', () => {
  const DAY = 86_400_000;
  const policy = resolvePolicy('long', {
    idleTimeout: '55d',
    absoluteTimeout: '60d',
    warnBefore: '1d',
    touchGranularity: 0,
  });

  it('keeps every time exactly, through a touch, and ends it at its absolute deadline', async () => {
    const store = new MemoryStore();
    const record = newRecord('long', T0, policy);
    await store.create(record, { maxSessions: null });
    assert.deepEqual(await store.get(record.id, T0), { kind: 'live', record });

    const touch = touchParams(policy, 'active', T0 + 50 * DAY);
    const decided = applyTouch(record, touch);
    assert.ok(decided.kind === 'live' && decided.write);
    const touched = await store.touch(record.id, touch);
    assert.deepEqual(touched.kind === 'live' && touched.record, decided.record);
    assert.deepEqual(await store.get(record.id, T0 + 50 * DAY), { kind: 'live', record: decided.record });

    assert.deepEqual(await store.claimExpired(T0 + 60 * DAY - 1, 10), []);
    const [ended] = await store.claimExpired(T0 + 60 * DAY, 10);
    assert.equal(ended?.reason, 'absolute_timeout');
    assert.equal(ended?.endedAt, T0 + 60 * DAY);
    await store.close();
  });
});
