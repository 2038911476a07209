// What one simulated user knows for sure about its session, from its own requests and the times it
// sent them and got their answers, and the judgement of every answer against that knowledge.
//
// The server never says when "now" is for it: it answers relative durations. But a request sent at
// `sentAt` and answered at `answeredAt` was decided at some server time in between (one machine, one
// clock). So every deadline is known as an interval:
//
//   absolute = createdAt + absoluteTimeout           createdAt in [create sent, create answered]
//   idle     = last active signal + idleTimeout      minus up to `touchGranularity` (DESIGN: touch
//                                                    coalescing may end a session that much early)
//
// and the session ends at the earlier of the two. From the bounds:
// - a `200` to a request sent at or after the latest possible end is a ZOMBIE (alive past its deadline);
// - a `401` timeout received before the earliest possible end is a WRONGFUL LOGOUT.
// Requests whose outcome is unknown (a 503, a dropped connection) may have been applied: they widen
// the latest possible end, never the earliest.

/** A policy as the oracle knows it: the numbers from the config it wrote, not from Vigil's code. */
export interface PolicyTimes {
  name: string;
  idleMs: number;
  absoluteMs: number;
  warnBeforeMs: number;
  heartbeatIntervalMs: number;
  /** The documented coalescing allowance: `touchGranularity` (default 1% of idleTimeout, at most 1 s). */
  granularityMs: number;
}

export type Action =
  | 'heartbeat_active'
  | 'heartbeat_sleeping'
  | 'authorize_active'
  | 'authorize_passive'
  | 'read'
  | 'logout'
  | 'revoke';

/** Actions that count as activity (DESIGN: "What counts as activity"). */
export const EXTENDS: Record<Action, boolean> = {
  heartbeat_active: true,
  heartbeat_sleeping: false,
  authorize_active: true,
  authorize_passive: false,
  read: false,
  logout: false,
  revoke: false,
};

export interface Exchange {
  action: Action;
  sentAt: number;
  answeredAt: number;
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body, checked field by field.
  body: any;
  retryAfter?: string | undefined;
}

export type ViolationKind =
  | 'zombie'
  | 'wrongful_logout'
  | 'wrong_reason'
  | 'inconsistent_status'
  | 'unexpected_answer';

export interface Violation {
  kind: ViolationKind;
  action: Action | 'create';
  sessionId: string;
  detail: string;
}

export interface Verdict {
  /** e.g. `200`, `401 idle_timeout`, `503 store_unavailable`. */
  outcome: string;
  violations: Violation[];
  /** The session is over for the user (a 401, or its own logout/revocation acknowledged). */
  ended: boolean;
  /** The request was sent within `CLOSE_CALL_MS` of a deadline: it tested the boundary. */
  closeCall: boolean;
}

export const CLOSE_CALL_MS = 250;
const TIMEOUT_REASONS = new Set(['idle_timeout', 'absolute_timeout']);

export interface JudgeOptions {
  /**
   * A 503 `store_unavailable` with Retry-After is allowed (its outcome unknown): the contract's
   * answer when a store call outlives its bound, as it may under outages or on an overloaded machine.
   */
  tolerateUnavailable?: boolean;
  /**
   * Times the store crashed (a live list the drill appends to). Principle 3: a crash may lose the
   * touches of its last moments (PostgreSQL commits touches asynchronously), ending a session a
   * little early: an active signal acknowledged within `TOUCH_LOSS_WINDOW_MS` before a crash is
   * then only a maybe.
   */
  storeCrashes?: readonly number[];
}

/** PostgreSQL flushes asynchronous commits within 3 × wal_writer_delay (200 ms); with room to spare. */
export const TOUCH_LOSS_WINDOW_MS = 1000;

export class SessionTruth {
  readonly id: string;
  readonly subject: string;
  readonly policy: PolicyTimes;
  absoluteLo: number;
  absoluteHi: number;
  idleHi: number;
  /** The idle deadline a creation set (never coalesced), and the active signals acknowledged since. */
  readonly #createdIdleLo: number;
  readonly #activeAcks: { sentAt: number; answeredAt: number }[] = [];
  #crashes: readonly number[] = [];
  /** Our own end of the session, once acknowledged (`204`). */
  endedByUs: { reason: 'logout' | 'revoked'; sentAt: number; answeredAt: number } | null = null;
  /** Ends we asked for whose outcome is unknown (a 503): a later 401 may carry their reason. */
  readonly maybeEndedByUs = new Set<string>();
  /** The first 401 seen: every later one must give the same reason. */
  refused: { reason: string; answeredAt: number } | null = null;

