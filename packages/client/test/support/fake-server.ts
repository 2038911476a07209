import type { SessionStatus } from '../../src/types.js';
import type { FakeTime } from './fake-time.js';

export interface Call {
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
  at: number;
  /** Set for a heartbeat that came over a (fake) WebSocket. */
  via?: 'ws';
}

type Failure = { status: number; retryAfter?: string } | 'network';

/**
 * The protocol of DESIGN.md in a few lines, on the test's fake time, for unit tests. `skewMs` is how
 * far the server's wall clock is ahead of the client's: only `…At`/`serverTime` strings show it.
 */
export class FakeServer {
  idleMs = 30_000;
  absoluteMs = 3_600_000;
  warnBeforeMs = 10_000;
  intervalMs = 10_000;
  skewMs = 0;
  createdAt: number;
  lastActivityAt: number;
  ended: string | null = null;
  calls: Call[] = [];
  /** Answers every request with this until cleared. */
  failure: Failure | null = null;

  constructor(readonly time: FakeTime) {
    this.createdAt = time.now();
    this.lastActivityAt = time.now();
  }

  heartbeats(state?: 'active' | 'sleeping'): Call[] {
    return this.calls.filter((c) => c.path === '/v1/heartbeat' && (!state || c.body?.state === state));
  }

  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body =
      typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    const now = this.time.now();
    this.calls.push({ method, path: url.pathname, body, at: now });
    if (this.failure === 'network') throw new TypeError('fetch failed');
    if (this.failure) {
      const headers: Record<string, string> = this.failure.retryAfter
        ? { 'retry-after': this.failure.retryAfter }
        : {};
      return json(this.failure.status, { error: { code: 'store_unavailable', message: 'down' } }, headers);
    }
    this.settle(now);
    if (this.ended)
      return json(401, { error: { code: 'session_ended', message: 'ended', reason: this.ended } });
    if (method === 'DELETE') {
      this.ended = 'logout';
      return new Response(null, { status: 204 });
    }
    if (method === 'POST' && body?.state === 'active') this.lastActivityAt = now;
    return json(200, this.status(now));
  };

  settle(now: number): void {
    if (this.ended) return;
    if (now >= this.createdAt + this.absoluteMs) this.ended = 'absolute_timeout';
    else if (now >= this.lastActivityAt + this.idleMs) this.ended = 'idle_timeout';
  }

  status(now: number): SessionStatus {
    const idle = this.lastActivityAt + this.idleMs - now;
    const absolute = this.createdAt + this.absoluteMs - now;
    const warnInMs = Math.max(0, Math.min(idle, absolute) - this.warnBeforeMs);
    const at = (ms: number) => new Date(ms + this.skewMs).toISOString();
    return {
      id: 'sid',
      subject: 'ada',
      policy: 'default',
      state: warnInMs === 0 ? 'warning' : 'active',
      idleExpiresInMs: idle,
      absoluteExpiresInMs: absolute,
      warnInMs,
      heartbeatIntervalMs: this.intervalMs,
      idleExpiresAt: at(this.lastActivityAt + this.idleMs),
      absoluteExpiresAt: at(this.createdAt + this.absoluteMs),
      serverTime: at(now),
    };
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}
