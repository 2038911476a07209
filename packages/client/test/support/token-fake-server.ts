import type { SessionStatus } from '../../src/types.js';
import { FakeServer } from './fake-server.js';

/**
 * Token mode of DESIGN.md on fake time, for unit tests: one session, one refresh-token family
 * rotated on every use, the grace window for the token just replaced, reuse ending the session, and
 * (with `cookieMode`) the refresh token kept in a cookie jar shared by every "tab" using this server.
 */
export class FakeTokenServer extends FakeServer {
  override idleMs = 900_000;
  override warnBeforeMs = 60_000;
  override intervalMs = 300_000;
  accessTtlMs = 300_000;
  graceMs = 10_000;
  /** Refresh tokens go into `cookie`, not the answer's body (a browser in cookie mode). */
  cookieMode = false;
  cookie: string | null = null;
  /** The session's id, as `status.id` says it. */
  sessionId = 'sid';
  /** The refresh token each request presented, in order of arrival. */
  presented: Array<string | null> = [];
  #generation = 0;
  #rotatedAt = Number.NEGATIVE_INFINITY;
  #accessTokens = 0;
  #gate: Promise<void> | null = null;

  /** Cookie mode, the refresh token put into the cookie by the backend (as a `Set-Cookie` would). */
  useCookie(): this {
    this.cookieMode = true;
    this.cookie = this.#current();
    return this;
  }

  /** The refresh token the backend got from `POST /v1/token`. */
  get issued(): string {
    return this.#current();
  }

  refreshes(state?: 'active' | 'sleeping') {
    return this.calls.filter((c) => c.path === '/v1/token/refresh' && (!state || c.body?.state === state));
  }

  /** Holds every answer until the returned function is called: requests stay in flight. */
  pause(): () => void {
    let release = (): void => {};
    this.#gate = new Promise((resolve) => {
      release = () => {
        this.#gate = null;
        resolve();
      };
    });
    return release;
  }

  override status(now: number): SessionStatus {
    return { ...super.status(now), id: this.sessionId };
  }

  #current(): string {
    return `rt-${this.#generation}`;
  }

  override fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body =
      typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    this.calls.push({ method, path: url.pathname, body, at: this.time.now() });
    // A browser attaches the cookie when it sends the request, not when the answer comes.
    const fromCookie = typeof body?.refreshToken !== 'string';
    const presented = fromCookie ? this.cookie : (body.refreshToken as string);
    this.presented.push(presented);
    if (this.failure === 'network') throw new TypeError('fetch failed');
    if (this.#gate) await this.#gate;
    if (this.failure) {
      const headers: Record<string, string> = this.failure.retryAfter
        ? { 'retry-after': this.failure.retryAfter }
        : {};
      return json(this.failure.status, { error: { code: 'store_unavailable', message: 'down' } }, headers);
    }
    const now = this.time.now();
    const next = this.#consume(presented, now);
    if (next === 'unknown') return json(401, { error: { code: 'unauthenticated', message: 'unknown' } });
    this.settle(now);
    if (this.ended) {
      if (fromCookie) this.cookie = null;
      return json(401, { error: { code: 'session_ended', message: 'ended', reason: this.ended } });
    }
    if (method === 'DELETE') {
      this.ended = 'logout';
      this.cookie = null;
      return new Response(null, { status: 204 });
    }
    if (body?.state === 'active') this.lastActivityAt = now;
    const status = this.status(now);
    const accessExpiresInMs = Math.min(this.accessTtlMs, status.idleExpiresInMs, status.absoluteExpiresInMs);
    const accessToken = `at-${++this.#accessTokens}`;
    if (this.cookieMode) {
      this.cookie = next;
      return json(200, { accessToken, accessExpiresInMs, status });
    }
    return json(200, { accessToken, refreshToken: next, accessExpiresInMs, status });
  };

  /** Rotation with a grace window; a used token ends the session (`refresh_reuse`). */
  #consume(presented: string | null, now: number): string | 'unknown' {
    if (presented === this.#current()) {
      this.#generation++;
      this.#rotatedAt = now;
      return this.#current();
    }
    const generation = Number(presented?.slice(3) ?? Number.NaN);
    if (!Number.isInteger(generation) || generation > this.#generation) return 'unknown';
    if (generation === this.#generation - 1 && now - this.#rotatedAt < this.graceMs) return this.#current();
    if (!this.ended) this.ended = 'refresh_reuse';
    return this.#current();
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}
