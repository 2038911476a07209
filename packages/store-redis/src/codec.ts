import type { EndReason, SessionRecord } from '@vigil/core';

/**
 * A session as a Redis hash, kept small enough for Redis' compact encoding (a listpack, under
 * `hash-max-listpack-value` 64 bytes a value) and small inside it:
 *
 * - one-letter fields: `s` subject, `p` policy, `c` createdAt, `a` lastActivityAt, `l` lastSeenAt,
 *   `i` idleExpiresAt, `x` absoluteExpiresAt, `w` warnAt, `d` attributes (JSON), `e` endedAt,
 *   `r` reason;
 * - `c` is epoch ms; the other times are ms after `c` ("900000", not "1796474693044"): a listpack
 *   keeps an integer in as few bytes as it needs, 4 to 6 for these instead of 10. A time whose
 *   offset would not add back to it exactly (one that is not a whole number of ms) is written
 *   whole, after an `@`. prelude.ts `rel`/`at` do the same in Lua;
 * - `w`, `e`, `r` are absent while null, and `d` while the attributes are `{}`. Attributes are kept
 *   as the JSON text we were given: Lua never parses them, so nested values round-trip exactly.
 */
export const FIELDS = ['s', 'p', 'c', 'a', 'l', 'i', 'x', 'w', 'd', 'e', 'r'] as const;

/** A time as stored: its offset from createdAt, or `@` and itself when that offset is not exact. */
export function relativeTime(time: number, createdAt: number): string {
  const offset = time - createdAt;
  return createdAt + offset === time ? String(offset) : `@${time}`;
}

function absoluteTime(value: unknown, createdAt: number): number | null {
  const stored = text(value);
  if (stored === null) return null;
  return stored.startsWith('@') ? Number(stored.slice(1)) : createdAt + Number(stored);
}

export function encodeRecord(record: SessionRecord): string[] {
  const c = record.createdAt;
  const pairs = [
    's',
    record.subject,
    'p',
    record.policy,
    'c',
    String(c),
    'a',
    relativeTime(record.lastActivityAt, c),
    'l',
    relativeTime(record.lastSeenAt, c),
    'i',
    relativeTime(record.idleExpiresAt, c),
    'x',
    relativeTime(record.absoluteExpiresAt, c),
  ];
  const attributes = JSON.stringify(record.attributes);
  if (attributes !== '{}') pairs.push('d', attributes);
  if (record.warnAt !== null) pairs.push('w', relativeTime(record.warnAt, c));
  if (record.endedAt !== null && record.reason !== null)
    pairs.push('e', relativeTime(record.endedAt, c), 'r', record.reason);
  return pairs;
}

/** Decodes a session hash as stored, from HMGET of FIELDS; null when there is none. */
export function decodeStored(id: string, values: readonly unknown[]): SessionRecord | null {
  const sub = text(values[0]);
  if (sub === null) return null;
  const c = Number(values[2]);
  const relative = values.map((value, i) => (i >= 3 && i <= 9 && i !== 8 ? absoluteTime(value, c) : value));
  return decodeFields(id, relative);
}

/**
 * Decodes a record's values in FIELDS order with absolute times (a script's reply from index `at`):
 * text or integers for the times; null, '' or absent for none.
 */
export function decodeFields(id: string, values: readonly unknown[], at = 0): SessionRecord | null {
  const sub = text(values[at]);
  if (sub === null) return null;
  const e = time(values[at + 9]);
  const r = text(values[at + 10]);
  const ended = e !== null && r !== null;
  const a = text(values[at + 8]);
  return {
    id,
    subject: sub,
    policy: text(values[at + 1]) ?? '',
    createdAt: Number(values[at + 2]),
    lastActivityAt: Number(values[at + 3]),
    lastSeenAt: Number(values[at + 4]),
    idleExpiresAt: Number(values[at + 5]),
    absoluteExpiresAt: Number(values[at + 6]),
    warnAt: time(values[at + 7]),
    attributes: a === null ? {} : JSON.parse(a),
    endedAt: ended ? e : null,
    reason: ended ? (r as EndReason) : null,
  };
}

function text(value: unknown): string | null {
  return value === null || value === undefined || value === '' ? null : String(value);
}

function time(value: unknown): number | null {
  return value === null || value === undefined || value === '' ? null : Number(value);
}

/** What a session script answers: an outcome word, flag letters, and the record (absent if unknown). */
export interface ScriptReply {
  outcome: string;
  flags: string;
  record: SessionRecord | null;
}

export function decodeReply(id: string, reply: unknown): ScriptReply {
  if (!Array.isArray(reply) || reply.length < 2)
    throw new TypeError('unexpected reply from a session script');
  return { outcome: String(reply[0]), flags: String(reply[1] ?? ''), record: decodeFields(id, reply, 2) };
}
