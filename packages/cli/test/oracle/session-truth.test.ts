// The oracle's judge, on its own: it accepts every answer an honest server can give (a model of the
// documented rules, with random latencies and coalescing), and it catches each kind of wrong answer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Action, EXTENDS, type Exchange, type PolicyTimes, SessionTruth } from './session-truth.js';

const policy: PolicyTimes = {
  name: 'default',
  idleMs: 3000,
  absoluteMs: 10_000,
  warnBeforeMs: 1000,
  heartbeatIntervalMs: 1000,
  granularityMs: 300,
};

/** The documented rules as a tiny server, deciding at the time it is given. */
class ModelServer {
  idleAt: number;
  absoluteAt: number;
  ended: string | null = null;

  constructor(
    readonly createdAt: number,
    readonly lateByMs = 0,
  ) {
    this.idleAt = createdAt + policy.idleMs;
    this.absoluteAt = createdAt + policy.absoluteMs;
  }

  answer(action: Action, now: number): { status: number; body: unknown } {
    if (this.ended === null && now >= Math.min(this.idleAt, this.absoluteAt) + this.lateByMs) {
      this.ended = this.absoluteAt <= this.idleAt ? 'absolute_timeout' : 'idle_timeout';
    }
    if (action === 'revoke') {
      this.ended ??= 'revoked';
      return { status: 204, body: null };
    }
    if (this.ended !== null) {
      return { status: 401, body: { error: { code: 'session_ended', reason: this.ended } } };
    }
    if (action === 'logout') {
      this.ended = 'logout';
      return { status: 204, body: null };
    }
    if (EXTENDS[action] && now + policy.idleMs - this.idleAt >= policy.granularityMs) {
      this.idleAt = now + policy.idleMs;
    }
    return { status: 200, body: this.status(now) };
  }

  status(now: number) {
    const idleIn = this.idleAt - now;
    const absIn = this.absoluteAt - now;
    const warnInMs = Math.max(0, Math.min(idleIn, absIn) - policy.warnBeforeMs);
    return {
      id: 'sid',
      subject: 'alice',
      policy: 'default',
      state: warnInMs === 0 ? 'warning' : 'active',
      idleExpiresInMs: idleIn,
      absoluteExpiresInMs: absIn,
      warnInMs,
      heartbeatIntervalMs: policy.heartbeatIntervalMs,
    };
  }
}

const truthAt = (sentAt = 0, answeredAt = sentAt) =>
  new SessionTruth(policy, 'sid', 'alice', sentAt, answeredAt);

function exchange(
  server: ModelServer,
  action: Action,
  sentAt: number,
  decidedAt: number,
  answeredAt: number,
) {
  return { action, sentAt, answeredAt, ...server.answer(action, decidedAt) } satisfies Exchange;
}

const kinds = (truth: SessionTruth, x: Exchange) => truth.judge(x).violations.map((v) => v.kind);

const step = fc.record({
  action: fc.constantFrom<Action>(
    'heartbeat_active',
    'heartbeat_active',
    'heartbeat_sleeping',
    'authorize_active',
    'authorize_passive',
    'read',
    'logout',
    'revoke',
  ),
  gapMs: fc.integer({ min: 0, max: 3500 }),
  upMs: fc.integer({ min: 0, max: 40 }),
  downMs: fc.integer({ min: 0, max: 40 }),
});

