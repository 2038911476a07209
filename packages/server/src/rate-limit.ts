export interface TokenBucketOptions {
  /** Requests allowed at once after a quiet period. */
  burst: number;
  /** Requests allowed per second after the burst. */
  perSecond: number;
  /** Most buckets kept; beyond it the least recently used are dropped (default 100 000). */
  maxBuckets?: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per key (the session id). Memory stays bounded by work, not time: the map is kept
 * in least-recently-used order (a key is re-inserted on every use), so the oldest entries sit at the
 * front, and each call drops front entries that have refilled completely — a full bucket carries no
 * information. Past `maxBuckets` the oldest are dropped even if not full: a flood of made-up tokens
 * then costs a real session at most a fresh burst, never memory.
 */
export class TokenBuckets {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #refillMs: number;
  readonly #maxBuckets: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor({ burst, perSecond, maxBuckets = 100_000 }: TokenBucketOptions) {
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#refillMs = Math.ceil(burst / this.#perMs);
    this.#maxBuckets = maxBuckets;
  }

  /** Takes one token for `key`: returns 0 when allowed, else how many ms until one is available. */
  take(key: string, now: number): number {
    this.#dropIdle(now);
    // The bucket object is reused (re-inserted to move it to the back): no allocation per request.
    let bucket = this.#buckets.get(key);
    let tokens = this.#burst;
    if (bucket === undefined) {
      bucket = { tokens, updatedAt: now };
    } else {
      this.#buckets.delete(key);
      tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.updatedAt) * this.#perMs);
    }
    bucket.updatedAt = now;
    bucket.tokens = tokens >= 1 ? tokens - 1 : tokens;
    this.#buckets.set(key, bucket);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.#perMs));
  }

  get size(): number {
    return this.#buckets.size;
  }

  #dropIdle(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      const full = now - bucket.updatedAt >= this.#refillMs;
      if (!full && this.#buckets.size < this.#maxBuckets) break;
      this.#buckets.delete(key);
    }
  }
}
