import type { EndReason } from './errors.js';
import { applyTouch, endSession, liveness, settle, type TouchParams } from './lifecycle.js';
import { MemoryTokenStore } from './memory-token-store.js';
import type { Attributes, SessionRecord } from './session.js';
import { SlotDeadlineIndex, type SlotLinks } from './slot-deadline-index.js';
import { SlotHashIndex } from './slot-hash-index.js';
import { SlotTimes, TIME, FIELDS as TIME_FIELDS } from './slot-times.js';
import type { CreateOptions, ManualEndReason, SessionLookup, Store, TouchResult } from './store.js';

const FIRST_CAPACITY = 1024;
/** Times, three pairs of list links, the policy and the end reason. */
const BYTES_PER_SLOT = SlotTimes.bytesPerSlot + 3 * 2 * 4 + 2 + 1;

/**
 * A store in this process's memory: for tests and throwaway single-process use. It is also the
 * plainest statement of the Store contract, applying lifecycle.ts directly.
 *
 * Memory is what a live session costs, so sessions are not kept as objects: each has a slot
 * number, and its fields sit at that index in typed columns (times as 32-bit offsets from its
 * creation, slot-times.ts; the policy and the end reason as small numbers naming interned strings),
 * found from its id through a table of slot numbers (slot-hash-index.ts). Its deadline, warning and
 * purge index entries are links through the same slots (slot-deadline-index.ts), and so is its
 * subject's list. About 215 bytes of heap per live session (bench/memory-sessions.mjs) instead of
 * some 800 for a record object in Maps and Sets; records are made when a caller asks for one.
 */
export class MemoryStore implements Store {
  /** Slot → id and subject; undefined for a free slot. A subject's text is shared by its slots. */
  readonly #ids: (string | undefined)[] = [];
  readonly #subjects: (string | undefined)[] = [];
  /** Id → slot. */
  readonly #slotOf = new SlotHashIndex((slot) => this.#ids[slot]);
  /** Subject → its newest session's slot; the others follow through `#subjectLinks`. */
  readonly #newestOf = new SlotHashIndex((slot) => this.#subjects[slot]);
  readonly #subjectLinks: SlotLinks = emptyLinks();

  /** Its `mark` is `warnAt` while live (NaN for none), `endedAt` once ended: an ended session never warns. */
  readonly #times = new SlotTimes();
  /** Index into `#policies`. */
  #policy = new Uint16Array(0);
  /** 0 while live, else 1 + index into `#reasons`. */
  #reason = new Uint8Array(0);
  readonly #policies: string[] = [];
  readonly #policyIds = new Map<string, number>();
  readonly #reasons: (EndReason | null)[] = [];
  /** Only sessions that have attributes (most have none). */
  readonly #attributes = new Map<number, Attributes>();

  /** Live sessions by deadline and ended ones by end (a slot is on one of the two), and warnings. */
  readonly #endLinks: SlotLinks = emptyLinks();
  readonly #warnLinks: SlotLinks = emptyLinks();
  readonly #expiries = new SlotDeadlineIndex(this.#endLinks);
  readonly #endings = new SlotDeadlineIndex(this.#endLinks);
  readonly #warnings = new SlotDeadlineIndex(this.#warnLinks);

  #capacity = 0;
  /** Slots below this have been used; freed ones wait in `#free`. */
  #top = 0;
  readonly #free: number[] = [];
  readonly #tokens = new MemoryTokenStore();
  #closed = false;

  /** Token mode's state (refresh-token families, signing keys), kept beside the sessions. */
  tokenStore(): MemoryTokenStore {
    return this.#tokens;
  }

