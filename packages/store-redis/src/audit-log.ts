import {
  AUDIT_MAX_TIME,
  type AuditActor,
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
  auditQueryStart,
  checkAuditEntry,
  checkAuditLimit,
  type EndReason,
  pageOf,
  StoreUnavailableError,
} from '@vigil/core';
import { clientFromSpec, type RedisClient, toStoreError } from './connection.js';

/**
 * The audit trail on Redis or Redis Cluster. Entries are members of lexicographically ordered
 * sorted sets (all scores 0), written `<endedAt, 15 digits>:<sessionId>\0<JSON of the rest>`, so
 * that the set's own order is the log's order (time, then session id by bytes) and a cursor is an
 * exclusive lex bound: a page is one `ZREVRANGEBYLEX … LIMIT`, however deep. Keys:
 *
 * - `<prefix>audit:s:{<subject>}`  a subject's entries (tag: the subject, as the store escapes it)
 * - `<prefix>audit:d:{audit#<day>}` every entry of one UTC day (tag: the day), for queries without
 *   a subject and for purging; one slot per day spreads the writes over a Cluster
 * - `<prefix>audit:days:{audit#days}` the days that have entries (score = day), newest found first
 *
 * Each command touches one key, so every call works on a Cluster. An append writes the days index,
 * then the day, then the subject: a failure part-way leaves a retry (the server's writer retries)
 * with nothing to undo, since adding a member twice is a no-op. A purge removes from the subjects
 * before the days, so a purge cut short is finished by the next one. Every key has a TTL of
 * `retentionMs` + 2 days from its last write, and an append trims its subject's entries older than
 * `retentionMs` + 1 day: a safety net for anything a crash left behind, never the purge itself.
 */

const DAY = 86_400_000;
const TIME_DIGITS = String(AUDIT_MAX_TIME).length;
/** Members per script call (Lua's unpack limit is a few thousand). */
const CHUNK = 500;
/** Entries removed per purge step. */
const PURGE_BATCH = 1000;
/** Days fetched from the days index at a time while paging without a subject. */
const DAYS_AT_ONCE = 16;

/**
 * Adds members to one lexicographic sorted set, refreshes its TTL and trims members below a bound.
 * KEYS: the set. ARGV: ttl ms, trim bound (exclusive; '' for none), members….
 */
const ADD_SCRIPT = `
for i = 3, #ARGV do redis.call('ZADD', KEYS[1], 0, ARGV[i]) end
if ARGV[2] ~= '' then redis.call('ZREMRANGEBYLEX', KEYS[1], '-', '(' .. ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
`;

/** Removes members; deletes nothing else (an emptied set vanishes by itself). KEYS: the set. ARGV: members…. */
const REMOVE_SCRIPT = `
if #ARGV == 0 then return 0 end
return redis.call('ZREM', KEYS[1], unpack(ARGV))
`;

