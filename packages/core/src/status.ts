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

const RECENT_SECONDS = 8;
/** The largest time a Date can hold (ECMAScript: ±100,000,000 days). */
const MAX_TIME_MS = 8_640_000_000_000_000;
const recentSecond = new Float64Array(RECENT_SECONDS).fill(Number.NaN);
const recentText: string[] = new Array<string>(RECENT_SECONDS).fill('');

/**
 * `new Date(ms).toISOString()`, faster: a status carries three instants and a busy node writes
 * thousands of statuses a second, nearly all within the same few seconds, so the text of a few
 * recent whole seconds is kept and only the milliseconds are formatted per call.
 */
export function iso(ms: number): string {
  if (!Number.isInteger(ms) || Math.abs(ms) > MAX_TIME_MS) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  // Any slot works for any second (the exact second is compared); `& 7` spreads neighbours.
  const slot = second & (RECENT_SECONDS - 1);
  if (recentSecond[slot] !== second) {
    // `…T12:34:56.000Z` without `000Z`; throws RangeError for an invalid time, as toISOString does.
    recentText[slot] = new Date(second * 1000).toISOString().slice(0, -4);
    recentSecond[slot] = second;
  }
  const milli = ms - second * 1000;
  return `${recentText[slot]}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
