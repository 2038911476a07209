import { type RetryOptions, resolveRetry, retryDelay } from './backoff.js';
import { injected } from './injected.js';
import { requestTokens, type TokenRequestOptions, type Tokens } from './token-request.js';
import { defaultRefreshAfter, expiresWithSession } from './token-timing.js';
import type { Outcome, Transport } from './transport.js';
import type { Clock, Timers } from './types.js';

/** The part of Web Locks used here: one holder per name, the others queue. */
export interface TokenLocks {
  request(name: string, options: object, callback: () => Promise<void>): Promise<unknown>;
}

export interface TokenModeOptions {
  /** Where the Vigil API is, e.g. `https://vigil.example.com`. */
  baseUrl: string;
  /**
   * The refresh token the backend got from `POST /v1/token`, when it does not travel in the HttpOnly
   * cookie. Kept in memory only. If the server answers with the cookie instead, the SDK switches to it.
   */
  refreshToken?: string;
  /** `'include'` when the API is on another origin than the page (cookie mode). */
  credentials?: RequestCredentials;
  /** When to refresh a token that lives `lifetimeMs`, in ms from its arrival. Default: `defaultRefreshAfter`. */
  refreshAfter?: (lifetimeMs: number) => number;
  /** Backoff for a timed refresh that meets 5xx, 429 or a network error. */
  retry?: RetryOptions;
  /** A request that has not answered after this long counts as a network error. Default 10000. */
  requestTimeoutMs?: number;
  /** Share tokens with the other tabs of this origin (default), or act alone (`false`). */
  tabs?:
    | false
    | {
        /** The lock and channel name. Default `vigil-token:<baseUrl>`. */
        name?: string;
        /** Default `navigator.locks`; null: no lock, racing tabs rely on the server's grace window. */
        locks?: TokenLocks | null;
        /** Default the global `BroadcastChannel`; null: this tab keeps its tokens to itself. */
        BroadcastChannel?: typeof BroadcastChannel | null;
      };
  fetch?: typeof fetch;
  clock?: Clock;
  timers?: Timers;
  random?: () => number;
}

export interface TokenMode {
  /**
   * For `createVigil({ transport })`: a heartbeat is a refresh with its state, a read is a `sleeping`
   * refresh (the only status answer a refresh token can get, and one that extends nothing), a logout
   * is `DELETE /v1/token`. Every answer's access token is kept for `accessToken()`.
   */
  transport(): Transport;
  /**
   * An access token for the app's own API calls: the one held while it is not due for a refresh,
   * else a fresh one. Rejects with a `TokenRefreshError` when the session has ended, or when the
   * refresh failed and the held token has expired.
   */
  accessToken(): Promise<string>;
  /** Stops the refresh timer and leaves the other tabs; the session itself is left alone. */
  close(): void;
}

/** Why `accessToken()` has no token to give: `outcome.kind === 'ended'` carries the server's reason. */
export class TokenRefreshError extends Error {
  readonly outcome: Outcome;

  constructor(outcome: Outcome) {
    super(
      outcome.kind === 'ended' ? `The session has ended (${outcome.reason}).` : 'The token refresh failed.',
    );
    this.name = 'TokenRefreshError';
    this.outcome = outcome;
  }
}

/**
 * What token modes of one origin tell each other. Never a refresh token: that stays in its tab (or in
 * the cookie). `sid` keeps a tab of another session (a sign-in elsewhere) from taking them.
 */
type TokenMessage =
  | { t: 'tokens'; sid: string; a: string; e: number; r: number | null }
  | { t: 'ended'; sid: string; reason: string };

/** `token`: any fresh access token will do (and one another tab just got counts). */
type Need = 'token' | 'sleeping' | 'active' | 'logout';

/**
 * After a refresh the lock is kept this much longer, so that its broadcast reaches the other tabs
 * before the next one in line looks at what it holds (the channel and the lock are not ordered).
 */
