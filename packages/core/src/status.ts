import type { Policy } from './policy.js';
import { expiresAt, type SessionRecord } from './session.js';

/** What a client is told about its session (DESIGN: `status`). Deadlines are relative durations. */
export interface SessionStatus {
  id: string;
  subject: string;
  policy: string;
  state: 'active' | 'warning';
  idleExpiresInMs: number;
  absoluteExpiresInMs: number;
  warnInMs: number;
  heartbeatIntervalMs: number;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
  serverTime: string;
}

export function sessionStatus(record: SessionRecord, policy: Policy, now: number): SessionStatus {
  const endsInMs = Math.max(0, expiresAt(record) - now);
  const warnInMs = Math.max(0, endsInMs - policy.warnBeforeMs);
  return {
    id: record.id,
    subject: record.subject,
    policy: record.policy,
    state: warnInMs === 0 ? 'warning' : 'active',
    idleExpiresInMs: Math.max(0, record.idleExpiresAt - now),
    absoluteExpiresInMs: Math.max(0, record.absoluteExpiresAt - now),
    warnInMs,
    heartbeatIntervalMs: policy.heartbeatIntervalMs,
    idleExpiresAt: iso(record.idleExpiresAt),
    absoluteExpiresAt: iso(record.absoluteExpiresAt),
    serverTime: iso(now),
  };
}

/** The admin view of a session (DESIGN: "The admin view"): never the token, which is not stored. */
export interface AdminSessionView {
  id: string;
  subject: string;
  policy: string;
  createdAt: string;
  lastActivityAt: string;
  lastSeenAt: string;
  attributes: Record<string, unknown>;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
  endedAt?: string;
  reason?: string;
}

export function adminView(record: SessionRecord): AdminSessionView {
  const view: AdminSessionView = {
    id: record.id,
    subject: record.subject,
    policy: record.policy,
    createdAt: iso(record.createdAt),
    lastActivityAt: iso(record.lastActivityAt),
    lastSeenAt: iso(record.lastSeenAt),
    attributes: record.attributes,
    idleExpiresAt: iso(record.idleExpiresAt),
    absoluteExpiresAt: iso(record.absoluteExpiresAt),
  };
  if (record.endedAt !== null && record.reason !== null) {
    view.endedAt = iso(record.endedAt);
    view.reason = record.reason;
  }
  return view;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
