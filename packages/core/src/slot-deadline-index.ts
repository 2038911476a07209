/** Each slot's neighbours on the list it is on (-1: none). The owner grows the arrays, never shrinks. */
export interface SlotLinks {
  prev: Int32Array;
  next: Int32Array;
}

/**
 * DeadlineIndex (deadline-index.ts) for a store that keeps sessions in numbered slots: the same
 * one-second buckets and the same walk from the last emptied bucket, so a claim costs what is due,
 * but each bucket is a doubly linked list through the slots' own link arrays. An indexed session
 * costs 8 bytes instead of a Set entry and a Map entry. The caller passes the time a slot was
 * added at when it removes it (the store keeps that time anyway), and puts a slot on at most one
 * index per link arrays.
 */
export class SlotDeadlineIndex {
  readonly #links: SlotLinks;
  /** Bucket (second) → the slot added last to it. */
  readonly #heads = new Map<number, number>();
  #cursor: number | null = null;

  constructor(links: SlotLinks) {
    this.#links = links;
  }

  add(slot: number, at: number): void {
    const bucket = Math.floor(at / 1000);
    const { prev, next } = this.#links;
    const head = this.#heads.get(bucket);
    prev[slot] = -1;
    next[slot] = head ?? -1;
    if (head !== undefined) prev[head] = slot;
    this.#heads.set(bucket, slot);
    if (this.#cursor === null || bucket < this.#cursor) this.#cursor = bucket;
  }

  /** Takes `slot` out of the bucket of `at`, the time it was added at. */
  remove(slot: number, at: number): void {
    const bucket = Math.floor(at / 1000);
    const { prev, next } = this.#links;
    const before = prev[slot] ?? -1;
    const after = next[slot] ?? -1;
    if (before !== -1) next[before] = after;
    else if (after === -1) this.#heads.delete(bucket);
    else this.#heads.set(bucket, after);
    if (after !== -1) prev[after] = before;
    prev[slot] = -1;
    next[slot] = -1;
  }

  /**
   * Slots whose bucket is at or before `now`'s, earliest bucket first and in the order they were
   * added within one, for the caller to check the exact time against; it removes or moves those it
   * handles. Each bucket is read whole before its first slot is yielded, so that may happen freely.
   */
  *candidates(now: number): Generator<number> {
    const last = Math.floor(now / 1000);
    if (this.#cursor === null) return;
    for (let bucket = this.#cursor; bucket <= last; bucket++) {
      const head = this.#heads.get(bucket);
      if (head !== undefined) {
        const slots: number[] = [];
        const { next } = this.#links;
        for (let slot = head; slot !== -1; slot = next[slot] ?? -1) slots.push(slot);
        for (let i = slots.length - 1; i >= 0; i--) yield slots[i] as number;
      }
      // Buckets before the current second are emptied by the caller; only then may the cursor pass.
      if (bucket < last && !this.#heads.has(bucket)) this.#cursor = bucket + 1;
    }
  }
}
