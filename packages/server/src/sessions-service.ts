import {
  type Attributes,
  type Clock,
  createSession,
  endEvent,
  endSession,
  type ManualEndReason,
  newSessionToken,
  type Policy,
  SessionEndedError,
  type SessionEvents,
  type SessionLookup,
  type SessionRecord,
  type Signal,
  type Store,
  sessionIdFor,
  touchParams,
  ValidationError,
  type VigilConfig,
  VigilError,
} from '@vigil/core';

export interface SessionServiceOptions {
  store: Store;
  config: VigilConfig;
  clock: Clock;
  events: SessionEvents;
  /** Session ids whose policy name is remembered, to save a read per heartbeat (default 10 000). */
  policyCacheSize?: number;
}

/** Session ids are base64url SHA-256 (tokens.ts); anything else cannot be one and needs no lookup. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * What the routes do with sessions, in one place: every store answer goes through here, so every
 * `endedNow: true` yields exactly one event (the sweeper reports the ends nobody read first).
 */
export class SessionService {
  readonly #store: Store;
  readonly #config: VigilConfig;
  readonly #events: SessionEvents;
  readonly #clock: Clock;
  /** id → policy name; a session's policy never changes, so this is safe across nodes. */
  readonly #policyNames = new Map<string, string>();
  readonly #policyCacheSize: number;

  constructor({ store, config, clock, events, policyCacheSize = 10_000 }: SessionServiceOptions) {
    this.#store = store;
    this.#config = config;
    this.#clock = clock;
    this.#events = events;
    this.#policyCacheSize = policyCacheSize;
  }

  now(): number {
    return this.#clock.now();
  }

  /** The policy a stored session runs under; `default` if its own has left the config since. */
  policyFor(name: string): Policy {
    const policy = this.#config.policies.get(name) ?? this.#config.policies.get('default');
    if (policy === undefined) throw new Error('config has no default policy');
    return policy;
  }

  async create(input: {
    subject: string;
    policy?: string;
    attributes?: Attributes;
  }): Promise<{ token: string; record: SessionRecord }> {
    const policyName = input.policy ?? 'default';
    const policy = this.#config.policies.get(policyName);
    if (policy === undefined) {
      throw new ValidationError([
        { field: 'body.policy', rule: 'unknown_policy', message: 'is not a policy of this service' },
      ]);
    }
    const now = this.now();
    const token = newSessionToken();
    const record = createSession({
      id: sessionIdFor(token),
      subject: input.subject,
      policy,
      attributes: input.attributes ?? {},
      now,
    });
    const { evicted } = await this.#store.create(record, { maxSessions: policy.maxSessions });
    this.#remember(record.id, record.policy);
    for (const old of evicted) {
      this.#policyNames.delete(old.id);
      this.#events.emit(endEvent(old, now));
    }
    this.#events.emit({ type: 'session.created', session: record, at: now });
    return { token, record };
  }

  /** The live session behind a token, touching nothing; else `unauthenticated` / `session_ended`. */
  async status(id: string, now = this.now()): Promise<{ record: SessionRecord; policy: Policy }> {
    const record = this.#liveOrThrow(await this.#store.get(id, now), now);
    return { record, policy: this.policyFor(record.policy) };
  }

  /** Applies a heartbeat. A signal after a deadline never revives: the store ends the session instead. */
  async heartbeat(
    id: string,
    signal: Signal,
    params: Record<string, unknown> | undefined,
    now = this.now(),
  ): Promise<{ record: SessionRecord; policy: Policy }> {
    const result = await this.#touch(id, signal, now);
    if (signal === 'sleeping') {
      this.#events.emit({ type: 'heartbeat.sleeping', session: result.record, params, at: now });
    }
    return result;
  }

  /**
   * A forwarded request (forward-auth): the same touch as a heartbeat, coalesced the same way, but
   * a passive one (`sleeping`) is not reported as a sleeping heartbeat — it is every poll, not a beat.
   */
  async authorize(
    id: string,
    signal: Signal,
    now = this.now(),
  ): Promise<{ record: SessionRecord; policy: Policy }> {
    return this.#touch(id, signal, now);
  }

