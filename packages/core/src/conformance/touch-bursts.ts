import assert from 'node:assert/strict';
import { applyTouch, settle, touchParams } from '../lifecycle.js';
import type { SessionRecord } from '../session.js';
import type { Store, TouchResult } from '../store.js';
import { newRecord, conformancePolicy as policy, T0 } from './fixtures.js';
import { prng } from './prng.js';

const SECOND = 1000;

/** The fields a touch decides, for comparing answers. */
export function touchSummary(result: TouchResult) {
  if (result.kind === 'unknown') return { kind: 'unknown' };
  const { record: r } = result;
  return {
    kind: result.kind,
    idleExpiresAt: r.idleExpiresAt,
    lastSeenAt: r.lastSeenAt,
    warnAt: r.warnAt,
    reason: r.reason,
    endedAt: r.endedAt,
    ...(result.kind === 'ended' ? { endedNow: result.endedNow } : {}),
  };
}

/**
 * For stores that gather the touches made together (a group commit): bursts of touches made without
 * waiting — repeats of one session, unknown ids, sweeper claims and reads in between — must answer
 * exactly as the lifecycle applied to them one by one, in the order made, and store what they answered.
 */
export async function runTouchBursts(store: Store, { seed, rounds }: { seed: number; rounds: number }) {
  const random = prng(seed);
  const model = new Map<string, SessionRecord>();
  let now = T0;
  for (let round = 0; round < rounds; round++) {
    const where = `seed ${seed}, round ${round}`;
    now += Math.floor(random() * 20 * SECOND);
    if (model.size < 10 || random() < 0.2) {
      const session = newRecord(`s${round}`, now);
      await store.create(session, { maxSessions: null });
      model.set(session.id, session);
    }
    // The sweeper claims due warnings first: a later active touch then arms one again (in SQLite,
    // the synced path inside a batch).
    if (random() < 0.3) {
      for (const claimed of await store.claimWarnings(now, 100)) model.set(claimed.id, claimed);
    }
    const ids = [...model.keys()];
    const expected: unknown[] = [];
    const answers: Array<Promise<TouchResult>> = [];
    for (let i = 0, burst = 1 + Math.floor(random() * 12); i < burst; i++) {
      now += Math.floor(random() * 3 * SECOND);
      // Repeats of one session within a burst are common on purpose, and so is an unknown id.
      const id =
        random() < 0.05 ? 'no-such-id' : (ids[Math.floor(random() * Math.min(ids.length, 6))] as string);
      const touch = touchParams(policy, random() < 0.7 ? 'active' : 'sleeping', now);
      const current = model.get(id);
      if (current === undefined) {
        expected.push({ kind: 'unknown' });
      } else {
        const decision = applyTouch(current, touch);
        if (decision.kind === 'ended' || decision.write) model.set(id, decision.record);
        expected.push(
          touchSummary(
            decision.kind === 'ended'
              ? { kind: 'ended', record: decision.record, endedNow: decision.endedNow }
              : { kind: 'live', record: decision.record, extendedFromWarning: decision.extendedFromWarning },
          ),
        );
      }
      answers.push(store.touch(id, touch));
    }
    assert.deepEqual((await Promise.all(answers)).map(touchSummary), expected, where);
    // What was written is what was answered (a read records an expiry, as the model does).
    for (const [id, record] of model) {
      const settled = settle(record, now).record;
      const read = await store.get(id, now);
      assert.equal(read.kind === 'unknown' ? null : read.record.idleExpiresAt, settled.idleExpiresAt, where);
      assert.equal(read.kind === 'unknown' ? null : read.record.endedAt, settled.endedAt, where);
      model.set(id, settled);
    }
  }
}