  constructor(
    policy: PolicyTimes,
    id: string,
    subject: string,
    createSentAt: number,
    createAnsweredAt: number,
  ) {
    this.policy = policy;
    this.id = id;
    this.subject = subject;
    this.absoluteLo = createSentAt + policy.absoluteMs;
    this.absoluteHi = createAnsweredAt + policy.absoluteMs;
    // A creation is never coalesced: its idle deadline is exactly createdAt + idleTimeout.
    this.#createdIdleLo = createSentAt + policy.idleMs;
    this.idleHi = createAnsweredAt + policy.idleMs;
  }

  /** The earliest the idle deadline can be: the last active signal that certainly counted, less the coalescing allowance. */
  get idleLo(): number {
    let lo = this.#createdIdleLo;
    const { idleMs, granularityMs } = this.policy;
    for (const ack of this.#activeAcks) {
      const lost = this.#crashes.some((c) => ack.answeredAt >= c - TOUCH_LOSS_WINDOW_MS && ack.sentAt <= c);
      if (!lost) lo = Math.max(lo, ack.sentAt + idleMs - granularityMs);
    }
    return lo;
  }

  /** The session certainly lives until here (as the server keeps time). */
  get earliestEnd(): number {
    return Math.min(this.absoluteLo, this.idleLo);
  }

  /** The session has certainly ended here, unless ended earlier. */
  get latestEnd(): number {
    return Math.min(this.absoluteHi, this.idleHi);
  }

  judge(x: Exchange, options: JudgeOptions = {}): Verdict {
    this.#crashes = options.storeCrashes ?? [];
    const violations: Violation[] = [];
    const violation = (kind: ViolationKind, detail: string) =>
      violations.push({ kind, action: x.action, sessionId: this.id, detail });
    const closeCall =
      x.sentAt >= this.earliestEnd - CLOSE_CALL_MS && x.sentAt <= this.latestEnd + CLOSE_CALL_MS;

    if (x.status === 204 && (x.action === 'logout' || x.action === 'revoke')) {
      // A logout of a session that had ended must be refused; a revocation is idempotent (204 always).
      if (x.action === 'logout') this.#checkStillAlive(x, violation);
      this.endedByUs ??= {
        reason: x.action === 'logout' ? 'logout' : 'revoked',
        sentAt: x.sentAt,
        answeredAt: x.answeredAt,
      };
      return { outcome: '204', violations, ended: true, closeCall };
    }
    if (x.status === 200 && x.action !== 'logout' && x.action !== 'revoke') {
      this.#checkStillAlive(x, violation);
      if (EXTENDS[x.action]) this.#extend(x.sentAt, x.answeredAt, true);
      this.#checkStatus(x, violation);
      return { outcome: '200', violations, ended: false, closeCall };
    }
    if (x.status === 401) {
      const reason = this.#judgeRefusal(x, violation);
      return { outcome: `401 ${reason}`, violations, ended: true, closeCall };
    }
    // Any other answer leaves the outcome unknown: an extension may have been applied (at the
    // server's time of arrival, so within the widened bounds), an end may have happened. Assume
    // either, so that one bad answer does not make later good ones look wrong.
    if (EXTENDS[x.action]) this.#extend(x.sentAt, x.answeredAt, false);
    if (x.action === 'logout') this.maybeEndedByUs.add('logout');
    if (x.action === 'revoke') this.maybeEndedByUs.add('revoked');
    const unavailable =
      x.status === 503 && x.body?.error?.code === 'store_unavailable' && Number(x.retryAfter) >= 1;
    if (!(unavailable && options.tolerateUnavailable)) {
      violation('unexpected_answer', `${x.status} ${JSON.stringify(x.body)?.slice(0, 200)}`);
    }
    const outcome = x.status === 0 ? 'network error' : `${x.status} ${x.body?.error?.code ?? ''}`.trim();
    return { outcome, violations, ended: false, closeCall };
  }

