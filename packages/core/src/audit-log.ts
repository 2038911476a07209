import { type EndReason, ValidationError } from './errors.js';
import type { SessionRecord } from './session.js';

/**
 * Who (or what) ended a session, as the audit trail tells it. Derived from the end reason, so that
 * an operator can filter "ended by people" from "ended by the clock" without knowing every reason.
 */
export type AuditActor = 'timeout' | 'user' | 'admin' | 'upstream' | 'reuse' | 'system';

export const AUDIT_ACTORS: readonly AuditActor[] = [
  'timeout',
  'user',
  'admin',
  'upstream',
  'reuse',
  'system',
];

/**
 * The actor of each end reason. A `Record` over `EndReason`, so that a reason added to errors.ts
 * fails to compile here until someone decides who it is attributed to.
 */
const ACTOR_BY_REASON: Record<EndReason, AuditActor> = {
  idle_timeout: 'timeout',
  absolute_timeout: 'timeout',
  // DELETE /v1/session: the user signed out.
  logout: 'user',
  // DELETE /v1/sessions/:id and /v1/subjects/:subject/sessions: the backend, with the API key.
  revoked: 'admin',
  // The heartbeat relay's upstream answered that the session is over.
  upstream_rejected: 'upstream',
  // A used refresh token came back (token mode): treated as theft.
  refresh_reuse: 'reuse',
  // maxSessions: the oldest session made room for a new one.
  evicted: 'system',
};

/** The actor for an end reason; a reason this version does not know (a newer node's) is `system`. */
export function actorFor(reason: string): AuditActor {
  return Object.hasOwn(ACTOR_BY_REASON, reason) ? ACTOR_BY_REASON[reason as EndReason] : 'system';
}

/** One session's end, as the audit trail keeps it (DESIGN: Events and audit). Times in epoch ms. */
export interface AuditEntry {
  sessionId: string;
  subject: string;
  policy: string;
  reason: EndReason;
  actor: AuditActor;
  endedAt: number;
}

/** The entry for an ended session record. */
export function auditEntryOf(record: SessionRecord): AuditEntry {
  if (record.endedAt === null || record.reason === null) {
    throw new TypeError('auditEntryOf: the session has not ended');
  }
  return {
    sessionId: record.id,
    subject: record.subject,
    policy: record.policy,
    reason: record.reason,
    actor: actorFor(record.reason),
    endedAt: record.endedAt,
  };
}

/** Longest subject, session id and policy name an entry may carry, in characters (code points, as the protocol counts a subject's). */
export const AUDIT_FIELD_MAX_LENGTH = 256;
/** Largest page a query may ask for. */
export const AUDIT_MAX_LIMIT = 1000;
/** Latest `endedAt` an entry may have: 15 decimal digits (stores sort on a fixed-width text form). */
export const AUDIT_MAX_TIME = 999_999_999_999_999;

// Control characters are refused in ids and names: stores may use one (NUL) as a separator.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Refuses an entry a log cannot keep faithfully. A programming error (entries come from session
 * records), so a `TypeError`, not a 4xx.
 */
export function checkAuditEntry(entry: AuditEntry): void {
  const text = (value: unknown, field: string, controlAllowed = false) => {
    if (typeof value !== 'string' || value.length === 0 || codePoints(value) > AUDIT_FIELD_MAX_LENGTH) {
      throw new TypeError(`audit entry: ${field} must be a string of 1–${AUDIT_FIELD_MAX_LENGTH} characters`);
    }
    if (!controlAllowed && CONTROL.test(value)) {
      throw new TypeError(`audit entry: ${field} must not contain control characters`);
    }
  };
  text(entry.sessionId, 'sessionId');
  // A subject is the application's own string (any JSON text): stores keep it as data, never as a separator.
  text(entry.subject, 'subject', true);
  text(entry.policy, 'policy');
  text(entry.reason, 'reason');
  if (!AUDIT_ACTORS.includes(entry.actor)) throw new TypeError('audit entry: actor is not an audit actor');
  if (!Number.isSafeInteger(entry.endedAt) || entry.endedAt < 0 || entry.endedAt > AUDIT_MAX_TIME) {
    throw new TypeError('audit entry: endedAt must be an integer number of ms since the epoch');
  }
}

/** Length in code points: a character outside the BMP counts once, as JSON Schema's `maxLength` counts it. */
function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

/** Where a page ends: the last entry returned. Entries are ordered by `endedAt`, then `sessionId`. */
export interface AuditPosition {
  endedAt: number;
  sessionId: string;
}

/** The opaque cursor for "the entries after this one" (base64url; not a secret, not a promise of format). */
export function encodeAuditCursor(position: AuditPosition): string {
  return Buffer.from(JSON.stringify([position.endedAt, position.sessionId]), 'utf8').toString('base64url');
}