  async #touch(id: string, signal: Signal, now: number): Promise<{ record: SessionRecord; policy: Policy }> {
    let policyName = this.#policyNames.get(id);
    if (policyName === undefined) {
      policyName = this.#liveOrThrow(await this.#store.get(id, now), now).policy;
      this.#remember(id, policyName);
    }
    const policy = this.policyFor(policyName);
    const result = await this.#store.touch(id, touchParams(policy, signal, now));
    if (result.kind !== 'live') this.#refuse(id, result, now);
    if (result.extendedFromWarning) {
      this.#events.emit({ type: 'session.extended', session: result.record, at: now });
    }
    return { record: result.record, policy: this.policyFor(result.record.policy) };
  }

  /** Logs a session out; `unauthenticated` / `session_ended` if there was nothing live to end. */
  async logout(id: string, now = this.now()): Promise<void> {
    const lookup = await this.#store.end(id, 'logout', now);
    if (lookup.kind === 'ended' && lookup.endedNow && lookup.record.reason === 'logout') {
      this.#ended(lookup.record, now);
      return;
    }
    if (lookup.kind === 'live') throw new Error('store.end answered that the session still lives');
    this.#refuse(id, lookup, now);
  }

  /** A session by id for the backend, live or ended (until purged); null if unknown. */
  async find(id: string, now = this.now()): Promise<SessionRecord | null> {
    if (!SESSION_ID.test(id)) return null;
    const lookup = await this.#store.get(id, now);
    if (lookup.kind === 'unknown') return null;
    if (lookup.kind === 'ended' && lookup.endedNow) this.#ended(lookup.record, now);
    return lookup.record;
  }

  /** Revokes a session; idempotent for an ended one; false if unknown. */
  async revoke(id: string, now = this.now()): Promise<boolean> {
    return this.end(id, 'revoked', now);
  }

  /**
   * Ends a session for `reason` (`revoked` by an admin, `upstream_rejected` by the relay's upstream);
   * idempotent for an ended one, which keeps its first reason; false if unknown.
   */
  async end(id: string, reason: ManualEndReason, now = this.now()): Promise<boolean> {
    if (!SESSION_ID.test(id)) return false;
    const lookup = await this.#store.end(id, reason, now);
    if (lookup.kind === 'unknown') return false;
    if (lookup.kind === 'ended' && lookup.endedNow) this.#ended(lookup.record, now);
    return true;
  }

  async list(subject: string, now = this.now()): Promise<SessionRecord[]> {
    return this.#store.listBySubject(subject, now);
  }

  /** Ends every live session of a subject ("log out everywhere"); returns how many were live. */
  async revokeAll(subject: string, now = this.now()): Promise<number> {
    const ended = await this.#store.endAllForSubject(subject, 'revoked', now);
    for (const record of ended) {
      // Stores return the records as they were before the call (live): the event carries the end.
      this.#ended(record.endedAt === null ? endSession(record, 'revoked', now) : record, now);
    }
    return ended.length;
  }

  #liveOrThrow(lookup: SessionLookup, now: number): SessionRecord {
    if (lookup.kind === 'live') return lookup.record;
    return this.#refuse(lookup.kind === 'unknown' ? null : lookup.record.id, lookup, now);
  }

  /** The answer for a token whose session is not live: `unauthenticated`, or why and when it ended. */
  #refuse(id: string | null, lookup: Exclude<SessionLookup, { kind: 'live' }>, now: number): never {
    if (id !== null) this.#policyNames.delete(id);
    if (lookup.kind === 'unknown') throw new VigilError('unauthenticated', 'Unknown session token.');
    if (lookup.endedNow) this.#ended(lookup.record, now);
    const { reason, endedAt } = lookup.record;
    if (reason === null || endedAt === null) throw new Error('store answered ended without reason');
    throw new SessionEndedError(reason, endedAt);
  }

  #ended(record: SessionRecord, now: number): void {
    this.#policyNames.delete(record.id);
    this.#events.emit(endEvent(record, now));
  }

  #remember(id: string, policyName: string): void {
    if (this.#policyNames.size >= this.#policyCacheSize) {
      const oldest = this.#policyNames.keys().next();
      if (!oldest.done) this.#policyNames.delete(oldest.value);
    }
    this.#policyNames.set(id, policyName);
  }
}
