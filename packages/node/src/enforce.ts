import type { IncomingHttpHeaders } from 'node:http';
import { type ErrorCode, RateLimitedError, StoreUnavailableError, VigilError } from '@vigil/core';
import { compilePassivePaths, hasPassiveHeader } from './passive.js';
import type { SessionChecker, VigilSession } from './session.js';
import { checkCookieName, tokenOf } from './token.js';

/** The options shared by the Express middleware and the Fastify plugin. */
export interface VigilOptions<Req> {
  /** Where sessions are checked: `localChecker({ store, config })` or `remoteChecker({ url })`. */
  checker: SessionChecker;
  /** Marks a request passive (polling, background refresh): it is checked but never extends the session. */
  passive?: (req: Req) => boolean;
  /** Paths whose requests are passive, in the server's `passivePaths` syntax: `['/api/poll/**', '/api/feeds/*']`. */
  passivePaths?: readonly string[];
  /** Also read the token from this cookie when there is no `Authorization: Bearer`. Default: none. */
  cookieName?: string;
}

const KNOWN = new Set(['checker', 'passive', 'passivePaths', 'cookieName']);

/** What a framework adapter asks of one request: the session, or a `VigilError` to answer with. */
/** The path of a request target (`/a/b?x=1` → `/a/b`): a query string never leaves the app. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

export type Enforce<Req> = (req: Req, headers: IncomingHttpHeaders, url: string) => Promise<VigilSession>;

/** Validates the options once (throws `TypeError`) and returns the per-request check. */
export function createEnforcer<Req>(
  caller: string,
  input: unknown,
  ignore: readonly string[] = [],
): Enforce<Req> {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(
      `${caller}: options are required ({ checker, passive?, passivePaths?, cookieName? })`,
    );
  }
  const options = input as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key) && !ignore.includes(key)) {
      throw new TypeError(`${caller}: unknown option '${key}' (known: ${[...KNOWN].join(', ')})`);
    }
  }
  const checker = options.checker as SessionChecker | undefined;
  if (typeof checker !== 'object' || checker === null || typeof checker.check !== 'function') {
    throw new TypeError(
      `${caller}: options.checker must be a SessionChecker: localChecker(…) or remoteChecker(…)`,
    );
  }
  const passive = options.passive as ((req: Req) => boolean) | undefined;
  if (passive !== undefined && typeof passive !== 'function') {
    throw new TypeError(`${caller}: options.passive must be a function (req) => boolean`);
  }
  const isPassivePath = compilePassivePaths(caller, options.passivePaths);
  const cookieName = checkCookieName(caller, options.cookieName);

  return async function enforceSession(req, headers, url) {
    const token = tokenOf(headers, cookieName);
    if (token === null) throw new VigilError('unauthenticated', 'A session token is required.');
    const isPassive =
      hasPassiveHeader(headers) || (isPassivePath?.(url) ?? false) || (passive?.(req) ?? false);
    return checker.check({ token, passive: isPassive, path: pathOf(url) });
  };
}

/** The body of every refusal, exactly as the server writes it. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string } & Record<string, unknown>;
}

export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

/** A `VigilError` as the server answers it: status, `Retry-After` for 503/429, the error body. */
export function errorReply(error: VigilError): ErrorReply {
  const headers: Record<string, string> = {
    'cache-control': 'no-store',
    'content-type': 'application/json; charset=utf-8',
  };
  if (error instanceof StoreUnavailableError || error instanceof RateLimitedError) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  }
  if (error.status === 401) headers['www-authenticate'] = 'Bearer realm="vigil"';
  return {
    status: error.status,
    headers,
    body: { error: { ...error.extraFields(), code: error.code, message: error.message } },
  };
}
