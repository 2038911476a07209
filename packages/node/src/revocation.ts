import { END_REASONS, type EndReason } from '@vigil/core';
import { AccessTokenError } from './access-token-error.js';
import { isTimeout, parseJson, retryAfterOf } from './vigil-http.js';

export interface RevocationCheckSettings {
  /** `GET …/v1/sessions/` on the Vigil server, the session id is appended. */
  sessionsUrl: string;
  apiKey: string;
  /** How long a live answer is reused (0: every verification asks). */
  cacheMs: number;
  /** Longest one question may take. */
  timeoutMs: number;
  /** What a `503` tells clients to wait when Vigil gave no `Retry-After`. */
  retryAfterMs: number;
  /** Sessions remembered at most (live answers, and ended ones, which never come back to life). */
  maxEntries: number;
  /** `accept`: when Vigil cannot answer, trust the signature alone (opt-in); `refuse` (default): 503. */
  onUnavailable: 'refuse' | 'accept';
  /** The verifier's clock, for the cache's ages. */
  now: () => number;
}

type Answer = { kind: 'live'; until: number } | { kind: 'ended'; reason: EndReason; endedAt: number };

/**
 * Asks Vigil whether a session still lives (`GET /v1/sessions/:id` with the API key — a read that
 * touches nothing, so a checked request is not activity). Live answers are reused for `cacheMs`,
 * ended ones for good (an ended session never lives again); questions about one session asked while
 * one is on its way share its answer. Resolves when the session lives; rejects with
 * `session_ended` (+ reason), `token_invalid` (Vigil does not know the session) or, when Vigil
 * cannot answer (down, slow, a 5xx, the API key refused), `vigil_unavailable` — unless
 * `onUnavailable` is `accept`.
 */
export function revocationCheck(settings: RevocationCheckSettings): (sessionId: string) => Promise<void> {
  const answers = new Map<string, Answer>();
  const asking = new Map<string, Promise<Answer>>();

  function remember(sessionId: string, answer: Answer): void {
    if (answer.kind === 'live' && settings.cacheMs === 0) return;
    answers.delete(sessionId);
    if (answers.size >= settings.maxEntries) {
      const oldest = answers.keys().next();
      if (!oldest.done) answers.delete(oldest.value);
    }
    answers.set(sessionId, answer);
  }

  function unavailable(message: string, cause?: unknown, retryAfterMs = settings.retryAfterMs) {
    return new AccessTokenError(
      'vigil_unavailable',
      `Vigil cannot say whether the session lives: ${message}.`,
      {
        cause,
        retryAfterMs,
      },
    );
  }

  async function ask(sessionId: string): Promise<Answer> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(settings.sessionsUrl + encodeURIComponent(sessionId), {
        method: 'GET',
        headers: { authorization: `Bearer ${settings.apiKey}`, accept: 'application/json' },
        signal: AbortSignal.timeout(settings.timeoutMs),
        redirect: 'error',
      });
      // Always read the body: an unread body keeps its connection out of the keep-alive pool.
      text = await response.text();
    } catch (error) {
      throw unavailable(
        isTimeout(error) ? `no answer within ${settings.timeoutMs} ms` : 'unreachable',
        error,
      );
    }
    if (response.status === 404) {
      throw new AccessTokenError('token_invalid', 'Vigil does not know the session of this access token.');
    }
    if (response.status !== 200) {
      // 401/403 mean our API key is wrong: our fault, so never the user's logout.
      throw unavailable(`answered ${response.status}`, undefined, retryAfterOf(response.headers));
    }
    const session = parseJson(text);
    if (session === null || session.id !== sessionId) throw unavailable('an unexpected answer');
    if (session.endedAt === undefined || session.endedAt === null) {
      return { kind: 'live', until: settings.now() + settings.cacheMs };
    }
    const endedAt = typeof session.endedAt === 'string' ? Date.parse(session.endedAt) : Number.NaN;
    if (!END_REASONS.includes(session.reason as EndReason) || Number.isNaN(endedAt)) {
      throw unavailable('an unexpected answer');
    }
    return { kind: 'ended', reason: session.reason as EndReason, endedAt };
  }

  function answerFor(sessionId: string): Promise<Answer> {
    const known = answers.get(sessionId);
    if (known !== undefined && (known.kind === 'ended' || known.until > settings.now())) {
      return Promise.resolve(known);
    }
    let pending = asking.get(sessionId);
    if (pending === undefined) {
      pending = ask(sessionId)
        .then((answer) => {
          remember(sessionId, answer);
          return answer;
        })
        .finally(() => asking.delete(sessionId));
      asking.set(sessionId, pending);
    }
    return pending;
  }

  return async function checkSessionLives(sessionId: string): Promise<void> {
    let answer: Answer;
    try {
      answer = await answerFor(sessionId);
    } catch (error) {
      if (
        settings.onUnavailable === 'accept' &&
        error instanceof AccessTokenError &&
        error.code === 'vigil_unavailable'
      ) {
        return;
      }
      throw error;
    }
    if (answer.kind === 'ended') {
      throw new AccessTokenError('session_ended', `The session has ended (${answer.reason}).`, {
        reason: answer.reason,
        endedAt: answer.endedAt,
      });
    }
  };
}
