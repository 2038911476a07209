/**
 * Finds ids whose deadline has passed at a cost that grows with what is due, not with everything
 * indexed: ids sit in one-second buckets, and a claim walks only the buckets between the last
 * claim and now. Each id is in at most one bucket, so memory is bounded by what is indexed.
 */
export class DeadlineIndex {
  readonly #buckets = new Map<number, Set<string>>();
  readonly #bucketOf = new Map<string, number>();
  #cursor: number | null = null;

  get size(): number {
    return this.#bucketOf.size;
  }

  set(id: string, at: number): void {
    const bucket = Math.floor(at / 1000);
    const current = this.#bucketOf.get(id);
    if (current === bucket) return;
    if (current !== undefined) this.#removeFrom(current, id);
    let ids = this.#buckets.get(bucket);
    if (ids === undefined) {
      ids = new Set();
      this.#buckets.set(bucket, ids);
    }
    ids.add(id);
    this.#bucketOf.set(id, bucket);
    if (this.#cursor === null || bucket < this.#cursor) this.#cursor = bucket;
  }

  delete(id: string): void {
    const bucket = this.#bucketOf.get(id);
    if (bucket === undefined) return;
    this.#removeFrom(bucket, id);
    this.#bucketOf.delete(id);
  }

  /**
   * Ids whose bucket is at or before `now`'s, earliest first, for the caller to check the exact
   * time against; the caller `delete`s or re-`set`s those it handles.
   */
  *candidates(now: number): Generator<string> {
    const last = Math.floor(now / 1000);
    if (this.#cursor === null) return;
    for (let bucket = this.#cursor; bucket <= last; bucket++) {
      const ids = this.#buckets.get(bucket);
      if (ids !== undefined) yield* [...ids];
      // Buckets before the current second are emptied by the caller; only then may the cursor pass.
      if (bucket < last && !this.#buckets.has(bucket)) this.#cursor = bucket + 1;
    }
  }

  #removeFrom(bucket: number, id: string): void {
    const ids = this.#buckets.get(bucket);
    if (ids === undefined) return;
    ids.delete(id);
    if (ids.size === 0) this.#buckets.delete(bucket);
  }
}
