import type { SessionStatus } from '@vigil/core';

/** The session a checked request speaks for, as `req.vigil` / `request.vigil`. */
export interface VigilSession {
  /** The session id: the token's one-way hash, safe to log. Never the token. */
  sessionId: string;
  subject: string;
  /** The policy's name. */
  policy: string;
  /** The status as the server would answer it, measured when the request was checked. */
  status: SessionStatus;
}

/** One request to check: its token (already found) and whether it is passive. */
export interface SessionCheck {
  token: string;
  /** Passive requests update `lastSeenAt` only: they never extend the session. */
  passive: boolean;
  /**
   * The request's path (no query string), so that the backend also applies the Vigil config's own
   * `passivePaths` — one list for forward-auth and middleware alike.
   */
  path?: string;
}

/**
 * Decides whether a token's session lives, and counts the request as activity unless it is passive.
 * Resolves with the session; rejects with core's `VigilError`: `unauthenticated`, `session_ended`
 * (a `SessionEndedError`) or `store_unavailable` (a `StoreUnavailableError`, never a 401).
 */
export interface SessionChecker {
  check(request: SessionCheck): Promise<VigilSession>;
}