  /** A request the server accepted: it must not have been sent after the session certainly ended. */
  #checkStillAlive(x: Exchange, violation: (kind: ViolationKind, detail: string) => void): void {
    if (this.refused !== null) {
      violation(
        'zombie',
        `accepted after a 401 (${this.refused.reason}) ${x.sentAt - this.refused.answeredAt} ms earlier`,
      );
    } else if (this.endedByUs !== null) {
      violation(
        'zombie',
        `accepted ${x.sentAt - this.endedByUs.answeredAt} ms after our ${this.endedByUs.reason} was acknowledged`,
      );
    } else if (x.sentAt >= this.latestEnd) {
      // Decided at or after sentAt, so at or after the deadline: a session is alive only before it.
      violation('zombie', `sent ${x.sentAt - this.latestEnd} ms after the latest possible deadline`);
    }
  }

  /** An active signal decided at a server time in [sentAt, answeredAt]. */
  #extend(sentAt: number, answeredAt: number, acknowledged: boolean): void {
    this.idleHi = Math.max(this.idleHi, answeredAt + this.policy.idleMs);
    if (acknowledged) this.#activeAcks.push({ sentAt, answeredAt });
  }

  /** The `status` of a 200 must match what we know (every number is exact: one clock, integer ms). */
  #checkStatus(x: Exchange, violation: (kind: ViolationKind, detail: string) => void): void {
    const s = x.body;
    const problems: string[] = [];
    if (typeof s !== 'object' || s === null) {
      violation('inconsistent_status', `body is not a status: ${String(s).slice(0, 100)}`);
      return;
    }
    if (s.id !== this.id) problems.push('id');
    if (s.subject !== this.subject) problems.push('subject');
    if (s.policy !== this.policy.name) problems.push(`policy ${s.policy}`);
    const idleIn = s.idleExpiresInMs;
    const absIn = s.absoluteExpiresInMs;
    if (!Number.isInteger(idleIn) || !Number.isInteger(absIn) || !Number.isInteger(s.warnInMs)) {
      problems.push('durations are not integers');
    } else {
      if (x.sentAt + absIn > this.absoluteHi || x.answeredAt + absIn < this.absoluteLo) {
        problems.push(
          `absolute deadline off by ${this.#offBy(x, absIn, this.absoluteLo, this.absoluteHi)} ms`,
        );
      }
      if (x.sentAt + idleIn > this.idleHi || x.answeredAt + idleIn < this.idleLo) {
        problems.push(`idle deadline off by ${this.#offBy(x, idleIn, this.idleLo, this.idleHi)} ms`);
      }
      const warnIn = Math.max(0, Math.min(idleIn, absIn) - this.policy.warnBeforeMs);
      if (s.warnInMs !== warnIn) problems.push(`warnInMs ${s.warnInMs}, expected ${warnIn}`);
      if (s.state !== (warnIn === 0 ? 'warning' : 'active')) problems.push(`state ${s.state}`);
    }
    if (s.heartbeatIntervalMs !== this.policy.heartbeatIntervalMs) problems.push('heartbeatIntervalMs');
    if (problems.length > 0) violation('inconsistent_status', problems.join('; '));
  }

  #offBy(x: Exchange, inMs: number, lo: number, hi: number): number {
    return x.sentAt + inMs > hi ? x.sentAt + inMs - hi : x.answeredAt + inMs - lo;
  }

  /** A 401: why the session ended must be true, and it must not have ended before it could. */
  #judgeRefusal(x: Exchange, violation: (kind: ViolationKind, detail: string) => void): string {
    const error = x.body?.error ?? {};
    const reason: string = error.code === 'session_ended' ? String(error.reason) : String(error.code);
    if (error.code !== 'session_ended') {
      violation('wrongful_logout', `401 ${error.code}: a session we created, never purged`);
    } else if (this.refused !== null && reason !== this.refused.reason) {
      violation('wrong_reason', `ended as ${reason}, earlier as ${this.refused.reason}`);
    } else if (this.endedByUs !== null && reason === this.endedByUs.reason) {
      // as asked
    } else if (this.maybeEndedByUs.has(reason)) {
      // an end we asked for whose answer we never got
    } else if (!TIMEOUT_REASONS.has(reason)) {
      violation('wrongful_logout', `ended as ${reason}, which nobody asked for`);
    } else {
      // A timeout. If we ended it ourselves, it may have timed out first, but only if our end was
      // answered after the earliest possible deadline.
      const decidedBy = this.endedByUs?.answeredAt ?? x.answeredAt;
      if (decidedBy < this.earliestEnd) {
        violation(
          'wrongful_logout',
          `${reason} ${this.earliestEnd - decidedBy} ms before the earliest possible deadline`,
        );
      } else if (reason === 'idle_timeout' && this.idleLo >= this.absoluteHi) {
        violation('wrong_reason', 'idle_timeout, but the absolute deadline came first');
      } else if (reason === 'absolute_timeout' && this.absoluteLo > this.idleHi) {
        violation('wrong_reason', 'absolute_timeout, but the idle deadline came first');
      }
    }
    this.refused ??= { reason, answeredAt: x.answeredAt };
    return reason;
  }
}
