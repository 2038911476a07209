import {
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  type AuditPosition,
  type AuditQuery,
  auditQueryStart,
  checkAuditEntry,
  checkAuditLimit,
  compareAuditPositions,
  pageOf,
} from './audit-log.js';

/** Entries in the log's order (oldest first), found by binary search. */
class OrderedEntries {
  readonly items: AuditEntry[] = [];

  /** The index of the first entry at or after `position`. */
  lowerBound(position: AuditPosition): number {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareAuditPositions(this.items[middle] as AuditEntry, position) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  insert(entry: AuditEntry): void {
    const last = this.items[this.items.length - 1];
    // Ends arrive roughly in time order: appending at the end is the common case.
    if (last === undefined || compareAuditPositions(last, entry) < 0) this.items.push(entry);
    else this.items.splice(this.lowerBound(entry), 0, entry);
  }

  /** Up to `count` entries before `position` (or from the newest), newest first. */
  before(position: AuditPosition | undefined, count: number): AuditEntry[] {
    const end = position === undefined ? this.items.length : this.lowerBound(position);
    return this.items.slice(Math.max(0, end - count), end).reverse();
  }
}

/**
 * The audit log in this process's memory: for tests, the memory store, and a server given no other
 * log (each node then keeps only the ends it saw). Memory is bounded by what `purge` leaves.
 */
export class MemoryAuditLog implements AuditLog {
  readonly #all = new OrderedEntries();
  readonly #bySubject = new Map<string, OrderedEntries>();
  readonly #ids = new Set<string>();
  #closed = false;

  async append(entries: readonly AuditEntry[]): Promise<void> {
    this.#check();
    for (const entry of entries) checkAuditEntry(entry);
    for (const entry of entries) {
      if (this.#ids.has(entry.sessionId)) continue;
      const copy = { ...entry };
      this.#ids.add(copy.sessionId);
      this.#all.insert(copy);
      let own = this.#bySubject.get(copy.subject);
      if (own === undefined) {
        own = new OrderedEntries();
        this.#bySubject.set(copy.subject, own);
      }
      own.insert(copy);
    }
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    this.#check();
    checkAuditLimit(query.limit);
    const start = auditQueryStart(query);
    const source = query.subject === undefined ? this.#all : this.#bySubject.get(query.subject);
    const fetched = source?.before(start, query.limit + 1) ?? [];
    return pageOf(
      fetched.map((entry) => ({ ...entry })),
      query.limit,
    );
  }

  async purge(olderThan: number): Promise<number> {
    this.#check();
    const count = this.#all.lowerBound({ endedAt: olderThan, sessionId: '' });
    for (const entry of this.#all.items.splice(0, count)) {
      this.#ids.delete(entry.sessionId);
      const own = this.#bySubject.get(entry.subject);
      if (own === undefined) continue;
      // The subject's oldest entries are exactly the ones going: they sit at its front.
      own.items.splice(0, own.lowerBound({ endedAt: olderThan, sessionId: '' }));
      if (own.items.length === 0) this.#bySubject.delete(entry.subject);
    }
    return count;
  }

  /** How many entries are kept (tests, and the memory bound). */
  get size(): number {
    return this.#all.items.length;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #check(): void {
    if (this.#closed) throw new Error('MemoryAuditLog: used after close');
  }
}
