import type { EndReason } from './errors.js';

/** Pass-through parameters a session carries (at most 4 KB of JSON, checked at the edge). */
export type Attributes = Record<string, unknown>;

/**
 * A session as stores keep it. Times are epoch milliseconds. The deadlines are stored, not derived,
 * so that a store can find what expired through an index without knowing any policy.
 */
export interface SessionRecord {
  /** Public id: the one-way hash of the token (see tokens.ts). The token itself is never stored. */
  id: string;
  subject: string;
  policy: string;
  createdAt: number;
  /** Last *active* signal: the idle deadline counts from here. */
  lastActivityAt: number;
  /** Last signal of any kind, sleeping heartbeats and passive requests included. */
  lastSeenAt: number;
  /** lastActivityAt + idleTimeout at the time of the last written touch. */
  idleExpiresAt: number;
  /** createdAt + absoluteTimeout; never moves. */
  absoluteExpiresAt: number;
  /**
   * When the warning for the current deadline is due; null once the sweeper has claimed it (or when
   * the policy has no warning). An extension sets it again for the new deadline.
   */
  warnAt: number | null;
  attributes: Attributes;
  endedAt: number | null;
  reason: EndReason | null;
}

/** The moment the session ends unless something extends it. */
export function expiresAt(record: Pick<SessionRecord, 'idleExpiresAt' | 'absoluteExpiresAt'>): number {
  return Math.min(record.idleExpiresAt, record.absoluteExpiresAt);
}