/** Escapes `%`, `{` and `}` as the session store does (keys.ts), so a brace cannot move the hash tag. */
function tag(value: string): string {
  if (value === '') return '%';
  return value.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const padTime = (ms: number) => String(ms).padStart(TIME_DIGITS, '0');
const dayOf = (ms: number) => Math.floor(ms / DAY);

/** The part of a member that orders it: time, then session id. */
function positionKey(endedAt: number, sessionId: string): string {
  return `${padTime(endedAt)}:${sessionId}`;
}

function subjectMember(e: AuditEntry): string {
  return `${positionKey(e.endedAt, e.sessionId)}\u0000${JSON.stringify([e.policy, e.reason, e.actor])}`;
}

function dayMember(e: AuditEntry): string {
  return `${positionKey(e.endedAt, e.sessionId)}\u0000${JSON.stringify([e.subject, e.policy, e.reason, e.actor])}`;
}

function splitMember(member: string): { endedAt: number; sessionId: string; rest: string[] } {
  const nul = member.indexOf('\u0000');
  const head = member.slice(0, nul);
  return {
    endedAt: Number(head.slice(0, TIME_DIGITS)),
    sessionId: head.slice(TIME_DIGITS + 1),
    rest: JSON.parse(member.slice(nul + 1)) as string[],
  };
}

function fromSubjectMember(subject: string, member: string): AuditEntry {
  const { endedAt, sessionId, rest } = splitMember(member);
  const [policy, reason, actor] = rest as [string, EndReason, AuditActor];
  return { sessionId, subject, policy, reason, actor, endedAt };
}

function fromDayMember(member: string): AuditEntry {
  const { endedAt, sessionId, rest } = splitMember(member);
  const [subject, policy, reason, actor] = rest as [string, string, EndReason, AuditActor];
  return { sessionId, subject, policy, reason, actor, endedAt };
}

export interface RedisAuditLogOptions {
  /** Prepended to every key; the session store's prefix, normally. No braces. Default `vigil:`. */
  keyPrefix?: string;
  /**
   * How long entries are kept (the server's `audit.retention`); sizes the TTL safety net only, so
   * it must not be shorter than the retention the server purges with. Default 30 days.
   */
  retentionMs?: number;
  /** Longest wait for one Redis call (`fromUrl`'s client), in ms. Default 1000. */
  commandTimeoutMs?: number;
  /** Whether `close()` disconnects the client. Default false for a client you pass, true for `fromUrl`. */
  ownsClient?: boolean;
  /** Connection errors (log them). Default: ignored. */
  onError?: (error: unknown) => void;
  /** A name for messages; never a password. Default `redis`. */
  label?: string;
}

type ScriptCall = (key: string, ...args: (string | number)[]) => Promise<unknown>;

export class RedisAuditLog implements AuditLog {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #retentionMs: number;
  readonly #timeoutMs: number;
  readonly #ownsClient: boolean;
  readonly #label: string;
  readonly #add: ScriptCall;
  readonly #remove: ScriptCall;
  readonly #onError: (error: unknown) => void;
  #closed = false;

  /** Builds the log on an ioredis client (the session store's own, or one configured like it). */
  constructor(client: RedisClient, options: RedisAuditLogOptions = {}) {
    const prefix = options.keyPrefix ?? 'vigil:';
    if (/[{}]/.test(prefix))
      throw new TypeError('keyPrefix must not contain { or } (they would set the hash tag)');
    const retentionMs = options.retentionMs ?? 30 * DAY;
    if (!Number.isSafeInteger(retentionMs) || retentionMs <= 0) {
      throw new RangeError('RedisAuditLog: retentionMs must be a positive integer number of ms');
    }
    this.#client = client;
    this.#prefix = prefix;
    this.#retentionMs = retentionMs;
    this.#timeoutMs = options.commandTimeoutMs ?? 1000;
    this.#ownsClient = options.ownsClient ?? false;
    this.#label = options.label ?? 'redis';
    // Always a listener: without one, ioredis prints every failed reconnect as an "Unhandled error
    // event" with its stack. A call that fails still rejects (`store_unavailable`).
    this.#onError = options.onError ?? (() => {});
    client.on('error', this.#onError);
    client.defineCommand('vigilAudit_add', { numberOfKeys: 1, lua: ADD_SCRIPT });
    client.defineCommand('vigilAudit_remove', { numberOfKeys: 1, lua: REMOVE_SCRIPT });
    const commands = client as unknown as Record<string, ScriptCall>;
    this.#add = (commands.vigilAudit_add as ScriptCall).bind(client);
    this.#remove = (commands.vigilAudit_remove as ScriptCall).bind(client);
  }

  /** `redis://host:port` or `redis+cluster://h1:p1,h2:p2`, with a bounded client of its own. */
  static fromUrl(spec: string, options: RedisAuditLogOptions = {}): RedisAuditLog {
    const { client, label } = clientFromSpec(spec, options.commandTimeoutMs ?? 1000);
    return new RedisAuditLog(client, {
      ...options,
      label: options.label ?? label,
      ownsClient: options.ownsClient ?? true,
    });
  }

  #subjectKey(subject: string): string {
    return `${this.#prefix}audit:s:{${tag(subject)}}`;
  }

  #dayKey(day: number): string {
    return `${this.#prefix}audit:d:{audit#${day}}`;
  }

  get #daysKey(): string {
    return `${this.#prefix}audit:days:{audit#days}`;
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    for (const entry of entries) checkAuditEntry(entry);
    if (entries.length === 0) return;
    const ttl = this.#retentionMs + 2 * DAY;
    const newest = Math.max(...entries.map((e) => e.endedAt));
    const trim = padTime(Math.max(0, newest - this.#retentionMs - DAY));
    const byDay = groupBy(entries, (e) => String(dayOf(e.endedAt)));
    const bySubject = groupBy(entries, (e) => e.subject);
    await this.#run('append', async () => {
      const days = [...byDay.keys()].flatMap((day) => [Number(day), day]);
      await this.#client.zadd(this.#daysKey, ...days);
      await this.#client.pexpire(this.#daysKey, ttl);
      await Promise.all(
        [...byDay].map(([day, own]) =>
          this.#addChunked(this.#dayKey(Number(day)), own.map(dayMember), ttl, ''),
        ),
      );
      await Promise.all(
        [...bySubject].map(([subject, own]) =>
          this.#addChunked(this.#subjectKey(subject), own.map(subjectMember), ttl, trim),
        ),
      );
    });
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    checkAuditLimit(query.limit);
    const start = auditQueryStart(query);
    const wanted = query.limit + 1;
    const max = start === undefined ? '+' : `(${positionKey(start.endedAt, start.sessionId)}`;
    const entries = await this.#run('query', async () => {
      if (query.subject !== undefined) {
        const { subject } = query;
        const members = await this.#client.zrevrangebylex(
          this.#subjectKey(subject),
          max,
          '-',
          'LIMIT',
          0,
          wanted,
        );
        return members.map((member) => fromSubjectMember(subject, member));
      }
      return this.#queryAllSubjects(start === undefined ? undefined : dayOf(start.endedAt), max, wanted);
    });
    return pageOf(entries, query.limit);
  }

  /** Walks the days from the cursor's (or the newest) backwards until `wanted` entries are found. */
  async #queryAllSubjects(fromDay: number | undefined, max: string, wanted: number): Promise<AuditEntry[]> {
    const found: AuditEntry[] = [];
    let below: string = fromDay === undefined ? '+inf' : String(fromDay);
    for (;;) {
      const days = await this.#client.zrevrangebyscore(
        this.#daysKey,
        below,
        '-inf',
        'LIMIT',
        0,
        DAYS_AT_ONCE,
      );
      for (const day of days) {
        const bound = fromDay !== undefined && Number(day) === fromDay ? max : '+';
        const members = await this.#client.zrevrangebylex(
          this.#dayKey(Number(day)),
          bound,
          '-',
          'LIMIT',
          0,
          wanted - found.length,
        );
        found.push(...members.map(fromDayMember));
        if (found.length >= wanted) return found;
      }
      if (days.length < DAYS_AT_ONCE) return found;
      below = `(${days[days.length - 1]}`;
    }
  }

  async purge(olderThan: number): Promise<number> {
    const cutoff = padTime(Math.max(0, Math.min(olderThan, AUDIT_MAX_TIME)));
    const lastDay = dayOf(olderThan);
    let total = 0;
    await this.#run('purge', async () => {
      const days = await this.#client.zrangebyscore(this.#daysKey, '-inf', lastDay);
      for (const text of days) {
        const day = Number(text);
        const key = this.#dayKey(day);
        for (;;) {
          const members = await this.#client.zrangebylex(key, '-', `(${cutoff}`, 'LIMIT', 0, PURGE_BATCH);
          if (members.length === 0) break;
          const entries = members.map(fromDayMember);
          // The subjects first: a purge cut short here still finds these entries in the day next time.
          const bySubject = groupBy(entries, (e) => e.subject);
          await Promise.all(
            [...bySubject].map(([subject, own]) =>
              this.#removeChunked(this.#subjectKey(subject), own.map(subjectMember)),
            ),
          );
          total += await this.#removeChunked(key, members);
          if (members.length < PURGE_BATCH) break;
        }
        // A day wholly before the cutoff is done: forget it (its set, now empty, is already gone).
        if ((day + 1) * DAY <= olderThan && (await this.#client.zcard(key)) === 0) {
          await this.#client.zrem(this.#daysKey, text);
        }
      }
    });
    return total;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.removeListener('error', this.#onError);
    if (this.#ownsClient) this.#client.disconnect();
  }

  async #addChunked(key: string, members: string[], ttl: number, trim: string): Promise<void> {
    for (let i = 0; i < members.length; i += CHUNK) {
      await this.#add(key, ttl, trim, ...members.slice(i, i + CHUNK));
    }
  }

  async #removeChunked(key: string, members: string[]): Promise<number> {
    let removed = 0;
    for (let i = 0; i < members.length; i += CHUNK) {
      removed += Number(await this.#remove(key, ...members.slice(i, i + CHUNK)));
    }
    return removed;
  }

  async #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError(`${this.#label}: the audit log is closed`);
    try {
      return await work();
    } catch (error) {
      throw toStoreError(error, `audit ${operation}`, this.#label, this.#timeoutMs);
    }
  }
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}
