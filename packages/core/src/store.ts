import type { EndReason } from './errors.js';
import type { TouchParams } from './lifecycle.js';
import type { SessionRecord } from './session.js';

/** What a store answers about one session. `endedNow`: this very call recorded the end. */
export type SessionLookup =
  | { kind: 'unknown' }
  | { kind: 'live'; record: SessionRecord }
  | { kind: 'ended'; record: SessionRecord; endedNow: boolean };

export type TouchResult =
  | { kind: 'unknown' }
  | { kind: 'live'; record: SessionRecord; extendedFromWarning: boolean }
  | { kind: 'ended'; record: SessionRecord; endedNow: boolean };

/** Reasons a caller may end a session with; timeouts are decided by the lifecycle, not by callers. */
export type ManualEndReason = Exclude<EndReason, 'idle_timeout' | 'absolute_timeout'>;

export interface CreateOptions {
  /** At most this many live sessions per subject: the oldest are ended (`evicted`) in the same step. */
  maxSessions: number | null;
}

/**
 * The contract every store keeps. Every method is atomic. Timeouts are enforced on read: a method
 * that meets a live record past its deadline at `now` records the end (reason and `endedAt` as
 * `settle()` in lifecycle.ts decides) and reports `endedNow: true` to exactly one caller, so each
 * end yields exactly one event, whichever path noticed it first.
 *
 * Durability: `create` and `end`/`endAllForSubject` are durable before they resolve; `touch` may be
 * coalesced (lifecycle.ts `applyTouch` decides what must be written).
 */
export interface Store {
  /** Stores the session; ends the subject's oldest live sessions beyond `maxSessions`. */
  create(record: SessionRecord, options: CreateOptions): Promise<{ evicted: SessionRecord[] }>;
  /** Reads a session without touching it (ended ones are kept for the retention period). */
  get(id: string, now: number): Promise<SessionLookup>;
  /** Applies an active or sleeping signal, as `applyTouch` decides. */
  touch(id: string, params: TouchParams): Promise<TouchResult>;
  /** Ends a session now (revocation, logout…). Idempotent: an ended session keeps its first reason. */
  end(id: string, reason: ManualEndReason, now: number): Promise<SessionLookup>;
  /** Ends every live session of a subject; returns those that were live before the call. */
  endAllForSubject(subject: string, reason: ManualEndReason, now: number): Promise<SessionRecord[]>;
  /** The subject's sessions not yet purged, live and ended, oldest first. */
  listBySubject(subject: string, now: number): Promise<SessionRecord[]>;
  /**
   * Records the end of up to `limit` sessions whose deadline is at or before `now` and returns them.
   * Each is returned to exactly one caller, even with several nodes. Cost grows with what expired.
   */
  claimExpired(now: number, limit: number): Promise<SessionRecord[]>;
  /** Claims up to `limit` live sessions whose warning is due (`warnAt <= now`), each exactly once. */
  claimWarnings(now: number, limit: number): Promise<SessionRecord[]>;
  /** Deletes up to `limit` sessions that ended before `endedBefore`; returns how many. */
  purgeEnded(endedBefore: number, limit: number): Promise<number>;
  /** Live sessions by policy name (for the `vigil_sessions_live` gauge). */
  countLive(now: number): Promise<Record<string, number>>;
  /** Resolves when the store can answer (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