describe('SessionTruth (the oracle judge)', () => {
  it('finds nothing wrong with any answer of a server that follows the documented rules', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(step, { maxLength: 25 }),
        (createUp, createDown, steps) => {
          const server = new ModelServer(createUp);
          const truth = truthAt(0, createUp + createDown);
          let now = createUp + createDown;
          for (const { action, gapMs, upMs, downMs } of steps) {
            now += gapMs;
            const x = exchange(server, action, now, now + upMs, now + upMs + downMs);
            now = x.answeredAt;
            assert.deepEqual(truth.judge(x).violations, [], JSON.stringify(x));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('catches a server that keeps sessions alive past their deadline, once a request lands after it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 0, max: 1999 }), (lateBy, into) => {
        const server = new ModelServer(0, lateBy);
        const truth = truthAt(0);
        // A request sent within the server's extra time: alive for it, over for the truth.
        const sentAt = policy.idleMs + (into % lateBy);
        const x = exchange(server, 'read', sentAt, sentAt, sentAt + 1);
        assert.equal(x.status, 200);
        assert.deepEqual(kinds(truth, x), ['zombie']);
      }),
    );
  });

  it('allows a coalesced touch to end the session up to touchGranularity early, not a millisecond more', () => {
    // Active at 200: moves the idle deadline by 200 ms < 300 ms granularity, so it is not written;
    // the session ends at 3000, not 3200 — within the allowance.
    const server = new ModelServer(0);
    const truth = truthAt(0);
    assert.deepEqual(kinds(truth, exchange(server, 'heartbeat_active', 200, 200, 200)), []);
    assert.equal(truth.earliestEnd, 3000);
    assert.deepEqual(kinds(truth, exchange(server, 'read', 3000, 3000, 3001)), []);
    // A server that ended it at 2899 (301 ms before 3200): wrongful.
    const early = truthAt(0);
    early.judge({
      action: 'heartbeat_active',
      sentAt: 200,
      answeredAt: 200,
      status: 200,
      body: server.status(200),
    });
    const refused = { error: { code: 'session_ended', reason: 'idle_timeout' } };
    assert.deepEqual(
      kinds(early, { action: 'read', sentAt: 2898, answeredAt: 2899, status: 401, body: refused }),
      ['wrongful_logout'],
    );
  });

  it('reports a 401 for a session nobody ended, or with a reason nobody asked for, as a wrongful logout', () => {
    const unknown = { error: { code: 'unauthenticated' } };
    assert.deepEqual(
      kinds(truthAt(), { action: 'read', sentAt: 9000, answeredAt: 9001, status: 401, body: unknown }),
      ['wrongful_logout'],
    );
    const revoked = { error: { code: 'session_ended', reason: 'revoked' } };
    assert.deepEqual(
      kinds(truthAt(), { action: 'read', sentAt: 10, answeredAt: 11, status: 401, body: revoked }),
      ['wrongful_logout'],
    );
  });

  it('reports acceptance after a logout, a revocation or an earlier 401 as a zombie', () => {
    for (const end of ['logout', 'revoke'] as const) {
      const truth = truthAt();
      assert.deepEqual(
        kinds(truth, { action: end, sentAt: 10, answeredAt: 11, status: 204, body: null }),
        [],
      );
      const status = new ModelServer(0).status(20);
      assert.deepEqual(
        kinds(truth, { action: 'read', sentAt: 20, answeredAt: 21, status: 200, body: status }),
        ['zombie'],
      );
    }
    const truth = truthAt();
    const ended = { error: { code: 'session_ended', reason: 'idle_timeout' } };
    truth.judge({ action: 'read', sentAt: 3100, answeredAt: 3101, status: 401, body: ended });
    const again = { error: { code: 'session_ended', reason: 'absolute_timeout' } };
    assert.deepEqual(
      kinds(truth, { action: 'read', sentAt: 3200, answeredAt: 3201, status: 401, body: again }),
      ['wrong_reason'],
    );
  });

  it('checks every number of a 200 status against what is known', () => {
    const server = new ModelServer(0);
    const good = server.status(1000);
    for (const [field, value] of [
      ['idleExpiresInMs', good.idleExpiresInMs + 1],
      ['absoluteExpiresInMs', good.absoluteExpiresInMs - 1],
      ['warnInMs', good.warnInMs + 5],
      ['state', 'warning'],
      ['subject', 'bob'],
    ] as const) {
      const body = { ...good, [field]: value };
      assert.deepEqual(
        kinds(truthAt(), { action: 'read', sentAt: 1000, answeredAt: 1000, status: 200, body }),
        ['inconsistent_status'],
        field,
      );
    }
  });

  it('after a store crash, doubts only the touches acknowledged just before it', () => {
    const crashes: number[] = [];
    const truth = truthAt();
    const server = new ModelServer(0);
    assert.deepEqual(kinds(truth, exchange(server, 'heartbeat_active', 2000, 2000, 2000)), []);
    assert.equal(truth.earliestEnd, 2000 + policy.idleMs - policy.granularityMs);
    crashes.push(2500);
    const ended = { error: { code: 'session_ended', reason: 'idle_timeout' } };
    const x = { action: 'read' as const, sentAt: 3100, answeredAt: 3101, status: 401, body: ended };
    // The touch at 2000 may have died with the store: ended at 3000 by the creation's deadline is fine.
    assert.deepEqual(truth.judge(x, { storeCrashes: crashes }).violations, []);
    // Without the crash it would be a wrongful logout.
    const other = truthAt();
    other.judge(exchange(new ModelServer(0), 'heartbeat_active', 2000, 2000, 2000));
    assert.deepEqual(kinds(other, x), ['wrongful_logout']);
  });

  it('in a fault drill, lets an unknown outcome widen the latest end, and still refuses anything but 503/401/200', () => {
    const truth = truthAt();
    const unavailable = { error: { code: 'store_unavailable' } };
    const x503 = {
      action: 'heartbeat_active' as const,
      sentAt: 2000,
      answeredAt: 2000,
      status: 503,
      body: unavailable,
    };
    assert.deepEqual(kinds(truthAt(), x503), ['unexpected_answer']);
    assert.deepEqual(truth.judge({ ...x503, retryAfter: '1' }, { tolerateUnavailable: true }).violations, []);
    // The 503'd touch may have been applied at 2000: alive at 3500 is then possible, and its status
    // says the deadline is 5000.
    const body = {
      ...new ModelServer(0).status(3500),
      idleExpiresInMs: 1500,
      warnInMs: 500,
      state: 'active',
    };
    assert.deepEqual(kinds(truth, { action: 'read', sentAt: 3500, answeredAt: 3500, status: 200, body }), []);
    // But not past 5000.
    assert.deepEqual(kinds(truth, { action: 'read', sentAt: 5000, answeredAt: 5002, status: 200, body }), [
      'zombie',
      'inconsistent_status',
    ]);
    assert.deepEqual(
      truth.judge(
        { action: 'read', sentAt: 5003, answeredAt: 5003, status: 500, body: {} },
        { tolerateUnavailable: true },
      ).violations[0]?.kind,
      'unexpected_answer',
    );
  });

  it('counts an unexpected answer once: its possible effect does not make later answers look wrong', () => {
    const truth = truthAt();
    const failed = {
      action: 'heartbeat_active' as const,
      sentAt: 2000,
      answeredAt: 2000,
      status: 500,
      body: {},
    };
    assert.deepEqual(kinds(truth, failed), ['unexpected_answer']);
    const body = {
      ...new ModelServer(0).status(3500),
      idleExpiresInMs: 1500,
      warnInMs: 500,
      state: 'active',
    };
    assert.deepEqual(kinds(truth, { action: 'read', sentAt: 3500, answeredAt: 3500, status: 200, body }), []);
  });
});