const HANDOFF_MS = 50;
/** `exp` is whole seconds: two copies of the "same" lifetime may differ by this much. */
const EXP_ROUNDING_MS = 1000;

/** Whether an answer for `held` also answers `wanted`. An active refresh is everything a sleeping one is. */
function covers(held: Need, wanted: Need): boolean {
  return (
    held === wanted ||
    (held === 'active' && wanted !== 'logout') ||
    (held === 'sleeping' && wanted === 'token')
  );
}

/**
 * Token mode (DESIGN: Token mode): keeps a short-lived access token fresh for the app, and gives the
 * SDK a transport built on the refresh. One refresh at a time: in a tab, callers share the one in
 * flight; across tabs, a Web Lock lets one tab refresh while the others wait, and the new access token
 * reaches them over a BroadcastChannel, so they find it fresh and do not refresh again. All deadlines
 * are the server's relative durations added to this clock; the JWT's `exp` is never read.
 */
/* @__NO_SIDE_EFFECTS__ */
export function createTokenMode(options: TokenModeOptions): TokenMode {
  // `Date` and the page itself are the default clock and timers.
  const clock: Clock = options.clock ?? Date;
  const timers: Timers = options.timers ?? globalThis;
  const refreshAfter = options.refreshAfter ?? defaultRefreshAfter;
  const retry = resolveRetry(options.retry);
  const random = options.random ?? Math.random;
  const request: TokenRequestOptions = {
    baseUrl: options.baseUrl,
    // Taken now, before `countFetchAsActivity` may wrap it: refreshes are not the user's activity.
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    timers,
    timeoutMs: options.requestTimeoutMs ?? 10_000,
    credentials: options.credentials,
  };
  const tabs = options.tabs === false ? { locks: null, BroadcastChannel: null } : (options.tabs ?? {});
  const name = tabs.name ?? `vigil-token:${options.baseUrl}`;
  const locks = injected(tabs.locks, (globalThis.navigator as { locks?: TokenLocks } | undefined)?.locks);
  const Channel = injected(tabs.BroadcastChannel, globalThis.BroadcastChannel);
  const channel = Channel ? new Channel(name) : null;

  let refreshToken = options.refreshToken ?? null;
  let sessionId: string | null = null;
  let current: { token: string; expiresAt: number; refreshAt: number; timed: boolean } | null = null;
  let endedReason: string | null = null;
  let latest: { need: Need; promise: Promise<Outcome> } | null = null;
  let timer: unknown;
  let attempt = 0;
  let closed = false;

  function post(message: TokenMessage): void {
    if (!closed) channel?.postMessage(message);
  }

  /** `refreshInMs` null: no timed refresh (the token ends with its session). */
  function hold(token: string, expiresInMs: number, refreshInMs: number | null): void {
    const now = clock.now();
    const refreshAt = now + Math.min(refreshInMs ?? expiresInMs, expiresInMs);
    current = { token, expiresAt: now + expiresInMs, refreshAt, timed: refreshInMs !== null };
    attempt = 0;
    arm();
  }

  function schedule(inMs: number | null): void {
    timers.clearTimeout(timer);
    timer = undefined;
    if (inMs !== null && !closed && endedReason === null)
      timer = timers.setTimeout(onTimer, Math.max(0, inMs));
  }

  function arm(): void {
    schedule(current?.timed ? current.refreshAt - clock.now() : null);
  }

  function onTimer(): void {
    void refresh('token').then((outcome) => {
      const due = current === null || clock.now() >= current.refreshAt;
      // Retried with backoff until it works, the session ends, or another tab brings a new token.
      if (outcome.kind === 'retry' && due)
        schedule(retryDelay(attempt++, retry, outcome.retryAfterMs, random));
      else if (outcome.kind === 'done') arm();
    });
  }

  function adopt(tokens: Tokens): void {
    // An answer without a refresh token means the server put it into the HttpOnly cookie: use that.
    refreshToken = tokens.refreshToken ?? null;
    sessionId = tokens.status.id;
    const lifetime = tokens.accessExpiresInMs;
    const refreshInMs = expiresWithSession(lifetime, tokens.status) ? null : refreshAfter(lifetime);
    hold(tokens.accessToken, lifetime, refreshInMs);
    post({ t: 'tokens', sid: sessionId, a: tokens.accessToken, e: lifetime, r: refreshInMs });
  }

  function end(reason: string, relay: boolean): void {
    if (relay && sessionId !== null) post({ t: 'ended', sid: sessionId, reason });
    endedReason = reason;
    current = null;
    refreshToken = null;
    schedule(null);
  }

  if (channel) {
    channel.onmessage = (event: MessageEvent) => {
      const message = event.data as TokenMessage | null;
      if (closed || endedReason !== null || message?.sid !== sessionId || sessionId === null) return;
      if (message.t === 'ended') end(message.reason, false);
      // Never trade a token for one that expires sooner (a late message from an earlier refresh).
      else if (!current || clock.now() + message.e >= current.expiresAt - EXP_ROUNDING_MS)
        hold(message.a, message.e, message.r);
    };
  }

  async function run(need: Need): Promise<Outcome> {
    if (endedReason !== null) return { kind: 'ended', reason: endedReason };
    // Another tab may have refreshed while this one waited for the lock: its token will do.
    if (need === 'token' && current && clock.now() < current.refreshAt) return { kind: 'done' };
    const body = refreshToken === null ? {} : { refreshToken };
    const outcome =
      need === 'logout'
        ? await requestTokens(request, 'DELETE', '/v1/token', refreshToken === null ? undefined : body)
        : await requestTokens(request, 'POST', '/v1/token/refresh', {
            ...body,
            state: need === 'active' ? 'active' : 'sleeping',
          });
    if (outcome.kind === 'ok') {
      adopt(outcome.tokens);
      return { kind: 'ok', status: outcome.tokens.status };
    }
    if (outcome.kind === 'done') end('logout', true);
    else if (outcome.kind === 'ended') end(outcome.reason, true);
    return outcome;
  }

  /** Runs `work` holding the origin-wide lock (when there is one), so tabs take turns. */
  function exclusive(work: () => Promise<Outcome>): Promise<Outcome> {
    if (!locks) return work();
    return new Promise((resolve, reject) => {
      let started = false;
      locks
        .request(name, {}, async () => {
          started = true;
          resolve(await work());
          await new Promise<void>((wake) => timers.setTimeout(wake, HANDOFF_MS));
        })
        // No lock to be had (an opaque origin): go on alone, as without Web Locks.
        .catch((error: unknown) => (started ? reject(error) : work().then(resolve, reject)));
    });
  }

  /** Single flight in this tab: a caller shares the refresh queued last if it answers it, else queues. */
  function refresh(need: Need): Promise<Outcome> {
    if (endedReason !== null) return Promise.resolve({ kind: 'ended', reason: endedReason });
    const last = latest;
    if (last && covers(last.need, need)) return last.promise;
    const ready = last ? last.promise.catch(() => undefined) : Promise.resolve();
    const entry = { need, promise: ready.then(() => exclusive(() => run(need))) };
    latest = entry;
    const clear = (): void => {
      if (latest === entry) latest = null;
    };
    entry.promise.then(clear, clear);
    return entry.promise;
  }

  return {
    transport: () => ({
      heartbeat: (body) => refresh(body.state),
      read: () => refresh('sleeping'),
      logout: () => refresh('logout'),
    }),

    async accessToken() {
      if (endedReason === null && current && clock.now() < current.refreshAt) return current.token;
      const outcome = await refresh('token');
      const held = current as typeof current;
      // A failed refresh still leaves a token that has not expired good to use.
      if (held && (outcome.kind === 'ok' || outcome.kind === 'done' || clock.now() < held.expiresAt))
        return held.token;
      throw new TokenRefreshError(outcome);
    },

    close() {
      closed = true;
      schedule(null);
      channel?.close();
    },
  };
}
