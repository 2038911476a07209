import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyTouch, createSession, liveness, type Signal, settle, touchParams } from './lifecycle.js';
import { resolvePolicy } from './policy.js';
import { expiresAt, type SessionRecord } from './session.js';
import { sessionStatus } from './status.js';

const T0 = Date.UTC(2026, 0, 1);
const policy = resolvePolicy('default', { idleTimeout: '15m', absoluteTimeout: '8h', warnBefore: '2m' });
const exact = resolvePolicy('exact', { idleTimeout: '15m', absoluteTimeout: '8h', touchGranularity: 0 });
const MIN = 60_000;
const fresh = (p = policy) => createSession({ id: 'id', subject: 'alice', policy: p, now: T0 });

function run(record: SessionRecord, signals: [number, Signal][], p = policy): SessionRecord {
  let current = record;
  for (const [at, signal] of signals) {
    const decision = applyTouch(current, touchParams(p, signal, at));
    if (decision.kind === 'ended' || decision.write) current = decision.record;
  }
  return current;
}

describe('session lifecycle', () => {
  it('starts with both deadlines and a warning before the earlier one', () => {
    const record = fresh();
    assert.equal(record.idleExpiresAt, T0 + 15 * MIN);
    assert.equal(record.absoluteExpiresAt, T0 + 480 * MIN);
    assert.equal(record.warnAt, T0 + 13 * MIN);
  });

  it('ends idle sessions at the idle deadline, not when someone notices', () => {
    assert.deepEqual(liveness(fresh(), T0 + 15 * MIN - 1), { alive: true });
    assert.deepEqual(liveness(fresh(), T0 + 60 * MIN), {
      alive: false,
      reason: 'idle_timeout',
      endedAt: T0 + 15 * MIN,
    });
  });

  it('enforces idle and absolute timeouts together', () => {
    const busy: [number, Signal][] = [];
    for (let t = 10; t < 480; t += 10) busy.push([T0 + t * MIN, 'active']);
    const record = run(fresh(), busy);
    assert.equal(record.endedAt, null, 'activity every 10 min keeps a 15 min idle session alive');
    assert.deepEqual(liveness(record, T0 + 480 * MIN), {
      alive: false,
      reason: 'absolute_timeout',
      endedAt: T0 + 480 * MIN,
    });
  });

  it('sleeping signals prove connectivity but never extend', () => {
    const record = run(fresh(), [
      [T0 + 5 * MIN, 'sleeping'],
      [T0 + 10 * MIN, 'sleeping'],
    ]);
    assert.equal(record.lastSeenAt, T0 + 10 * MIN);
    assert.equal(record.idleExpiresAt, T0 + 15 * MIN);
    assert.equal(liveness(record, T0 + 15 * MIN).alive, false);
  });

  it('reports an extension out of the warning period', () => {
    const inWarning = applyTouch(fresh(), touchParams(policy, 'active', T0 + 14 * MIN));
    assert.equal(inWarning.kind === 'live' && inWarning.extendedFromWarning, true);
    assert.equal(inWarning.kind === 'live' && inWarning.record.warnAt, T0 + 27 * MIN);
    const early = applyTouch(fresh(), touchParams(policy, 'active', T0 + 5 * MIN));
    assert.equal(early.kind === 'live' && early.extendedFromWarning, false);
  });

  it('does not re-arm a warning when the absolute deadline does not move', () => {
    const nearEnd = {
      ...fresh(),
      idleExpiresAt: T0 + 481 * MIN,
      lastActivityAt: T0 + 466 * MIN,
      warnAt: null,
    };
    const decision = applyTouch(nearEnd, touchParams(policy, 'active', T0 + 470 * MIN));
    assert.equal(decision.kind === 'live' && decision.record.warnAt, null);
  });

  it('status gives relative durations and says warning exactly when warnInMs is 0', () => {
    const status = sessionStatus(fresh(), policy, T0 + 12 * MIN);
    assert.equal(status.idleExpiresInMs, 3 * MIN);
    assert.equal(status.absoluteExpiresInMs, 468 * MIN);
    assert.equal(status.warnInMs, MIN);
    assert.equal(status.state, 'active');
    assert.equal(status.heartbeatIntervalMs, 5 * MIN);
    assert.equal(status.serverTime, new Date(T0 + 12 * MIN).toISOString());
    const warning = sessionStatus(fresh(), policy, T0 + 13 * MIN);
    assert.equal(warning.state, 'warning');
    assert.equal(warning.warnInMs, 0);
  });
});

const signalsArb = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 20 * MIN }), fc.constantFrom<Signal>('active', 'sleeping')),
  { maxLength: 60 },
);

/** Absolute times from gaps, so signals arrive in order as they do for one session. */
function timeline(gaps: [number, Signal][]): [number, Signal][] {
  let at = T0;
  return gaps.map(([gap, signal]) => {
    at += gap;
    return [at, signal];
  });
}

describe('session lifecycle properties', () => {
  it('no session outlives its true deadline: last activity + idle, or creation + absolute', () => {
    fc.assert(
      fc.property(signalsArb, fc.integer({ min: 0, max: 30 * MIN }), (gaps, probe) => {
        const signals = timeline(gaps);
        const record = run(fresh(), signals);
        const at = (signals.at(-1)?.[0] ?? T0) + probe;
        // The true idle deadline counts from the last active signal that reached a live session.
        let lastActive = T0;
        let dead = false;
        for (const [t, s] of signals) {
          if (t >= Math.min(lastActive + 15 * MIN, T0 + 480 * MIN)) dead = true;
          if (!dead && s === 'active') lastActive = t;
        }
        const trueDeadline = Math.min(lastActive + 15 * MIN, T0 + 480 * MIN);
        if (at >= trueDeadline) assert.equal(liveness(record, at).alive, false);
        // Coalescing may end it early, by at most the granularity — never late.
        if (at < trueDeadline - policy.touchGranularityMs) assert.equal(liveness(record, at).alive, true);
      }),
      { numRuns: 500 },
    );
  });

  it('without coalescing, the idle deadline is exactly last activity + idle timeout', () => {
    fc.assert(
      fc.property(signalsArb, (gaps) => {
        const record = run(fresh(exact), timeline(gaps), exact);
        if (record.endedAt === null)
          assert.equal(record.idleExpiresAt, record.lastActivityAt + exact.idleTimeoutMs);
      }),
      { numRuns: 300 },
    );
  });

  it('once ended, nothing revives a session or changes its reason', () => {
    fc.assert(
      fc.property(signalsArb, signalsArb, (before, after) => {
        const first = timeline(before);
        const ended = settle(run(fresh(), first), (first.at(-1)?.[0] ?? T0) + 16 * MIN).record;
        assert.notEqual(ended.endedAt, null);
        const later = timeline(after).map(([t, s]): [number, Signal] => [
          t + 16 * MIN + (first.at(-1)?.[0] ?? T0),
          s,
        ]);
        const still = run(ended, later);
        assert.equal(still.endedAt, ended.endedAt);
        assert.equal(still.reason, ended.reason);
      }),
      { numRuns: 300 },
    );
  });

  it('warnAt always sits warnBefore ahead of the current end, or is cleared', () => {
    fc.assert(
      fc.property(signalsArb, (gaps) => {
        const record = run(fresh(), timeline(gaps));
        if (record.endedAt === null && record.warnAt !== null) {
          assert.equal(record.warnAt, expiresAt(record) - policy.warnBeforeMs);
        }
      }),
      { numRuns: 300 },
    );
  });
});
