import { parseRetryAfter, type ResolvedRetry } from './backoff.js';
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

/** What `createVigil` gives a push upgrade besides the HTTP transport: its options, and its backoff. */
export interface PushContext extends TransportOptions {
  retry: ResolvedRetry;
  random: () => number;
}

/**
 * Gives the HTTP transport a channel on which the server pushes events (`createVigil`'s `push`
 * option): `pushChannels()` from `@vigil/client/push` makes one.
 */
export type PushUpgrade = (http: Transport, context: PushContext) => Transport;

/** A network error or a timeout: worth retrying. */
export const NETWORK_ERROR: Outcome = { kind: 'retry', retryAfterMs: null, httpStatus: 0 };

/** Every outcome but `ok`, whose payload depends on the call (a status, or token mode's tokens). */
export type Failure = Exclude<Outcome, { kind: 'ok' }>;

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

/**
 * One JSON call to Vigil, read as an outcome: `ok` is what `accept` makes of a 2xx body (undefined:
 * not what Vigil sends, e.g. a captive portal's page, so the server was not really reached).
 */
export async function requestVigil<Ok>(
  options: TransportOptions,
  method: string,
  path: string,
  body: object | undefined,
  accept: (json: unknown) => Ok | undefined,
): Promise<Ok | Failure> {
  const controller = new AbortController();
  const timeout = options.timers.setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    return await interpret(
      await fetchVigil(options, path, 'application/json', controller.signal, method, body),
      accept,
    );
  } catch {
    return NETWORK_ERROR as Failure;
  } finally {
    options.timers.clearTimeout(timeout);
  }
}

/**
 * An answer as the SDK acts on it: `401` ends the session with the server's reason (or its code),
 * `429` and `5xx` are worth retrying after `Retry-After`, other refusals are not.
 */
export async function interpret<Ok>(
  response: Response,
  accept: (json: unknown) => Ok | undefined,
): Promise<Ok | Failure> {
  const { status: httpStatus } = response;
  if (httpStatus === 204) return { kind: 'done' };
  if (httpStatus === 429 || httpStatus >= 500) {
    return { kind: 'retry', retryAfterMs: parseRetryAfter(response.headers.get('retry-after')), httpStatus };
  }
  const json: unknown = await response.json().catch(() => null);
  if (response.ok) return accept(json) ?? { kind: 'retry', retryAfterMs: null, httpStatus };
  const error = (json as { error?: { code?: unknown; reason?: unknown } } | null)?.error;
  const code = typeof error?.code === 'string' ? error.code : null;
  if (httpStatus === 401) {
    const reason = code === 'session_ended' && typeof error?.reason === 'string' && error.reason;
    return { kind: 'ended', reason: reason || code || 'unauthenticated' };
  }
  return { kind: 'failed', httpStatus, code };
}

const STATUS_DURATIONS = ['idleExpiresInMs', 'absoluteExpiresInMs', 'warnInMs', 'heartbeatIntervalMs'];

/** Whether a body is a status: the relative durations the SDK works from are all there. */
export function isSessionStatus(value: unknown): value is SessionStatus {
  return STATUS_DURATIONS.every(
    (key) => typeof (value as Record<string, unknown> | null)?.[key] === 'number',
  );
}

export const asStatus = (json: unknown): Outcome | undefined =>
  isSessionStatus(json) ? { kind: 'ok', status: json } : undefined;

export function createTransport(options: TransportOptions): Transport {
  const call = (method: string, path: string, body?: object) =>
    requestVigil(options, method, path, body, asStatus);
  return {
    heartbeat: (body) => call('POST', '/v1/heartbeat', body),
    read: () => call('GET', '/v1/session'),
    logout: (body) => call('DELETE', '/v1/session', body),
  };
}