  async create(record: SessionRecord, { maxSessions }: CreateOptions): Promise<{ evicted: SessionRecord[] }> {
    this.#check();
    const evicted: SessionRecord[] = [];
    if (maxSessions !== null) {
      const live = this.#liveOf(record.subject, record.createdAt);
      for (const slot of live.slice(0, Math.max(0, live.length - maxSessions + 1))) {
        evicted.push(this.#write(slot, endSession(this.#record(slot), 'evicted', record.createdAt)));
      }
    }
    const existing = this.#slotOf.get(record.id);
    if (existing !== undefined) this.#remove(existing);

    const slot = this.#allocate();
    const newest = this.#newestOf.get(record.subject);
    this.#ids[slot] = record.id;
    this.#subjects[slot] = newest === undefined ? record.subject : this.#subjects[newest];
    this.#slotOf.set(record.id, slot);
    const { prev, next } = this.#subjectLinks;
    prev[slot] = -1;
    next[slot] = newest ?? -1;
    if (newest !== undefined) prev[newest] = slot;
    this.#newestOf.set(record.subject, slot);
    if (hasKeys(record.attributes)) this.#attributes.set(slot, record.attributes);
    this.#put(slot, record);
    this.#index(slot);
    return { evicted };
  }

  async get(id: string, now: number): Promise<SessionLookup> {
    this.#check();
    const slot = this.#slotOf.get(id);
    return slot === undefined ? { kind: 'unknown' } : this.#lookup(slot, now);
  }

  async touch(id: string, params: TouchParams): Promise<TouchResult> {
    this.#check();
    const slot = this.#slotOf.get(id);
    if (slot === undefined) return { kind: 'unknown' };
    const decision = applyTouch(this.#record(slot), params);
    if (decision.kind === 'ended') {
      if (decision.endedNow) this.#write(slot, decision.record);
      return { kind: 'ended', record: decision.record, endedNow: decision.endedNow };
    }
    if (decision.write) this.#write(slot, decision.record);
    return { kind: 'live', record: decision.record, extendedFromWarning: decision.extendedFromWarning };
  }

  async end(id: string, reason: ManualEndReason, now: number): Promise<SessionLookup> {
    this.#check();
    const slot = this.#slotOf.get(id);
    if (slot === undefined) return { kind: 'unknown' };
    const lookup = this.#lookup(slot, now);
    if (lookup.kind !== 'live') return lookup;
    return {
      kind: 'ended',
      record: this.#write(slot, endSession(lookup.record, reason, now)),
      endedNow: true,
    };
  }

  async endAllForSubject(subject: string, reason: ManualEndReason, now: number): Promise<SessionRecord[]> {
    this.#check();
    return this.#liveOf(subject, now).map((slot) => {
      const record = this.#record(slot);
      this.#write(slot, endSession(record, reason, now));
      return record;
    });
  }

