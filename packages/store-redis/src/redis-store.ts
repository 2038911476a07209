import {
  type CreateOptions,
  endSession,
  expiresAt,
  liveness,
  type ManualEndReason,
  type SessionEvent,
  type SessionLookup,
  type SessionRecord,
  type Store,
  StoreUnavailableError,
  settle,
  type TouchParams,
  type TouchResult,
} from '@vigil/core';
import { Cluster } from 'ioredis';
import { decodeReply, decodeStored, encodeRecord, FIELDS, type ScriptReply } from './codec.js';
import { clientFromSpec, type RedisClient, toStoreError } from './connection.js';
import { KeySpace, parseIndexMember } from './keys.js';
import { type RemoteEventListener, RemoteEvents } from './remote-events.js';
import { SCRIPTS, type ScriptName } from './scripts/index.js';
import { RedisTokenStore } from './token-store.js';
import { TouchBatches } from './touch-batch.js';

export interface RedisStoreOptions {
  /** Prepended to every key and to the events channel; no braces. Default `vigil:`. */
  keyPrefix?: string;
  /** Longest wait for any one Redis call, in ms; past it the call fails `store_unavailable`. Default 1000. */
  commandTimeoutMs?: number;
  /** Number of index buckets (slots) the expiry, warning and purge indexes are spread over. Default 16. */
  expiryBuckets?: number;
  /**
   * How long ended sessions are kept before `purgeEnded` removes them, in ms (the Sweeper's
   * `endedRetentionMs`). Only sizes the TTL safety net: every key expires at the latest this long
   * after its sessions' absolute deadline. Default 24 h.
   */
  retentionMs?: number;
  /** How long a claimer holds due index entries it is working on, in ms. Default 5000. */
  claimLeaseMs?: number;
  /** Connection and background errors (log them; calls report theirs themselves). Default: ignored. */
  onError?: (error: unknown) => void;
  /** Whether `close()` disconnects the client too. Default false for a client you pass, true for `fromUrl`. */
  ownsClient?: boolean;
  /** A name for error messages; never a password. Default `redis`. */
  label?: string;
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** Index changes for one bucket, flattened as the bucketApply script takes them. */
type BucketActions = Map<number, (string | number)[]>;

const DAY = 24 * 3_600_000;

/**
 * The Store contract on Redis or Redis Cluster. A session's own state lives in one hash and every
 * change to it is one Lua script on that hash: that script is the single point where a session
 * ends, so `endedNow` reaches exactly one caller whatever path or node got there first. The indexes
 * (expiry/warning/purge buckets, the subject's set) live in other slots; each is changed by its own
 * single-slot script, after the session script, and may lag it. Why that stays correct:
 *
 * - Expiry index: an entry's score is never later than its session's true deadline, because a
 *   deadline only ever moves later and the entry is written once, at creation (touches do not write
 *   it at all: one round trip per heartbeat). A claimer that finds a due entry asks the session
 *   script; if it was extended, the entry moves to the true deadline. So no expiry is missed, even
 *   one that passed while no node ran, and each costs O(1) work per idle period.
 * - Every index change is idempotent, and one left undone (a node died between two steps) is
 *   redone by whoever next meets the entry: the claimer (for expiry entries of ended or vanished
 *   sessions), creation and listing (for subject entries). Leftovers cost a little work, never a
 *   wrong answer, and every key has a TTL besides.
 * - `maxSessions` is decided in the subject's slot, by one script that both adds the new session and
 *   picks the ones to evict, so that concurrent creations for one subject are serialized there.
 */
export class RedisStore implements Store {
  readonly #client: RedisClient;
  readonly #keys: KeySpace;
  readonly #timeoutMs: number;
  readonly #retentionMs: number;
  readonly #leaseMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #ownsClient: boolean;
  readonly #label: string;
  readonly #events: RemoteEvents;
  readonly #scripts: Record<ScriptName, ScriptCall>;
  readonly #touches: TouchBatches;
  #cursor = 0;
  /** Set by the first `close()`; every later call is refused, every later `close()` gets the same promise. */
  #closing: Promise<void> | undefined;
  /** Calls made and not yet answered; `close()` waits for them (`#allAnswered`) before disconnecting. */
  #inFlight = 0;
  #allAnswered: (() => void) | undefined;
  /** True once no layout-1 data was found under the prefix (keys.ts); until then every call checks. */
  #layoutOk = false;
  #layoutCheck: Promise<void> | undefined;
  #tokens: RedisTokenStore | undefined;

