import type { EndReason, SessionRecord } from '@vigil/core';

/**
 * A session as a Redis hash with short field names (small hashes are stored compactly). `w`, `e`
 * and `r` are absent while null. Attributes are kept as the JSON text we were given: Lua never
 * parses them, so nested values round-trip exactly.
 */
export const FIELDS = ['sub', 'pol', 'c', 'la', 'ls', 'ie', 'ae', 'w', 'a', 'e', 'r'] as const;

export function encodeRecord(record: SessionRecord): string[] {
  const pairs = [
    'sub',
    record.subject,
    'pol',
    record.policy,
    'c',
    String(record.createdAt),
    'la',
    String(record.lastActivityAt),
    'ls',
    String(record.lastSeenAt),
    'ie',
    String(record.idleExpiresAt),
    'ae',
    String(record.absoluteExpiresAt),
    'a',
    JSON.stringify(record.attributes),
  ];
  if (record.warnAt !== null) pairs.push('w', String(record.warnAt));
  if (record.endedAt !== null && record.reason !== null)
    pairs.push('e', String(record.endedAt), 'r', record.reason);
  return pairs;
}

/**
 * Decodes the field values in FIELDS order (from HMGET, or a script's reply from index `at`): text,
 * or integers for the times in a script's reply; null, '' or absent for none.
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
