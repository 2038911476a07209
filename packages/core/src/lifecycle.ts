import type { EndReason } from './errors.js';
import type { Policy } from './policy.js';
import { type Attributes, expiresAt, type SessionRecord } from './session.js';

/**
 * The session lifecycle as pure functions: no I/O, no clock reads. Stores apply these decisions
 * atomically (the Redis store re-states them in Lua; the conformance suite holds both to them).
 */

/** `active`: the user did something; resets the idle timer. `sleeping`: connectivity only. */
export type Signal = 'active' | 'sleeping';

/** What a store needs from the policy to apply a touch, so stores never look policies up. */
export interface TouchParams {
  now: number;
  signal: Signal;
  idleTimeoutMs: number;
  warnBeforeMs: number;
  touchGranularityMs: number;
}

export function touchParams(policy: Policy, signal: Signal, now: number): TouchParams {
  return {
    now,
    signal,
    idleTimeoutMs: policy.idleTimeoutMs,
    warnBeforeMs: policy.warnBeforeMs,
    touchGranularityMs: policy.touchGranularityMs,
  };
}

export interface NewSession {
  id: string;
  subject: string;
  policy: Policy;
  attributes?: Attributes;
  now: number;
}

export function createSession({ id, subject, policy, attributes = {}, now }: NewSession): SessionRecord {
  const idleExpiresAt = now + policy.idleTimeoutMs;
  const absoluteExpiresAt = now + policy.absoluteTimeoutMs;
  return {
    id,
    subject,
    policy: policy.name,
    createdAt: now,
    lastActivityAt: now,
    lastSeenAt: now,
    idleExpiresAt,
    absoluteExpiresAt,
    warnAt: warnAtFor(Math.min(idleExpiresAt, absoluteExpiresAt), policy.warnBeforeMs),
    attributes,
    endedAt: null,
    reason: null,
  };
}

function warnAtFor(deadline: number, warnBeforeMs: number): number | null {
  return warnBeforeMs > 0 ? deadline - warnBeforeMs : null;
}

export type Liveness = { alive: true } | { alive: false; reason: EndReason; endedAt: number };

/**
 * Whether a session is alive at `now`. A session past a deadline is dead whether or not anything has
 * recorded it yet: expiry is decided on every read, the sweeper only reports it. It ends *at* its
 * deadline, so `endedAt` is the deadline, not the moment someone noticed.
 */
export function liveness(record: SessionRecord, now: number): Liveness {
  if (record.endedAt !== null && record.reason !== null) {
    return { alive: false, reason: record.reason, endedAt: record.endedAt };
  }
  const deadline = expiresAt(record);
  if (now < deadline) return { alive: true };
  const reason = record.absoluteExpiresAt <= record.idleExpiresAt ? 'absolute_timeout' : 'idle_timeout';
  return { alive: false, reason, endedAt: deadline };
}

export function endSession(record: SessionRecord, reason: EndReason, endedAt: number): SessionRecord {
  return { ...record, endedAt, reason, warnAt: null };
}

/** The record as it must be once `now` is known: ended at its deadline if it has passed one. */
export function settle(record: SessionRecord, now: number): { record: SessionRecord; endedNow: boolean } {
  if (record.endedAt !== null) return { record, endedNow: false };
  const state = liveness(record, now);
  if (state.alive) return { record, endedNow: false };
  return { record: endSession(record, state.reason, state.endedAt), endedNow: true };
}

export function isInWarning(record: SessionRecord, warnBeforeMs: number, now: number): boolean {
  return warnBeforeMs > 0 && now >= expiresAt(record) - warnBeforeMs;
}

export type TouchDecision =
  /** The session was already over; `endedNow` when this call is the first to record that. */
  | { kind: 'ended'; record: SessionRecord; endedNow: boolean }
  /**
   * The session lives. `write` is false when the touch was coalesced away (nothing to store);
   * `extendedFromWarning` when an active signal moved the end of a session that was in its warning.
   */
  | { kind: 'live'; record: SessionRecord; write: boolean; extendedFromWarning: boolean };

/**
 * Applies a heartbeat or request to a session. A signal after a deadline never revives it. Active
 * signals move the idle deadline; sleeping ones only `lastSeenAt`. A change smaller than the touch
 * granularity is not written (the session may end up to that much early, never late).
 */
export function applyTouch(record: SessionRecord, params: TouchParams): TouchDecision {
  const { now, signal, idleTimeoutMs, warnBeforeMs, touchGranularityMs } = params;
  const settled = settle(record, now);
  if (settled.record.endedAt !== null) return { kind: 'ended', ...settled };

  const seenMoves = now - record.lastSeenAt >= touchGranularityMs && now > record.lastSeenAt;
  if (signal === 'active') {
    const idleExpiresAt = now + idleTimeoutMs;
    if (idleExpiresAt - record.idleExpiresAt >= touchGranularityMs && idleExpiresAt > record.idleExpiresAt) {
      const next: SessionRecord = { ...record, lastActivityAt: now, lastSeenAt: now, idleExpiresAt };
      const oldEnd = expiresAt(record);
      const newEnd = expiresAt(next);
      if (newEnd !== oldEnd) next.warnAt = warnAtFor(newEnd, warnBeforeMs);
      const extendedFromWarning = newEnd > oldEnd && isInWarning(record, warnBeforeMs, now);
      return { kind: 'live', record: next, write: true, extendedFromWarning };
    }
  }
  if (seenMoves)
    return { kind: 'live', record: { ...record, lastSeenAt: now }, write: true, extendedFromWarning: false };
  return { kind: 'live', record, write: false, extendedFromWarning: false };
}