  /**
   * Builds a store on an existing ioredis client. The client is used as it is configured; to get
   * bounded calls configure it like `fromUrl` does (see connection.ts `boundedRedisOptions`).
   */
  constructor(client: RedisClient, options: RedisStoreOptions = {}) {
    this.#client = client;
    this.#keys = new KeySpace(options.keyPrefix ?? 'vigil:', options.expiryBuckets ?? 16);
    this.#timeoutMs = options.commandTimeoutMs ?? 1000;
    this.#retentionMs = options.retentionMs ?? DAY;
    this.#leaseMs = options.claimLeaseMs ?? 5000;
    this.#onError = options.onError ?? (() => {});
    this.#ownsClient = options.ownsClient ?? false;
    this.#label = options.label ?? 'redis';
    client.on('error', this.#onError);
    const scripts: Partial<Record<ScriptName, ScriptCall>> = {};
    for (const [name, { numberOfKeys, lua }] of Object.entries(SCRIPTS) as [
      ScriptName,
      (typeof SCRIPTS)[ScriptName],
    ][]) {
      const command = `vigil_${name}`;
      client.defineCommand(command, { numberOfKeys, lua });
      const call = (client as unknown as Record<string, ScriptCall>)[command];
      if (call === undefined) throw new Error(`defineCommand did not define ${command}`);
      scripts[name] = call.bind(client);
    }
    this.#scripts = scripts as Record<ScriptName, ScriptCall>;
    this.#touches = new TouchBatches(client, this.#scripts.sessionTouch);
    this.#events = new RemoteEvents(client, this.#keys.channel, this.#onError);
  }

  /** `redis://host:port` (standalone) or `redis+cluster://h1:p1,h2:p2` (cluster); see connection.ts. */
  static fromUrl(spec: string, options: RedisStoreOptions = {}): RedisStore {
    const { client, label } = clientFromSpec(spec, options.commandTimeoutMs ?? 1000);
    return new RedisStore(client, {
      ...options,
      label: options.label ?? label,
      ownsClient: options.ownsClient ?? true,
    });
  }

  /** The ioredis connection state (`ready` when serving), e.g. for logs. `/readyz` should use `ping()`. */
  get connectionStatus(): string {
    return this.#client.status;
  }

  /** Token mode's state on the same client and key prefix; each family in its session's slot. */
  tokenStore(): RedisTokenStore {
    this.#tokens ??= new RedisTokenStore(this.#client, {
      keys: this.#keys,
      run: (operation, work) => this.#op(operation, work),
    });
    return this.#tokens;
  }

  // --- cross-node events ------------------------------------------------------------------------

  /** Listens to events published by other nodes (other store instances) on the same key prefix. */
  onRemoteEvent(listener: RemoteEventListener): () => void {
    return this.#events.on(listener);
  }

  /** Resolves once this node receives remote events (the subscription is active). */
  remoteEventsReady(): Promise<void> {
    return this.#events.ready();
  }

  /** Sends an event to every other node's `onRemoteEvent` listeners (within milliseconds, best effort). */
  publish(event: SessionEvent): Promise<void> {
    return this.#op('publish', () => this.#bounded(this.#events.publish(event)));
  }

  // --- the Store contract -----------------------------------------------------------------------

