import assert from 'node:assert/strict';
import { applyTouch, createSession, endSession, settle, touchParams } from '../lifecycle.js';
import { resolvePolicy } from '../policy.js';
import type { SessionRecord } from '../session.js';
import type { Store } from '../store.js';
import { newSessionToken, sessionIdFor } from '../tokens.js';
import { prng } from './prng.js';

const policy = resolvePolicy('default', {
  idleTimeout: '20s',
  absoluteTimeout: '2m',
  warnBefore: '5s',
  touchGranularity: '500ms',
});

/**
 * Drives the store with random creations, touches, reads and ends while time moves forward, and
 * checks every answer against a model built from the pure lifecycle functions.
 */
export async function runRandomHistory(
  store: Store,
  { seed, steps }: { seed: number; steps: number },
): Promise<void> {
  const random = prng(seed);
  const model = new Map<string, SessionRecord>();
  let now = Date.UTC(2026, 5, 1);
  const pick = () => {
    const ids = [...model.keys()];
    return ids[Math.floor(random() * ids.length)];
  };
  for (let step = 0; step < steps; step++) {
    now += Math.floor(random() * 4000);
    const roll = random();
    const id = pick();
    const where = `seed ${seed}, step ${step}`;
    if (roll < 0.15 || id === undefined) {
      const record = createSession({
        id: sessionIdFor(newSessionToken()),
        subject: `s${Math.floor(random() * 5)}`,
        policy,
        now,
      });
      await store.create(record, { maxSessions: null });
      model.set(record.id, record);
    } else if (roll < 0.75) {
      const signal = random() < 0.6 ? 'active' : 'sleeping';
      const expected = applyTouch(model.get(id) as SessionRecord, touchParams(policy, signal, now));
      const actual = await store.touch(id, touchParams(policy, signal, now));
      const got = actual.kind === 'unknown' ? undefined : actual.record;
      assert.equal(actual.kind, expected.kind, where);
      assert.equal(got?.idleExpiresAt, expected.record.idleExpiresAt, where);
      assert.equal(got?.reason, expected.record.reason, where);
      if (expected.kind === 'ended' || expected.write) model.set(id, expected.record);
    } else if (roll < 0.9) {
      const expected = settle(model.get(id) as SessionRecord, now);
      const actual = await store.get(id, now);
      const got = actual.kind === 'unknown' ? undefined : actual.record;
      assert.equal(actual.kind, expected.record.endedAt === null ? 'live' : 'ended', where);
      assert.equal(got?.idleExpiresAt, expected.record.idleExpiresAt, where);
      assert.equal(got?.endedAt, expected.record.endedAt, where);
      assert.equal(got?.reason, expected.record.reason, where);
      model.set(id, expected.record);
    } else {
      const current = settle(model.get(id) as SessionRecord, now).record;
      const expected = current.endedAt === null ? endSession(current, 'revoked', now) : current;
      const actual = await store.end(id, 'revoked', now);
      assert.equal(actual.kind === 'ended' && actual.record.reason, expected.reason, where);
      model.set(id, expected);
    }
  }
}