  async listBySubject(subject: string, now: number): Promise<SessionRecord[]> {
    this.#check();
    return this.#slotsOf(subject)
      .map((slot) => settle(this.#record(slot), now).record)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async claimExpired(now: number, limit: number): Promise<SessionRecord[]> {
    this.#check();
    const claimed: SessionRecord[] = [];
    for (const slot of this.#expiries.candidates(now)) {
      if (claimed.length >= limit) break;
      const lookup = this.#lookup(slot, now);
      if (lookup.kind === 'ended' && lookup.endedNow) claimed.push(lookup.record);
    }
    return claimed;
  }

  async claimWarnings(now: number, limit: number): Promise<SessionRecord[]> {
    this.#check();
    const claimed: SessionRecord[] = [];
    for (const slot of this.#warnings.candidates(now)) {
      if (claimed.length >= limit) break;
      const record = this.#record(slot);
      if (record.warnAt === null || record.warnAt > now) continue;
      if (settle(record, now).endedNow) continue; // past its deadline: the expiry claim reports it
      claimed.push(this.#write(slot, { ...record, warnAt: null }));
    }
    return claimed;
  }

  async purgeEnded(endedBefore: number, limit: number): Promise<number> {
    this.#check();
    let purged = 0;
    for (const slot of this.#endings.candidates(endedBefore)) {
      if (purged >= limit) break;
      if (this.#reason[slot] === 0 || this.#times.get(slot, TIME.mark) >= endedBefore) continue;
      this.#remove(slot);
      purged++;
    }
    return purged;
  }

  async countLive(now: number): Promise<Record<string, number>> {
    this.#check();
    const counts: Record<string, number> = {};
    for (let slot = 0; slot < this.#top; slot++) {
      if (this.#ids[slot] === undefined || this.#reason[slot] !== 0 || now >= this.#deadline(slot)) continue;
      const policy = this.#policies[this.#policy[slot] ?? 0] ?? '';
      counts[policy] = (counts[policy] ?? 0) + 1;
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

  #lookup(slot: number, now: number): SessionLookup {
    const { record, endedNow } = settle(this.#record(slot), now);
    if (endedNow) this.#write(slot, record);
    return record.endedAt === null ? { kind: 'live', record } : { kind: 'ended', record, endedNow };
  }

  /** A subject's slots in the order they were created (the list holds the newest first). */
  #slotsOf(subject: string): number[] {
    const slots: number[] = [];
    const { next } = this.#subjectLinks;
    for (let slot = this.#newestOf.get(subject) ?? -1; slot !== -1; slot = next[slot] ?? -1) slots.push(slot);
    return slots.reverse();
  }

  /**
   * Live sessions of a subject at `now`, oldest first. Expired ones are left for the path that
   * reports them (a read or the sweeper), so their end still yields its one event.
   */
  #liveOf(subject: string, now: number): number[] {
    return this.#slotsOf(subject)
      .filter((slot) => liveness(this.#record(slot), now).alive)
      .sort((a, b) => this.#times.createdAt(a) - this.#times.createdAt(b));
  }

  #record(slot: number): SessionRecord {
    const live = this.#reason[slot] === 0;
    const times = this.#times;
    const mark = times.get(slot, TIME.mark);
    return {
      id: this.#ids[slot] ?? '',
      subject: this.#subjects[slot] ?? '',
      policy: this.#policies[this.#policy[slot] ?? 0] ?? '',
      createdAt: times.createdAt(slot),
      lastActivityAt: times.get(slot, TIME.lastActivity),
      lastSeenAt: times.get(slot, TIME.lastSeen),
      idleExpiresAt: times.get(slot, TIME.idleExpires),
      absoluteExpiresAt: times.get(slot, TIME.absoluteExpires),
      warnAt: live && !Number.isNaN(mark) ? mark : null,
      attributes: this.#attributes.get(slot) ?? {},
      endedAt: live ? null : mark,
      reason: live ? null : (this.#reasons[(this.#reason[slot] ?? 1) - 1] ?? null),
    };
  }

  /** Stores what the lifecycle decided for a stored session, keeping its index entries in step. */
  #write(slot: number, record: SessionRecord): SessionRecord {
    this.#unindex(slot);
    this.#put(slot, record);
    this.#index(slot);
    return record;
  }

  /** The columns of a record (all but id, subject and attributes, which never change). */
  #put(slot: number, record: SessionRecord): void {
    this.#policy[slot] = intern(record.policy, this.#policies, this.#policyIds);
    let mark: number;
    if (record.endedAt === null) {
      this.#reason[slot] = 0;
      mark = record.warnAt ?? Number.NaN;
    } else {
      let reason = this.#reasons.indexOf(record.reason);
      if (reason < 0) reason = this.#reasons.push(record.reason) - 1;
      this.#reason[slot] = 1 + reason;
      mark = record.endedAt;
    }
    this.#times.put(slot, record.createdAt, [
      record.lastActivityAt,
      record.lastSeenAt,
      record.idleExpiresAt,
      record.absoluteExpiresAt,
      mark,
    ]);
  }

  #deadline(slot: number): number {
    return Math.min(this.#times.get(slot, TIME.idleExpires), this.#times.get(slot, TIME.absoluteExpires));
  }

  /** Live: on the expiry index, and on the warning index while a warning is due. Ended: on the purge index. */
  #index(slot: number): void {
    const mark = this.#times.get(slot, TIME.mark);
    if (this.#reason[slot] !== 0) {
      this.#endings.add(slot, mark);
      return;
    }
    this.#expiries.add(slot, this.#deadline(slot));
    if (!Number.isNaN(mark)) this.#warnings.add(slot, mark);
  }

  #unindex(slot: number): void {
    const mark = this.#times.get(slot, TIME.mark);
    if (this.#reason[slot] !== 0) {
      this.#endings.remove(slot, mark);
      return;
    }
    this.#expiries.remove(slot, this.#deadline(slot));
    if (!Number.isNaN(mark)) this.#warnings.remove(slot, mark);
  }

  #remove(slot: number): void {
    this.#unindex(slot);
    const id = this.#ids[slot];
    const subject = this.#subjects[slot];
    if (id !== undefined) this.#slotOf.delete(id);
    const { prev, next } = this.#subjectLinks;
    const before = prev[slot] ?? -1;
    const after = next[slot] ?? -1;
    if (before !== -1) next[before] = after;
    else if (subject !== undefined) {
      if (after === -1) this.#newestOf.delete(subject);
      else this.#newestOf.set(subject, after);
    }
    if (after !== -1) prev[after] = before;
    this.#ids[slot] = undefined;
    this.#subjects[slot] = undefined;
    this.#attributes.delete(slot);
    this.#times.clear(slot);
    this.#free.push(slot);
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#top === this.#capacity) this.#grow(Math.max(FIRST_CAPACITY, this.#capacity * 2));
    return this.#top++;
  }

  /**
   * Moves every column to arrays of `capacity` slots, all views of one new ArrayBuffer: each growth
   * is then a single allocation twice the size of the last, which the C allocator maps afresh and
   * gives back whole when the old one is freed. Columns allocated one by one left freed memory
   * in the process: 16.5 MB more RSS for this growth to a million slots, measured alone.
   */
  #grow(capacity: number): void {
    const buffer = new ArrayBuffer(capacity * BYTES_PER_SLOT);
    let offset = 0;
    // Widest elements first, so that every view starts aligned to its element size.
    const take = <T>(
      View: new (buffer: ArrayBuffer, offset: number, length: number) => T,
      length: number,
      size: number,
    ): T => {
      const view = new View(buffer, offset, length);
      offset += length * size;
      return view;
    };
    this.#times.grow(take(Float64Array, capacity, 8), take(Uint32Array, capacity * TIME_FIELDS, 4));
    for (const links of [this.#subjectLinks, this.#endLinks, this.#warnLinks]) {
      links.prev = moved(links.prev, take(Int32Array, capacity, 4), -1);
      links.next = moved(links.next, take(Int32Array, capacity, 4), -1);
    }
    this.#policy = moved(this.#policy, take(Uint16Array, capacity, 2), 0);
    this.#reason = moved(this.#reason, take(Uint8Array, capacity, 1), 0);
    this.#capacity = capacity;
  }
}

function emptyLinks(): SlotLinks {
  return { prev: new Int32Array(0), next: new Int32Array(0) };
}

/** `bigger` holding what `old` held, and `fill` in the slots beyond. */
function moved<T extends Int32Array | Uint16Array | Uint8Array>(old: T, bigger: T, fill: number): T {
  bigger.set(old);
  if (fill !== 0) bigger.fill(fill, old.length);
  return bigger;
}

function intern(name: string, names: string[], ids: Map<string, number>): number {
  let id = ids.get(name);
  if (id === undefined) {
    id = names.push(name) - 1;
    ids.set(name, id);
  }
  return id;
}

function hasKeys(attributes: Attributes): boolean {
  for (const _ in attributes) return true;
  return false;
}
