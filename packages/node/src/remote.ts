import {
  END_REASONS,
  type EndReason,
  looksLikeSessionToken,
  SessionEndedError,
  type SessionStatus,
  StoreUnavailableError,
  VigilError,
} from '@vigil/core';
import type { SessionCheck, SessionChecker, VigilSession } from './session.js';
import { isTimeout, parseJson, positiveInteger, retryAfterOf, vigilEndpoint } from './vigil-http.js';

export interface RemoteCheckerOptions {
  /** The Vigil server's base URL (`http://vigil.internal:8080`); `/v1/authorize` is appended. */
  url: string | URL;
  /** Longest a check may take, answer included, before requests answer `503` (default 2000 ms). */
  timeoutMs?: number;
  /** What a `503` tells clients to wait when the server gave no `Retry-After` (default 1000 ms). */
  retryAfterMs?: number;
}

const KNOWN = new Set(['url', 'timeoutMs', 'retryAfterMs']);
/** Printable ASCII: what a header value may carry as is. */
const HEADER_SAFE = /^\/[\x21-\x7e]*$/;

/**
 * Checks sessions by asking a Vigil server (`GET /v1/authorize`, the token forwarded as a bearer
 * credential, `X-Vigil-Activity: passive` for passive requests). Node's global `fetch` keeps
 * connections alive and pools them per origin, so a busy app holds a few connections, not one per
 * request. `200` → the session; `401` → the same refusal; anything else, a timeout or a network
 * error → `store_unavailable` (503): an unreachable Vigil is not a logout, and never a pass.
 */
export function remoteChecker(options: RemoteCheckerOptions): SessionChecker {
  const caller = 'remoteChecker';
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${caller}: options are required ({ url, timeoutMs? })`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key))
      throw new TypeError(`${caller}: unknown option '${key}' (known: ${[...KNOWN].join(', ')})`);
  }
  const endpoint = vigilEndpoint(caller, 'url', options.url, 'v1/authorize');
  const timeoutMs = positiveInteger(caller, 'timeoutMs', options.timeoutMs ?? 2000);
  const defaultRetryAfterMs = positiveInteger(caller, 'retryAfterMs', options.retryAfterMs ?? 1000);

  function unavailable(message: string, cause?: unknown, retryAfterMs = defaultRetryAfterMs) {
    return new StoreUnavailableError(`vigil remote: ${message}`, { cause, retryAfterMs });
  }

  async function checkRemotely({ token, passive, path }: SessionCheck): Promise<VigilSession> {
    // A string that cannot be a token needs no round trip; the server would answer the same.
    if (!looksLikeSessionToken(token)) throw new VigilError('unauthenticated', 'Unknown session token.');
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (passive) headers['x-vigil-activity'] = 'passive';
    // The path (never the query) lets the server apply its own passivePaths, as for forward-auth.
    if (path !== undefined && HEADER_SAFE.test(path)) headers['x-forwarded-uri'] = path;
    const signal = AbortSignal.timeout(timeoutMs);
    let status: number;
    let responseHeaders: Headers;
    let text: string;
    try {
      const response = await fetch(endpoint, { method: 'GET', headers, signal, redirect: 'error' });
      status = response.status;
      responseHeaders = response.headers;
      // Always read the body: an unread body keeps its connection out of the keep-alive pool.
      text = await response.text();
    } catch (error) {
      throw unavailable(
        isTimeout(error) ? `authorize took longer than timeoutMs (${timeoutMs} ms)` : 'authorize failed',
        error,
      );
    }
    if (status === 200) return sessionFrom(text, responseHeaders) ?? malformed(status);
    if (status === 401) throw refusalFrom(text);
    throw unavailable(
      `authorize answered ${status}`,
      undefined,
      retryAfterOf(responseHeaders) ?? defaultRetryAfterMs,
    );
  }

  function malformed(status: number): never {
    throw unavailable(`authorize answered ${status} with an unexpected body`);
  }

  return { check: checkRemotely };
}

/** A `200`: the status body, with the subject and session id of the headers when the body lacks them. */
function sessionFrom(text: string, headers: Headers): VigilSession | null {
  const status = parseJson(text);
  if (status === null) return null;
  const sessionId = typeof status.id === 'string' ? status.id : headers.get('x-vigil-session');
  const subject = typeof status.subject === 'string' ? status.subject : headers.get('x-vigil-subject');
  if (
    sessionId === null ||
    subject === null ||
    typeof status.policy !== 'string' ||
    typeof status.idleExpiresInMs !== 'number' ||
    typeof status.absoluteExpiresInMs !== 'number'
  ) {
    return null;
  }
  return { sessionId, subject, policy: status.policy, status: status as unknown as SessionStatus };
}

/** A `401`: the same refusal, rebuilt as core's error so that the answer is the server's, field for field. */
function refusalFrom(text: string): VigilError {
  const error = parseJson(text)?.error as Record<string, unknown> | undefined;
  if (error?.code === 'session_ended' && END_REASONS.includes(error.reason as EndReason)) {
    const endedAt = typeof error.endedAt === 'string' ? Date.parse(error.endedAt) : Number.NaN;
    if (!Number.isNaN(endedAt)) return new SessionEndedError(error.reason as EndReason, endedAt);
  }
  const message = typeof error?.message === 'string' ? error.message : undefined;
  return new VigilError('unauthenticated', message);
}
