export interface RetryOptions {
  /** Retries after the first attempt before heartbeats are reported disabled. Default 5. */
  retries?: number;
  /** The first backoff step in ms. Default 1000. */
  baseMs?: number;
  /** The largest backoff step in ms (a `Retry-After` may ask for more). Default 30000. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
}

export type ResolvedRetry = Required<RetryOptions>;

export function resolveRetry(options: RetryOptions = {}): ResolvedRetry {
  return { retries: 5, baseMs: 1000, maxMs: 30_000, factor: 2, ...options };
}

/**
 * The wait before retry number `attempt` (0 for the first retry): exponential, capped, with "equal
 * jitter" — half fixed so retries never bunch up at zero, half random so tabs of many users spread out.
 * A `Retry-After` from the server is a floor: the server knows better than our guess.
 */
export function retryDelay(
  attempt: number,
  retry: ResolvedRetry,
  retryAfterMs: number | null = null,
  random: () => number = Math.random,
): number {
  const cap = Math.min(retry.maxMs, retry.baseMs * retry.factor ** attempt);
  const jittered = Math.round(cap / 2 + (random() * cap) / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** `Retry-After` as ms: delta-seconds (what Vigil sends) or an HTTP date (measured against `now`). */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | null {
  if (value == null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date always names its day and month; `Date.parse` alone would take "-3" for a year.
  const date = /[a-z]{3}/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
