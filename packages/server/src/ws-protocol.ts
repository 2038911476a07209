import type { Signal } from '@vigil/core';
import { jsonSizeUpTo, LIMITS } from './limits.js';
import type { WarningOutcome } from './metrics.js';

/**
 * The `/v1/ws` wire format (DESIGN: "WebSocket"): what a client may send, and the close codes the
 * server ends a socket with. Parsing is pure so that property tests can throw anything at it.
 */

/** Close codes (RFC 6455 and DESIGN's 4xxx, which mirror the HTTP statuses). */
export const WS_CLOSE = {
  /** The app is shutting down: reconnect (with backoff) to another node or later. */
  goingAway: 1001,
  /** A message over 64 KB (sent by the `ws` library itself, from `maxPayload`). */
  tooBig: 1009,
  /** Something failed on the server that a retry may not fix. */
  internalError: 1011,
  /** The store could not answer while authenticating: retry with backoff (like a `503`). */
  tryAgainLater: 1013,
  /** A message that is not JSON text, not an object, of an unknown type, or with invalid fields. */
  malformed: 4400,
  /** The session ended (reason in the close reason) or the token is unknown (`unauthenticated`). */
  sessionEnded: 4401,
  /** No credential at the upgrade and no `auth` message within the auth timeout (default 5 s). */
  authTimeout: 4408,
  /** Too many heartbeats for the session (its rate limit), or too many sockets for one session. */
  tooMany: 4429,
} as const;

/** A request id the client may attach to a heartbeat; it comes back on the answer. */
export type RequestId = string | number;

export type ClientMessage =
  | { type: 'auth'; token: string }
  | {
      type: 'heartbeat';
      state: Signal;
      params?: Record<string, unknown>;
      warning?: WarningOutcome;
      requestId?: RequestId;
    };

export type Parsed = { ok: true; message: ClientMessage } | { ok: false; reason: string };

const MAX_REQUEST_ID_LENGTH = 64;
/** Tokens are `vgl_` + 43 characters; anything much longer is not worth hashing. */
const MAX_TOKEN_LENGTH = 256;

function refuse(reason: string): Parsed {
  return { ok: false, reason: `malformed: ${reason}` };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validRequestId(value: unknown): value is RequestId {
  if (typeof value === 'string') return value.length > 0 && value.length <= MAX_REQUEST_ID_LENGTH;
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/**
 * One text message from a client. Unknown fields are ignored, as in the HTTP heartbeat body (a newer
 * SDK must not break an older server); everything the server acts on is checked exactly as the
 * HTTP schema checks it. Reasons never echo the input (a token could be in it).
 */
export function parseClientMessage(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refuse('not JSON');
  }
  if (!isPlainObject(value)) return refuse('not a JSON object');
  const { type } = value;
  if (type === 'auth') {
    const { token } = value;
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      return refuse('auth needs a token');
    }
    return { ok: true, message: { type: 'auth', token } };
  }
  if (type !== 'heartbeat') return refuse('unknown type');
  const { state, params, warning, requestId } = value;
  if (state !== 'active' && state !== 'sleeping') return refuse('state must be active or sleeping');
  if (params !== undefined) {
    if (!isPlainObject(params)) return refuse('params must be an object');
    if (jsonSizeUpTo(params, LIMITS.jsonObjectBytes) > LIMITS.jsonObjectBytes) {
      return refuse(`params must be at most ${LIMITS.jsonObjectBytes} bytes as JSON`);
    }
  }
  if (warning !== undefined && warning !== 'extended' && warning !== 'signed_out') {
    return refuse('warning must be extended or signed_out');
  }
  if (requestId !== undefined && !validRequestId(requestId)) {
    return refuse(`requestId must be a string of 1-${MAX_REQUEST_ID_LENGTH} characters or an integer`);
  }
  return {
    ok: true,
    message: {
      type: 'heartbeat',
      state,
      ...(params !== undefined && { params }),
      ...(warning !== undefined && { warning }),
      ...(requestId !== undefined && { requestId }),
    },
  };
}
