import { DeadlineIndex } from './deadline-index.js';
import { applyTouch, endSession, liveness, settle, type TouchParams } from './lifecycle.js';
import { expiresAt, type SessionRecord } from './session.js';
import type { CreateOptions, ManualEndReason, SessionLookup, Store, TouchResult } from './store.js';

/**
 * A store in this process's memory: for tests and throwaway single-process use. It is also the
 * plainest statement of the Store contract, applying lifecycle.ts directly.
 */
export class MemoryStore implements Store {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #bySubject = new Map<string, Set<string>>();
  readonly #expiries = new DeadlineIndex();
  readonly #warnings = new DeadlineIndex();
  readonly #endings = new DeadlineIndex();
  #closed = false;

  async create(record: SessionRecord, { maxSessions }: CreateOptions): Promise<{ evicted: SessionRecord[] }> {
    this.#check();
    const evicted: SessionRecord[] = [];
    if (maxSessions !== null) {
      const live = this.#liveOf(record.subject, record.createdAt);
      for (const old of live.slice(0, Math.max(0, live.length - maxSessions + 1))) {
        evicted.push(this.#save(endSession(old, 'evicted', record.createdAt)));
      }
    }
    this.#save({ ...record });
    let ids = this.#bySubject.get(record.subject);
    if (ids === undefined) {
      ids = new Set();
      this.#bySubject.set(record.subject, ids);
    }
    ids.add(record.id);
    return { evicted };
  }

  async get(id: string, now: number): Promise<SessionLookup> {
    this.#check();
    return this.#lookup(id, now);
  }

  async touch(id: string, params: TouchParams): Promise<TouchResult> {
    this.#check();
    const record = this.#sessions.get(id);
    if (record === undefined) return { kind: 'unknown' };
    const decision = applyTouch(record, params);
    if (decision.kind === 'ended') {
      if (decision.endedNow) this.#save(decision.record);
      return { kind: 'ended', record: decision.record, endedNow: decision.endedNow };
    }
    if (decision.write) this.#save(decision.record);
    return { kind: 'live', record: decision.record, extendedFromWarning: decision.extendedFromWarning };
  }

  async end(id: string, reason: ManualEndReason, now: number): Promise<SessionLookup> {
    this.#check();
    const lookup = this.#lookup(id, now);
    if (lookup.kind !== 'live') return lookup;
    return { kind: 'ended', record: this.#save(endSession(lookup.record, reason, now)), endedNow: true };
  }

  async endAllForSubject(subject: string, reason: ManualEndReason, now: number): Promise<SessionRecord[]> {
    this.#check();
    return this.#liveOf(subject, now).map((record) => {
      this.#save(endSession(record, reason, now));
      return record;
    });
  }

  async listBySubject(subject: string, now: number): Promise<SessionRecord[]> {
    this.#check();
    const ids = [...(this.#bySubject.get(subject) ?? [])];
    return ids
      .flatMap((id) => {
        const record = this.#sessions.get(id);
        return record === undefined ? [] : [settle(record, now).record];
      })
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async claimExpired(now: number, limit: number): Promise<SessionRecord[]> {
    this.#check();
    const claimed: SessionRecord[] = [];
    for (const id of this.#expiries.candidates(now)) {
      if (claimed.length >= limit) break;
      const lookup = this.#lookup(id, now);
      if (lookup.kind === 'ended' && lookup.endedNow) claimed.push(lookup.record);
    }
    return claimed;
  }

  async claimWarnings(now: number, limit: number): Promise<SessionRecord[]> {
    this.#check();
    const claimed: SessionRecord[] = [];
    for (const id of this.#warnings.candidates(now)) {
      if (claimed.length >= limit) break;
      const record = this.#sessions.get(id);
      if (record === undefined || record.warnAt === null || record.warnAt > now) continue;
      if (settle(record, now).endedNow) continue; // past its deadline: the expiry claim reports it
      claimed.push(this.#save({ ...record, warnAt: null }));
    }
    return claimed;
  }

  async purgeEnded(endedBefore: number, limit: number): Promise<number> {
    this.#check();
    let purged = 0;
    for (const id of this.#endings.candidates(endedBefore)) {
      if (purged >= limit) break;
      const record = this.#sessions.get(id);
      if (record === undefined || record.endedAt === null || record.endedAt >= endedBefore) continue;
      this.#remove(record);
      purged++;
    }
    return purged;
  }

  async countLive(now: number): Promise<Record<string, number>> {
    this.#check();
    const counts: Record<string, number> = {};
    for (const record of this.#sessions.values()) {
      if (record.endedAt === null && now < expiresAt(record))
        counts[record.policy] = (counts[record.policy] ?? 0) + 1;
    }
    return counts;
  }

  async ping(): Promise<void> {
    this.#check();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #check(): void {
    if (this.#closed) throw new Error('MemoryStore is closed');
  }

  #lookup(id: string, now: number): SessionLookup {
    const stored = this.#sessions.get(id);
    if (stored === undefined) return { kind: 'unknown' };
    const { record, endedNow } = settle(stored, now);
    if (endedNow) this.#save(record);
    return record.endedAt === null ? { kind: 'live', record } : { kind: 'ended', record, endedNow };
  }

  /**
   * Live sessions of a subject at `now`, oldest first. Expired ones are left for the path that
   * reports them (a read or the sweeper), so their end still yields its one event.
   */
  #liveOf(subject: string, now: number): SessionRecord[] {
    const live: SessionRecord[] = [];
    for (const id of this.#bySubject.get(subject) ?? []) {
      const record = this.#sessions.get(id);
      if (record !== undefined && liveness(record, now).alive) live.push(record);
    }
    return live.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Stores a record and keeps the three deadline indexes in step with it. */
  #save(record: SessionRecord): SessionRecord {
    this.#sessions.set(record.id, record);
    if (record.endedAt === null) {
      this.#expiries.set(record.id, expiresAt(record));
      if (record.warnAt === null) this.#warnings.delete(record.id);
      else this.#warnings.set(record.id, record.warnAt);
    } else {
      this.#expiries.delete(record.id);
      this.#warnings.delete(record.id);
      this.#endings.set(record.id, record.endedAt);
    }
    return record;
  }

  #remove(record: SessionRecord): void {
    this.#sessions.delete(record.id);
    this.#endings.delete(record.id);
    const ids = this.#bySubject.get(record.subject);
    ids?.delete(record.id);
    if (ids?.size === 0) this.#bySubject.delete(record.subject);
  }
}
