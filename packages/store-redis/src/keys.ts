/**
 * Key names (layout 2). Every key carries a hash tag (the part in braces), and Redis Cluster places
 * a key by its tag alone, so each script below touches keys of one tag, hence one slot:
 *
 * - `<prefix>s:{<id>}`            hash: one session (tag: the session id; fields in codec.ts)
 * - `<prefix>sub:{<subject>}`     sorted set id → createdAt while the session is not known to have
 *                                 ended, −inf once it has: the subject's sessions not yet purged
 * - `<prefix>deadline:{#<b>}`     sorted set `policy NUL id` → deadline: sessions not yet recorded as ended
 * - `<prefix>warning:{#<b>}`      sorted set id → warnAt: warnings not yet claimed
 * - `<prefix>purge:{#<b>}`        sorted set id → endedAt: ended sessions waiting to be purged
 * - `<prefix>count:{#<b>}`        hash policy → number of sessions in `deadline` (for `countLive`)
 * - `<prefix>rt:{<id>}:<family>`  hash: one refresh-token family of the session (token mode)
 * - `<prefix>signing-keys`        hash generation → signing key as JSON (token mode)
 *
 * `b` = FNV-1a(id) mod `expiryBuckets`: a fixed set of index slots that `claimExpired` walks one by
 * one. Ids and subjects are escaped so that a brace in them cannot move the tag.
 *
 * Memory is what shaped this layout (Redis `MEMORY USAGE`, 20,000 sessions of one subject each):
 * a subject costs one key, not two (live and ended sessions share one set, told apart by the
 * score), warning and purge entries are bare ids, and the session hash stays a small listpack
 * (codec.ts).
 *
 * Layout 1 (the first, before the layout above) named its index keys `subj`, `subjlive`, `exp`,
 * `warn`, `ended` and `live`, and wrote session hashes with other fields. It is not read (a clean
 * break): a store that finds layout 1's bucket keys under its prefix refuses to work (see
 * `legacyBucketKeys`) until they are deleted or it is given another `keyPrefix`.
 */
export class KeySpace {
  readonly prefix: string;
  readonly buckets: number;

  constructor(prefix: string, buckets: number) {
    if (/[{}]/.test(prefix))
      throw new TypeError('keyPrefix must not contain { or } (they would set the hash tag)');
    if (!Number.isSafeInteger(buckets) || buckets < 1)
      throw new TypeError('expiryBuckets must be an integer ≥ 1');
    this.prefix = prefix;
    this.buckets = buckets;
  }

  session(id: string): string {
    return `${this.prefix}s:{${tag(id)}}`;
  }

  subject(subject: string): string {
    return `${this.prefix}sub:{${tag(subject)}}`;
  }

  /** The four keys of one index bucket, in the order the bucket scripts take them. */
  bucket(b: number): { exp: string; warn: string; ended: string; live: string } {
    return {
      exp: `${this.prefix}deadline:{#${b}}`,
      warn: `${this.prefix}warning:{#${b}}`,
      ended: `${this.prefix}purge:{#${b}}`,
      live: `${this.prefix}count:{#${b}}`,
    };
  }

  /**
   * Layout 1's expiry and purge buckets: while a layout-1 session is live or not yet purged, one of
   * them exists, so finding none means no layout-1 data is waiting to be misread. The store checks
   * them once (by name: no scan) before its first operation.
   */
  legacyBucketKeys(): string[] {
    return Array.from({ length: this.buckets }, (_, b) => [
      `${this.prefix}exp:{#${b}}`,
      `${this.prefix}ended:{#${b}}`,
    ]).flat();
  }

  bucketOf(id: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) {
      hash ^= id.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % this.buckets;
  }

  /**
   * One refresh-token family (token mode): tagged with its session's id, so it lives in the
   * session's slot. `familyId` is a base64url hash: no brace can occur in it.
   */
  refreshFamily(sessionId: string, familyId: string): string {
    return `${this.prefix}rt:{${tag(sessionId)}}:${familyId}`;
  }

  /** Token mode's signing keys: one small hash (field: generation), so one slot. */
  get signingKeys(): string {
    return `${this.prefix}signing-keys`;
  }

  /** Pub/sub channel for cross-node events (not a key: it holds nothing). */
  get channel(): string {
    return `${this.prefix}events`;
  }
}

/**
 * Deadline index members carry the policy, so that an entry whose session has vanished can still be
 * uncounted from its policy's live counter (warning and purge entries are bare ids: 16 bytes less
 * each in a skiplist). Policy names never contain NUL (config allows `[A-Za-z0-9_.-]`), so the first
 * NUL separates them from the id. The bucket scripts build the same member in Lua.
 */
export function indexMember(policy: string, id: string): string {
  return `${policy}\u0000${id}`;
}

export function parseIndexMember(member: string): { policy: string; id: string } {
  const at = member.indexOf('\u0000');
  return at < 0 ? { policy: '', id: member } : { policy: member.slice(0, at), id: member.slice(at + 1) };
}

/** Escapes `%`, `{` and `}` (injectively); the empty string becomes a lone `%`, never `{}`. */
function tag(value: string): string {
  if (value === '') return '%';
  return value.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