const CURSOR = /^[A-Za-z0-9_-]{1,1400}$/;

/** The position a cursor names, or null if the text is not a cursor this log made. */
export function decodeAuditCursor(cursor: string): AuditPosition | null {
  if (typeof cursor !== 'string' || !CURSOR.test(cursor)) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [endedAt, sessionId] = value as unknown[];
  if (!Number.isSafeInteger(endedAt) || (endedAt as number) < 0 || (endedAt as number) > AUDIT_MAX_TIME) {
    return null;
  }
  if (
    typeof sessionId !== 'string' ||
    sessionId.length === 0 ||
    codePoints(sessionId) > AUDIT_FIELD_MAX_LENGTH ||
    CONTROL.test(sessionId)
  ) {
    return null;
  }
  return { endedAt: endedAt as number, sessionId };
}

/** The refusal of a malformed cursor: a `400 validation_failed` when it reaches HTTP. */
export function invalidCursorError(field = 'cursor'): ValidationError {
  return new ValidationError([
    { field, rule: 'cursor', message: 'is not a cursor from a previous page (use nextCursor as given)' },
  ]);
}

/** A query's cursor decoded, or undefined for the first page; a malformed one throws `invalidCursorError`. */
export function auditQueryStart(query: AuditQuery): AuditPosition | undefined {
  if (query.cursor === undefined || query.cursor === null) return undefined;
  const position = decodeAuditCursor(query.cursor);
  if (position === null) throw invalidCursorError();
  return position;
}

/** Refuses a limit outside 1…`AUDIT_MAX_LIMIT` (the HTTP route validates before this). */
export function checkAuditLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > AUDIT_MAX_LIMIT) {
    throw new RangeError(`audit query: limit must be an integer from 1 to ${AUDIT_MAX_LIMIT}`);
  }
}

/**
 * Compares by Unicode code point (= UTF-8 byte order, which SQLite's BINARY collation, PostgreSQL's
 * "C" collation and Redis's lexicographic ranges all use), not by UTF-16 unit as `<` does.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800–DFFF) encode code points above FFFF: move them above E000–FFFF.
    x = x >= 0xe000 ? x - 0x800 : x >= 0xd800 ? x + 0x2000 : x;
    y = y >= 0xe000 ? y - 0x800 : y >= 0xd800 ? y + 0x2000 : y;
    return x - y;
  }
  return a.length - b.length;
}

/** The log's order: by `endedAt`, ties by `sessionId` (code points). Queries walk it backwards. */
export function compareAuditPositions(a: AuditPosition, b: AuditPosition): number {
  return a.endedAt - b.endedAt || compareCodePoints(a.sessionId, b.sessionId);
}

export interface AuditQuery {
  /** Only this subject's entries; all subjects when absent. */
  subject?: string;
  /** `nextCursor` of the previous page; the first page when absent. */
  cursor?: string | null;
  /** Most entries to return, 1…`AUDIT_MAX_LIMIT`. */
  limit: number;
}

export interface AuditPage {
  /** Newest first (latest `endedAt`; ties: greatest `sessionId` first). */
  entries: AuditEntry[];
  /** The cursor for the next page; null when this page is the last. */
  nextCursor: string | null;
}

/**
 * Where session ends are kept for operators, apart from the sessions themselves (those are purged
 * a day after they end; the trail is kept much longer). One entry per session: a session ends once.
 *
 * Paging is by position (keyset), not offset: a cursor stays valid while entries are appended or
 * purged, and a page costs what it returns, however deep it is.
 */
export interface AuditLog {
  /**
   * Keeps the entries; durable when it resolves. Appending an entry that is already kept (the same
   * session, e.g. a retried batch) changes nothing. Throws `TypeError` for an entry `checkAuditEntry`
   * refuses (nothing of the batch is kept then).
   */
  append(entries: readonly AuditEntry[]): Promise<void>;
  /** A page of entries, newest first; a malformed cursor throws `ValidationError` (`field: cursor`). */
  query(query: AuditQuery): Promise<AuditPage>;
  /** Deletes every entry that ended before `olderThan` (epoch ms); returns how many. */
  purge(olderThan: number): Promise<number>;
  close(): Promise<void>;
}

/** The page answer for entries fetched one past `limit`: that extra one only says "there is more". */
export function pageOf(fetched: AuditEntry[], limit: number): AuditPage {
  if (fetched.length <= limit) return { entries: fetched, nextCursor: null };
  const entries = fetched.slice(0, limit);
  const last = entries[entries.length - 1] as AuditEntry;
  return { entries, nextCursor: encodeAuditCursor(last) };
}
