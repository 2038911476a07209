/**
 * Counts per time bucket over a sliding window (the last hour, by default in 10 s buckets), in
 * fixed arrays: memory does not grow with time or traffic, and an add is O(1). A slot remembers
 * which bucket it holds, so a slot left over from an earlier lap of the ring reads as zero.
 */
export class RecentCounts<Series extends string> {
  readonly bucketMs: number;
  readonly size: number;
  readonly #names: readonly Series[];
  /** The bucket number (time / bucketMs) each slot currently holds; -1 for none yet. */
  readonly #slotBucket: number[];
  readonly #counts: Map<Series, number[]>;

  constructor(series: readonly Series[], { bucketMs, size }: { bucketMs: number; size: number }) {
    if (!Number.isInteger(bucketMs) || bucketMs <= 0)
      throw new RangeError('bucketMs must be a positive integer');
    if (!Number.isInteger(size) || size <= 0) throw new RangeError('size must be a positive integer');
    this.bucketMs = bucketMs;
    this.size = size;
    this.#names = series;
    this.#slotBucket = new Array<number>(size).fill(-1);
    this.#counts = new Map(series.map((name) => [name, new Array<number>(size).fill(0)]));
  }

  add(series: Series, now: number, count = 1): void {
    const bucket = Math.floor(now / this.bucketMs);
    const slot = bucket % this.size;
    if (this.#slotBucket[slot] !== bucket) {
      // Only a later bucket may take a slot over: a late add for a bucket already left behind is dropped.
      if ((this.#slotBucket[slot] ?? -1) > bucket) return;
      this.#slotBucket[slot] = bucket;
      for (const counts of this.#counts.values()) counts[slot] = 0;
    }
    const counts = this.#counts.get(series);
    if (counts !== undefined) counts[slot] = (counts[slot] ?? 0) + count;
  }

  /** The window ending with the bucket that holds `now`, oldest bucket first. */
  read(now: number): { from: number; series: Record<Series, number[]> } {
    const last = Math.floor(now / this.bucketMs);
    const first = last - this.size + 1;
    const series = {} as Record<Series, number[]>;
    for (const name of this.#names) {
      const counts = this.#counts.get(name) ?? [];
      const values = new Array<number>(this.size);
      for (let bucket = first; bucket <= last; bucket++) {
        const slot = ((bucket % this.size) + this.size) % this.size;
        values[bucket - first] = this.#slotBucket[slot] === bucket ? (counts[slot] ?? 0) : 0;
      }
      series[name] = values;
    }
    return { from: first * this.bucketMs, series };
  }
}
