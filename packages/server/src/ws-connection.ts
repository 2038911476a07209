import {
  looksLikeSessionToken,
  RateLimitedError,
  SessionEndedError,
  type SessionStatus,
  StoreUnavailableError,
  sessionIdFor,
  sessionStatus,
  VigilError,
} from '@vigil/core';
import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { acceptHeartbeat, type HeartbeatDeps } from './heartbeat.js';
import type { Connection, SocketHub } from './ws.js';
import { type ClientMessage, parseClientMessage, WS_CLOSE } from './ws-protocol.js';

export interface SocketDeps extends HeartbeatDeps {
  hub: SocketHub;
  log: FastifyBaseLogger;
}

/**
 * Messages a socket may have waiting while an earlier one is served; past it the socket is closed
 * `4429`. More could not succeed anyway (the heartbeat rate limit allows a burst of about ten), and
 * the cap keeps a flood from queueing parsed messages in memory faster than the store answers.
 */
const MAX_QUEUED = 32;

/**
 * Serves one upgraded `/v1/ws` socket: authentication (at the upgrade, or a first `auth` message),
 * then heartbeats, answered in order. A heartbeat is exactly an HTTP heartbeat (`acceptHeartbeat`);
 * nothing else a socket does — opening, authenticating, ping/pong — touches the session.
 */
export function serveSocket(deps: SocketDeps, socket: WebSocket, sessionId: string | null): void {
  const { hub } = deps;
  const connection = hub.accept(socket);
  let queue: Promise<void> = Promise.resolve();
  let queued = 0;
  const enqueue = (work: () => Promise<void>): void => {
    queued++;
    queue = queue
      .then(() => (connection.closed ? undefined : work()))
      .catch((error: unknown) => {
        deps.log.error({ err: error }, 'websocket message failed');
        hub.close(connection, WS_CLOSE.internalError, 'internal_error');
      })
      .finally(() => {
        queued--;
      });
  };

  // A close for this socket's own doing (a malformed message, too many waiting) takes its turn
  // behind the messages accepted before it, so that their answers go out first — a heartbeat that
  // was served is always answered — and nothing that arrives after it is read.
  let closing = false;
  const closeInTurn = (code: number, reason: string): void => {
    closing = true;
    enqueue(async () => hub.close(connection, code, reason));
  };

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (connection.closed || closing) return;
    if (isBinary) {
      closeInTurn(WS_CLOSE.malformed, 'malformed: send JSON text');
      return;
    }
    const parsed = parseClientMessage(textOf(data));
    if (!parsed.ok) {
      closeInTurn(WS_CLOSE.malformed, parsed.reason);
      return;
    }
    if (queued >= MAX_QUEUED) {
      closeInTurn(WS_CLOSE.tooMany, 'rate_limited');
      return;
    }
    const message = parsed.message;
    enqueue(() => handle(deps, connection, message));
  });

  if (sessionId !== null) {
    enqueue(() => authenticate(deps, connection, sessionId));
  } else {
    connection.authTimer = setTimeout(
      () => hub.close(connection, WS_CLOSE.authTimeout, 'auth_timeout'),
      hub.authTimeoutMs,
    ).unref();
  }
}

function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

async function handle(deps: SocketDeps, connection: Connection, message: ClientMessage): Promise<void> {
  const { hub } = deps;
  if (message.type === 'auth') {
    const valid = looksLikeSessionToken(message.token);
    if (connection.sessionId === null) {
      clearTimeout(connection.authTimer);
      if (!valid) hub.close(connection, WS_CLOSE.sessionEnded, 'unauthenticated');
      else await authenticate(deps, connection, sessionIdFor(message.token));
    } else if (!valid || sessionIdFor(message.token) !== connection.sessionId) {
      // The same session again (a client holding both a cookie and the token) is ignored: it costs
      // nothing. Another session on the same socket is a client bug.
      hub.close(connection, WS_CLOSE.malformed, 'malformed: already authenticated');
    }
    return;
  }
  const id = connection.sessionId;
  if (id === null) {
    hub.close(connection, WS_CLOSE.sessionEnded, 'unauthenticated');
    return;
  }
  const { requestId, ...input } = message;
  let status: SessionStatus;
  try {
    status = await acceptHeartbeat(deps, id, input);
  } catch (error) {
    refuse(deps, connection, error, requestId);
    return;
  }
  hub.send(connection, { type: 'status', ...(requestId !== undefined && { requestId }), ...status });
}

/** Binds the socket to its session and sends the first status; refuses an unknown or ended one. */
async function authenticate(deps: SocketDeps, connection: Connection, id: string): Promise<void> {
  const { hub, service } = deps;
  // Bound first, so that an event landing while the status is read is held and sent after it.
  hub.attach(connection, id);
  let status: SessionStatus;
  try {
    const now = service.now();
    const { record, policy } = await service.status(id, now);
    status = sessionStatus(record, policy, now);
  } catch (error) {
    if (error instanceof StoreUnavailableError) {
      hub.close(connection, WS_CLOSE.tryAgainLater, 'store_unavailable');
      return;
    }
    // No status is sent for an unknown or ended session (DESIGN), only the close with the reason.
    if (error instanceof SessionEndedError) hub.close(connection, WS_CLOSE.sessionEnded, error.reason);
    else if (error instanceof VigilError) hub.close(connection, WS_CLOSE.sessionEnded, 'unauthenticated');
    else throw error;
    return;
  }
  hub.ready(connection, status);
}

/** A heartbeat that failed, answered the way its HTTP twin's status code says. */
function refuse(
  deps: SocketDeps,
  connection: Connection,
  error: unknown,
  requestId: string | number | undefined,
): void {
  const { hub } = deps;
  if (error instanceof RateLimitedError) {
    hub.close(connection, WS_CLOSE.tooMany, 'rate_limited');
  } else if (error instanceof SessionEndedError) {
    hub.end(connection, error.reason, error.endedAt);
  } else if (error instanceof StoreUnavailableError) {
    // Transient, like a `503`: the socket stays, the client retries this heartbeat with backoff.
    hub.send(connection, {
      type: 'error',
      ...(requestId !== undefined && { requestId }),
      error: { code: error.code, message: error.message, retryAfterMs: error.retryAfterMs },
    });
  } else if (error instanceof VigilError && error.status === 401) {
    hub.close(connection, WS_CLOSE.sessionEnded, 'unauthenticated');
  } else if (error instanceof VigilError && error.status === 400) {
    hub.close(connection, WS_CLOSE.malformed, `malformed: ${error.code}`);
  } else {
    throw error;
  }
}
