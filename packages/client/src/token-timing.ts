import type { SessionStatus } from './types.js';

/** Margin before expiry: room for a slow answer and a retry or two with backoff. */
const LEAD_MS = 30_000;
/** …but never earlier than this share of the token's life, so short-lived tokens do not churn. */
const MIN_SHARE = 0.8;
/** JWT `exp` is in whole seconds, rounded down: a token capped by its session ends up to 1 s early. */
const EXP_ROUNDING_MS = 1000;

/**
 * When to refresh an access token that expires `lifetimeMs` from now: 30 s before it expires, or at
 * 80 % of its life when that is later. A 5-minute token is refreshed after 4½ minutes, a 60-second one
 * after 48 s; the margin absorbs latency and backoff, the floor keeps a short token from being
 * refreshed almost as soon as it arrives.
 */
export function defaultRefreshAfter(lifetimeMs: number): number {
  return Math.max(lifetimeMs - LEAD_MS, lifetimeMs * MIN_SHARE);
}

/**
 * Whether an access token expires together with its session. The server never signs past the
 * session's end, so a refresh that is not activity cannot give a longer-lived one: only an extend can,
 * and the SDK's own warning flow asks for that. Refreshing such a token on a timer would only repeat
 * itself, ever faster, until the session ends.
 */
export function expiresWithSession(accessExpiresInMs: number, status: SessionStatus): boolean {
  const sessionEndsInMs = Math.min(status.idleExpiresInMs, status.absoluteExpiresInMs);
  return accessExpiresInMs + EXP_ROUNDING_MS >= sessionEndsInMs;
}