  create(record: SessionRecord, { maxSessions }: CreateOptions): Promise<{ evicted: SessionRecord[] }> {
    return this.#op('create', async () => {
      const now = record.createdAt;
      const ttl = this.#ttl(record, now);
      const b = this.#keys.bucketOf(record.id);
      const bucket = this.#keys.bucket(b);
      // Index first: an expiry entry never points at nothing for long (the session follows at once,
      // and the entry is due only at the deadline), and an end's index removal cannot precede it.
      await this.#bounded(
        this.#scripts.bucketAdd(
          bucket.exp,
          bucket.warn,
          bucket.live,
          record.id,
          record.policy,
          expiresAt(record),
          record.warnAt ?? '',
          ttl,
        ),
      );
      await this.#bounded(
        this.#scripts.sessionCreate(this.#keys.session(record.id), ttl, ...encodeRecord(record)),
      );

      // The subject's index may still list as live sessions that have ended (their index update
      // lags) or expired: check each, so that eviction counts only the truly live ones.
      const forget: string[] = [];
      const dead: string[] = [];
      if (maxSessions !== null) {
        const ids = (await this.#bounded(this.#liveInSubject(record.subject))).filter(
          (id) => id !== record.id,
        );
        const current = await this.#bounded(Promise.all(ids.map((id) => this.#peek(id))));
        ids.forEach((id, i) => {
          const found = current[i];
          if (found === null || found === undefined) forget.push(id);
          else if (!liveness(found, now).alive) dead.push(id);
        });
      }
      const picks = (await this.#bounded(
        this.#scripts.subjectAdd(
          this.#keys.subject(record.subject),
          record.id,
          record.createdAt,
          ttl,
          maxSessions ?? '',
          forget.length,
          ...forget,
          ...dead,
        ),
      )) as string[];

      const evicted: SessionRecord[] = [];
      if (picks.length > 0) {
        const results = await this.#bounded(
          Promise.all(picks.map((id) => this.#session('sessionEndIfLive', id, now, 'evicted'))),
        );
        for (const { flags, record: before } of results) {
          if (before !== null && flags.includes('n')) evicted.push(endSession(before, 'evicted', now));
        }
        // subjectAdd already marked the picks as ended in the subject's index.
        await this.#repair(this.#indexEnds(evicted, now));
      }
      return { evicted };
    });
  }

  get(id: string, now: number): Promise<SessionLookup> {
    return this.#op('get', async () => {
      const { outcome, flags, record } = await this.#bounded(this.#session('sessionGet', id, now));
      if (record === null) return { kind: 'unknown' };
      if (outcome === 'live') return { kind: 'live', record };
      const endedNow = flags.includes('n');
      if (endedNow) await this.#afterEnds([record], now);
      return { kind: 'ended', record, endedNow };
    });
  }

  /**
   * On standalone Redis the touches of one event-loop turn go to Redis as one script (touch-batch.ts
   * says why and what it saved); each call still has its own timeout, reply and follow-ups.
   */
  touch(id: string, params: TouchParams): Promise<TouchResult> {
    return this.#op('touch', async () => {
      const raw = await this.#bounded(
        this.#touches.send({
          key: this.#keys.session(id),
          args: [
            params.now,
            params.signal,
            params.idleTimeoutMs,
            params.warnBeforeMs,
            params.touchGranularityMs,
          ],
        }),
      );
      const { outcome, flags, record } = decodeReply(id, raw);
      if (record === null) return { kind: 'unknown' };
      if (outcome === 'ended') {
        const endedNow = flags.includes('n');
        if (endedNow) await this.#afterEnds([record], params.now);
        return { kind: 'ended', record, endedNow };
      }
      if (flags.includes('w') && record.warnAt !== null) {
        // Its warning was claimed and an extension set a new one: index it again.
        const b = this.#keys.bucketOf(id);
        const actions: BucketActions = new Map([
          [b, ['warn-add', id, record.policy, record.warnAt, this.#ttl(record, params.now)]],
        ]);
        await this.#repair(this.#applyBuckets(actions, ''));
      }
      return { kind: 'live', record, extendedFromWarning: flags.includes('x') };
    });
  }

  end(id: string, reason: ManualEndReason, now: number): Promise<SessionLookup> {
    return this.#op('end', async () => {
      const { flags, record } = await this.#bounded(this.#session('sessionEnd', id, now, reason));
      if (record === null) return { kind: 'unknown' };
      const endedNow = flags.includes('n');
      if (endedNow) await this.#afterEnds([record], now);
      return { kind: 'ended', record, endedNow };
    });
  }

  endAllForSubject(subject: string, reason: ManualEndReason, now: number): Promise<SessionRecord[]> {
    return this.#op('endAllForSubject', async () => {
      const ids = await this.#bounded(this.#liveInSubject(subject));
      const results = await this.#bounded(
        Promise.all(ids.map((id) => this.#session('sessionEndIfLive', id, now, reason))),
      );
      const before: SessionRecord[] = [];
      const gone: string[] = [];
      const notLive: string[] = [];
      results.forEach(({ outcome, flags, record }, i) => {
        const id = ids[i] as string;
        if (record === null) gone.push(id);
        else {
          notLive.push(id);
          if (outcome === 'ended' && flags.includes('n')) before.push(record);
        }
      });
      const ended = before.map((record) => endSession(record, reason, now));
      await this.#repair(
        Promise.all([
          this.#indexEnds(ended, now),
          this.#forget(subject, 'ended', notLive),
          this.#forget(subject, 'gone', gone),
        ]),
      );
      return before;
    });
  }

  listBySubject(subject: string, now: number): Promise<SessionRecord[]> {
    return this.#op('listBySubject', async () => {
      const ids = await this.#bounded(this.#client.zrange(this.#keys.subject(subject), 0, -1));
      const found = await this.#bounded(Promise.all(ids.map((id) => this.#peek(id))));
      const records: SessionRecord[] = [];
      const gone: string[] = [];
      found.forEach((record, i) => {
        if (record === null) gone.push(ids[i] as string);
        else records.push(settle(record, now).record);
      });
      // An id whose session was purged (or expired by its TTL) no longer belongs to the index.
      await this.#repair(this.#forget(subject, 'gone', gone));
      return records.sort((a, b) => a.createdAt - b.createdAt);
    });
  }

  claimExpired(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#op('claimExpired', async () => {
      const claimed: SessionRecord[] = [];
      await this.#walkBuckets(async (b) => {
        const bucket = this.#keys.bucket(b);
        while (claimed.length < limit) {
          const want = limit - claimed.length;
          const lease = now + this.#leaseMs;
          const members = (await this.#bounded(
            this.#scripts.bucketLease(bucket.exp, now, lease, want),
          )) as string[];
          if (members.length === 0) return;
          const entries = members.map(parseIndexMember);
          const results = await this.#bounded(
            Promise.all(entries.map(({ id }) => this.#session('sessionExpire', id, now))),
          );
          const actions: (string | number)[] = [];
          const ended: SessionRecord[] = [];
          results.forEach(({ outcome, record }, i) => {
            const { policy, id } = entries[i] as { policy: string; id: string };
            if (record === null) {
              actions.push('gone', id, policy, '', 0);
            } else if (outcome === 'live') {
              actions.push('live', id, policy, expiresAt(record), 0);
            } else {
              // `claimed` by us, or `ended` by someone whose index update we redo (idempotent).
              actions.push('end', id, policy, record.endedAt ?? now, this.#ttl(record, now));
              ended.push(record);
              if (outcome === 'claimed') claimed.push(record);
            }
          });
          await this.#applyBuckets(new Map([[b, actions]]), lease);
          await this.#repair(this.#forgetEnded(ended));
          if (members.length < want) return;
        }
      });
      return claimed;
    });
  }

  claimWarnings(now: number, limit: number): Promise<SessionRecord[]> {
    return this.#op('claimWarnings', async () => {
      const claimed: SessionRecord[] = [];
      await this.#walkBuckets(async (b) => {
        const bucket = this.#keys.bucket(b);
        while (claimed.length < limit) {
          const want = limit - claimed.length;
          const lease = now + this.#leaseMs;
          const ids = (await this.#bounded(
            this.#scripts.bucketLease(bucket.warn, now, lease, want),
          )) as string[];
          if (ids.length === 0) return;
          const results = await this.#bounded(
            Promise.all(ids.map((id) => this.#session('sessionWarn', id, now))),
          );
          const actions: (string | number)[] = [];
          results.forEach(({ outcome, record }, i) => {
            const id = ids[i] as string;
            // Warning entries are bare ids: these actions need no policy.
            if (record === null || outcome === 'over') actions.push('warn-over', id, '', '', 0);
            else if (outcome === 'later') actions.push('warn-later', id, '', record.warnAt ?? now, 0);
            else {
              actions.push('warn-drop', id, '', '', 0);
              if (outcome === 'claimed') claimed.push(record);
            }
          });
          await this.#applyBuckets(new Map([[b, actions]]), lease);
          if (ids.length < want) return;
        }
      });
      return claimed;
    });
  }

  purgeEnded(endedBefore: number, limit: number): Promise<number> {
    return this.#op('purgeEnded', async () => {
      let purged = 0;
      await this.#walkBuckets(async (b) => {
        const bucket = this.#keys.bucket(b);
        while (purged < limit) {
          const want = limit - purged;
          const ids = (await this.#bounded(
            this.#scripts.bucketPopEnded(bucket.ended, endedBefore, want),
          )) as string[];
          if (ids.length === 0) return;
          const results = await this.#bounded(
            Promise.all(ids.map((id) => this.#session('sessionPurge', id, endedBefore))),
          );
          const gone = new Map<string, string[]>();
          const kept: (string | number)[] = [];
          results.forEach(({ outcome, record }) => {
            if (record === null) return;
            if (outcome === 'purged') {
              purged++;
              const ids = gone.get(record.subject) ?? [];
              ids.push(record.id);
              gone.set(record.subject, ids);
            } else if (record.endedAt !== null) {
              // Not due yet after all: back into the purge index at its own time.
              kept.push('end', record.id, record.policy, record.endedAt, this.#ttl(record, endedBefore));
            }
          });
          await this.#repair(
            Promise.all([
              ...[...gone].map(([subject, ids]) => this.#forget(subject, 'gone', ids)),
              kept.length > 0 ? this.#applyBuckets(new Map([[b, kept]]), '') : undefined,
            ]),
          );
          if (ids.length < want) return;
        }
      });
      return purged;
    });
  }

  /**
   * Live sessions per policy from per-bucket counters, which the bucket scripts keep equal to the
   * number of expiry entries (one per session not yet recorded as ended): N small reads, no scan.
   * A session past its deadline counts until it is recorded as ended — by a read or the sweeper,
   * which does so within its interval.
   */
  countLive(_now: number): Promise<Record<string, number>> {
    return this.#op('countLive', async () => {
      const buckets = Array.from({ length: this.#keys.buckets }, (_, b) => this.#keys.bucket(b).live);
      const counters = await this.#bounded(Promise.all(buckets.map((key) => this.#client.hgetall(key))));
      const counts: Record<string, number> = {};
      for (const counter of counters) {
        for (const [policy, value] of Object.entries(counter)) {
          const n = Number(value);
          if (n > 0) counts[policy] = (counts[policy] ?? 0) + n;
        }
      }
      return counts;
    });
  }

  ping(): Promise<void> {
    return this.#op('ping', async () => {
      const client = this.#client;
      const masters = client instanceof Cluster ? client.nodes('master') : [];
      if (masters.length > 0) await this.#bounded(Promise.all(masters.map((node) => node.ping())));
      else await this.#bounded(client.ping());
    });
  }

  /**
   * Refuses new calls at once; calls already made still get their answers (each is bounded by the
   * command timeout), and only then does the store let go of a client it owns.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    this.#events.close();
    if (this.#ownsClient) {
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#allAnswered = resolve));
      this.#client.disconnect();
    }
    this.#client.removeListener('error', this.#onError);
  }

  // --- internals --------------------------------------------------------------------------------

  /**
   * Runs one operation (the token store's too): refuses it after close, counts it while in flight for
   * `close()`, and turns connection trouble into `store_unavailable`.
   */
  async #op<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#closing) throw new StoreUnavailableError(`${this.#label}: the store is closed`);
    this.#inFlight++;
    try {
      if (!this.#layoutOk) {
        this.#layoutCheck ??= this.#checkLayout();
        await this.#layoutCheck;
      }
      return await work();
    } catch (error) {
      throw toStoreError(error, operation, this.#label, this.#timeoutMs);
    } finally {
      if (--this.#inFlight === 0) this.#allAnswered?.();
    }
  }

  /**
   * Refuses to work on a prefix that still holds layout-1 keys (keys.ts), whose sessions and indexes
   * this version would misread: it answers `store_unavailable`
   * (503, `/readyz` too) with a message saying what to do, and looks again on the next call, so
   * deleting those keys (or waiting for their TTLs) lets it start without a restart.
   */
  async #checkLayout(): Promise<void> {
    try {
      const legacy = this.#keys.legacyBucketKeys();
      const found = await this.#bounded(Promise.all(legacy.map((key) => this.#client.exists(key))));
      if (found.some((n) => n > 0)) {
        throw new StoreUnavailableError(
          `${this.#label}: keys under the prefix "${this.#keys.prefix}" were written by an older ` +
            '@vigil/store-redis (key layout 1, e.g. ' +
            `${legacy[found.findIndex((n) => n > 0)]}), which this version does not read. Stop the ` +
            'older nodes, then delete the old keys (those sessions are lost) or give this version ' +
            'another keyPrefix.',
        );
      }
      this.#layoutOk = true;
    } finally {
      this.#layoutCheck = undefined;
    }
  }

  /**
   * A backstop over ioredis' own `commandTimeout`, for the states where a command waits outside a
   * connection (e.g. a cluster that is refreshing its slots): no step waits much longer than that.
   */
  #bounded<T>(work: Promise<T>): Promise<T> {
    // One promise and one timer per call (a race and a `finally` cost three more on every heartbeat).
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Command timed out')), this.#timeoutMs + 200);
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /**
   * Index upkeep after the session step has committed. A failure here must not fail the call (the
   * end is recorded and its caller must learn `endedNow` to emit the one event); what was left
   * undone is redone by the claimer or the next creation, so it is reported and dropped.
   */
  async #repair(work: Promise<unknown>): Promise<void> {
    try {
      await this.#bounded(work);
    } catch (error) {
      this.#onError(error);
    }
  }

  async #session(name: ScriptName, id: string, ...args: (string | number)[]): Promise<ScriptReply> {
    // Touches made before this call reach Redis before it, as they did when each was sent at once.
    this.#touches.flush();
    return decodeReply(id, await this.#scripts[name](this.#keys.session(id), ...args));
  }

  async #peek(id: string): Promise<SessionRecord | null> {
    this.#touches.flush();
    return decodeStored(id, await this.#client.hmget(this.#keys.session(id), ...FIELDS));
  }

  /** The subject's sessions not known to have ended (score above −inf), oldest first. */
  #liveInSubject(subject: string): Promise<string[]> {
    return this.#client.zrangebyscore(this.#keys.subject(subject), '(-inf', '+inf');
  }

  /** Visits every bucket once, starting at a different one each call so concurrent claimers spread. */
  async #walkBuckets(visit: (b: number) => Promise<void>): Promise<void> {
    const n = this.#keys.buckets;
    const start = this.#cursor++ % n;
    for (let i = 0; i < n; i++) await visit((start + i) % n);
  }

  /** The safety-net TTL: the session's absolute deadline plus the retention of ended sessions. */
  #ttl(record: SessionRecord, now: number): number {
    return Math.max(1000, Math.ceil(record.absoluteExpiresAt + this.#retentionMs - now));
  }

  async #afterEnds(records: SessionRecord[], now: number): Promise<void> {
    await this.#repair(Promise.all([this.#indexEnds(records, now), this.#forgetEnded(records)]));
  }

  /** Moves ended sessions from the expiry (and warning) index to the purge index, bucket by bucket. */
  #indexEnds(records: SessionRecord[], now: number): Promise<unknown> {
    const actions: BucketActions = new Map();
    for (const record of records) {
      const b = this.#keys.bucketOf(record.id);
      const list = actions.get(b) ?? [];
      list.push('end', record.id, record.policy, record.endedAt ?? now, this.#ttl(record, now));
      actions.set(b, list);
    }
    return this.#applyBuckets(actions, '');
  }

  #applyBuckets(actions: BucketActions, lease: number | ''): Promise<unknown> {
    return Promise.all(
      [...actions].map(([b, args]) => {
        if (args.length === 0) return undefined;
        const { exp, warn, ended, live } = this.#keys.bucket(b);
        return this.#scripts.bucketApply(exp, warn, ended, live, lease, ...args);
      }),
    );
  }

  #forgetEnded(records: SessionRecord[]): Promise<unknown> {
    const bySubject = new Map<string, string[]>();
    for (const record of records) {
      const ids = bySubject.get(record.subject) ?? [];
      ids.push(record.id);
      bySubject.set(record.subject, ids);
    }
    return Promise.all([...bySubject].map(([subject, ids]) => this.#forget(subject, 'ended', ids)));
  }

  async #forget(subject: string, mode: 'ended' | 'gone', ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#scripts.subjectForget(this.#keys.subject(subject), mode, ...ids);
  }
}
