import { parseRetryAfter } from './backoff.js';
import type { SessionStatus, Timers } from './types.js';

/** What a call to the Vigil API came to, reduced to what the SDK acts on. */
export type Outcome =
  | { kind: 'ok'; status: SessionStatus }
  | { kind: 'done' }
  | { kind: 'ended'; reason: string }
  /** 5xx, 429, a network error or a timeout: worth retrying. */
  | { kind: 'retry'; retryAfterMs: number | null; httpStatus: number }
  /** Any other answer (400, 403…): retrying the same request will not help. */
  | { kind: 'failed'; httpStatus: number; code: string | null };

export interface HeartbeatBody {
  state: 'active' | 'sleeping';
  params?: Record<string, unknown>;
  /** How the warning that was showing ended (feeds `vigil_warnings_total{outcome}`). */
  warning?: 'extended';
}

export interface TransportOptions {
  baseUrl: string;
  /** The session token, sent as `Authorization: Bearer`; a function is asked before every request. */
  token?: string | (() => string | null | undefined) | undefined;
  /** Cookie mode: `'include'` sends the session cookie to another origin. */
  credentials?: RequestCredentials | undefined;
  fetch: typeof fetch;
  timers: Timers;
  timeoutMs: number;
}

/** What the server pushed (WebSocket or SSE): a status (`warning`, `extended`…) or the end. */
export type PushEvent =
  | { kind: 'ended'; reason: string }
  | { kind: 'status' | 'warning' | 'extended'; status: SessionStatus };

export interface Transport {
  heartbeat(body: HeartbeatBody): Promise<Outcome>;
  /** `GET /v1/session`: the status, touching nothing. */
  read(): Promise<Outcome>;
  /** `DELETE /v1/session`. */
  logout(body?: { warning: 'signed_out' }): Promise<Outcome>;
  /**
   * Optional: opens a channel on which the server pushes events (the leader tab holds it while it
   * leads); returns the function that closes it. Without it the SDK learns only from its requests.
   */
  listen?(onEvent: (event: PushEvent) => void): () => void;
}

/** A network error or a timeout: worth retrying. */
export const NETWORK_ERROR: Outcome = { kind: 'retry', retryAfterMs: null, httpStatus: 0 };

export const tokenOf = (options: TransportOptions) =>
  typeof options.token === 'function' ? options.token() : options.token;

export const urlOf = (options: TransportOptions, path: string) => options.baseUrl.replace(/\/+$/, '') + path;

/** A request to Vigil: its token (if any) in `Authorization`, the cookie as `credentials` says. */
export function fetchVigil(
  options: TransportOptions,
  path: string,
  accept: string,
  signal: AbortSignal,
  method = 'GET',
  body?: object,
): Promise<Response> {
  const headers: Record<string, string> = { accept };
  const token = tokenOf(options);
  if (token) headers.authorization = `Bearer ${token}`;
  // No content-type without a body: a JSON parser rejects an empty JSON body.
  if (body) headers['content-type'] = 'application/json';
  const init: RequestInit = { method, headers, signal, cache: 'no-store' };
  // A logout is sent as the page may be leaving (a sign-out link navigates at once): `keepalive`
  // lets it outlive the page, so the server session ends even then.
  if (method === 'DELETE') init.keepalive = true;
  if (body) init.body = JSON.stringify(body);
  if (options.credentials) init.credentials = options.credentials;
  return options.fetch(urlOf(options, path), init);
}

export function createTransport(options: TransportOptions): Transport {
  async function call(method: string, path: string, body?: object): Promise<Outcome> {
    const controller = new AbortController();
    const timeout = options.timers.setTimeout(() => controller.abort(), options.timeoutMs);
    try {
      return await interpret(
        await fetchVigil(options, path, 'application/json', controller.signal, method, body),
      );
    } catch {
      return NETWORK_ERROR;
    } finally {
      options.timers.clearTimeout(timeout);
    }
  }

  return {
    heartbeat: (body) => call('POST', '/v1/heartbeat', body),
    read: () => call('GET', '/v1/session'),
    logout: (body) => call('DELETE', '/v1/session', body),
  };
}

export async function interpret(response: Response): Promise<Outcome> {
  const { status } = response;
  if (status === 204) return { kind: 'done' };
  if (status >= 200 && status < 300) {
    const json: unknown = await response.json();
    if (!isSessionStatus(json)) return { kind: 'retry', retryAfterMs: null, httpStatus: status };
    return { kind: 'ok', status: json };
  }
  if (status === 429 || status >= 500) {
    return {
      kind: 'retry',
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      httpStatus: status,
    };
  }
  const error = await errorOf(response);
  if (status === 401) {
    const reason =
      error.code === 'session_ended' && error.reason ? error.reason : (error.code ?? 'unauthenticated');
    return { kind: 'ended', reason };
  }
  return { kind: 'failed', httpStatus: status, code: error.code };
}

async function errorOf(response: Response): Promise<{ code: string | null; reason: string | null }> {
  try {
    const body = (await response.json()) as { error?: { code?: unknown; reason?: unknown } };
    const code = typeof body.error?.code === 'string' ? body.error.code : null;
    const reason = typeof body.error?.reason === 'string' ? body.error.reason : null;
    return { code, reason };
  } catch {
    return { code: null, reason: null };
  }
}

export function isSessionStatus(value: unknown): value is SessionStatus {
  const v = value as Partial<SessionStatus> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.idleExpiresInMs === 'number' &&
    typeof v.absoluteExpiresInMs === 'number' &&
    typeof v.warnInMs === 'number' &&
    typeof v.heartbeatIntervalMs === 'number'
  );
}
