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

/** Decodes the field values in FIELDS order (from HMGET or a script's reply); null if absent. */
export function decodeFields(id: string, values: readonly unknown[]): SessionRecord | null {
  const [sub, pol, c, la, ls, ie, ae, w, a, e, r] = values.map((v) =>
    v === null || v === undefined || v === '' ? null : String(v),
  );
  if (sub === null || sub === undefined) return null;
  const ended = e !== null && e !== undefined && r !== null && r !== undefined;
  return {
    id,
    subject: sub,
    policy: pol ?? '',
    createdAt: Number(c),
    lastActivityAt: Number(la),
    lastSeenAt: Number(ls),
    idleExpiresAt: Number(ie),
    absoluteExpiresAt: Number(ae),
    warnAt: w === null || w === undefined ? null : Number(w),
    attributes: a === null || a === undefined ? {} : JSON.parse(a),
    endedAt: ended ? Number(e) : null,
    reason: ended ? (r as EndReason) : null,
  };
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
  const [outcome, flags, ...fields] = reply as unknown[];
  return { outcome: String(outcome), flags: String(flags ?? ''), record: decodeFields(id, fields) };
}
