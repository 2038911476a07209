import { type SseMessage, SseParser } from './sse-parser.js';

/** The shapes this page reads (see `GET /openapi.json` for the full contract). */
export interface AdminSession {
  id: string;
  subject: string;
  policy: string;
  createdAt: string;
  lastActivityAt: string;
  lastSeenAt: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
  endedAt?: string;
  reason?: string;
}

export interface PolicyLimits {
  name: string;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  warnBeforeMs: number;
}

export interface Stats {
  serverTime: string;
  startedAt: string;
  live: { total: number; byPolicy: Array<{ policy: string; active: number; warning: number }> };
  policies: PolicyLimits[];
  totals: {
    created: number;
    heartbeats: { active: number; sleeping: number };
    ended: Record<string, number>;
  };
  recent: { from: string; bucketMs: number; heartbeats: number[]; expired: number[]; revoked: number[] };
}

export interface FeedEvent {
  type: string;
  at: string;
  session: AdminSession;
}

/** A refusal by the server (`status` and the error `code`), or `status` 0 when it could not be reached. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfterMs: number | null;

  constructor(status: number, code: string, message: string, retryAfterMs: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Vigil's backend API as the dashboard uses it. The key lives in this object only — never in
 * storage, a cookie or a URL — and goes in `Authorization` on every call, the event stream included
 * (read with `fetch`, since `EventSource` cannot send headers).
 */
export class AdminApi {
  readonly #key: string;

  constructor(key: string) {
    this.#key = key;
  }

  stats(): Promise<Stats> {
    return this.#json('GET', '/v1/stats');
  }

  async sessions(subject: string): Promise<AdminSession[]> {
    const query = new URLSearchParams({ subject });
    return (await this.#json<{ sessions: AdminSession[] }>('GET', `/v1/sessions?${query}`)).sessions;
  }

  async revoke(id: string): Promise<void> {
    await this.#call('DELETE', `/v1/sessions/${encodeURIComponent(id)}`);
  }

  async revokeAll(subject: string): Promise<number> {
    const path = `/v1/subjects/${encodeURIComponent(subject)}/sessions`;
    return (await this.#json<{ revoked: number }>('DELETE', path)).revoked;
  }

  /**
   * Streams the live feed until it ends, `signal` aborts it, or the connection drops (which rejects).
   * Resolves when the server closes the stream.
   */
  async feed(onEvent: (event: FeedEvent) => void, onOpen: () => void, signal: AbortSignal): Promise<void> {
    const response = await this.#call('GET', '/v1/admin/events', signal);
    const body = response.body;
    if (body === null) return;
    onOpen();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const message of parser.push(decoder.decode(value, { stream: true }))) dispatch(message, onEvent);
    }
  }

  async #json<T>(method: string, path: string): Promise<T> {
    return (await (await this.#call(method, path)).json()) as T;
  }

  async #call(method: string, path: string, signal?: AbortSignal): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers: { authorization: `Bearer ${this.#key}` },
        cache: 'no-store',
        ...(signal && { signal }),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(0, 'unreachable', 'The server cannot be reached.');
    }
    if (response.ok) return response;
    const retryAfter = Number(response.headers.get('retry-after'));
    let code = 'http_error';
    let message = `The server answered ${response.status}.`;
    try {
      const body = (await response.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // not a JSON error (a proxy's page): the status says enough
    }
    throw new ApiError(response.status, code, message, retryAfter > 0 ? retryAfter * 1000 : null);
  }
}

function dispatch(message: SseMessage, onEvent: (event: FeedEvent) => void): void {
  let event: FeedEvent;
  try {
    event = JSON.parse(message.data) as FeedEvent;
  } catch {
    // A message this page cannot read is skipped; the next ones still count.
    return;
  }
  onEvent(event);
}
