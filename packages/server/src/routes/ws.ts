import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import websocket from '@fastify/websocket';
import { sessionStatus, type VigilConfig, VigilError } from '@vigil/core';
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { originAllowed } from '../auth.js';
import { writeErrorAndClose } from '../client-errors.js';
import type { ConnectionDrain } from '../connection-drain.js';
import type { HeartbeatDeps } from '../heartbeat.js';
import { LIMITS } from '../limits.js';
import { errorResponses } from '../schemas.js';
import { SocketHub, type WsOptions } from '../ws.js';
import { serveSocket } from '../ws-connection.js';
import { WS_CLOSE } from '../ws-protocol.js';

/**
 * `GET /v1/ws`: one socket for heartbeats in and events out (DESIGN: "WebSocket"). Registered in a
 * session-token scope whose credential is optional: a browser cannot set `Authorization` on a
 * WebSocket, so without a cookie it authenticates with a first `{"type":"auth"}` message instead.
 */

export const wsSchema = {
  summary: 'Heartbeats in, events out (WebSocket)',
  description:
    'Upgrade to a WebSocket. In: `{"type":"auth","token"}` (when no credential came with the upgrade), `{"type":"heartbeat","state","params"?,"requestId"?}`. Out: `{"type":"status",...status}` (first at once, then one per heartbeat), pushed `warning`/`extended` (status) and `ended` `{reason, endedAt}`. Close codes: 4401 session ended (reason as close reason), 4400 malformed message, 4408 no auth in time, 4429 too many messages or sockets, 1009 a message over 64 KB. Transport ping/pong never count as activity.',
  tags: ['Events'],
  response: {
    101: { description: 'Switching Protocols: the WebSocket is open.' },
    ...errorResponses,
  },
} as const;

export interface WsRoutesOptions extends HeartbeatDeps {
  cookie: VigilConfig['cookie'];
  /** Upgraded sockets are the hub's to close: the drain of a closing server leaves them alone. */
  connections: ConnectionDrain;
  ws: WsOptions;
}

/** How long `app.close()` waits for clients to answer the close before dropping their sockets. */
const CLOSE_GRACE_MS = 1000;

export const wsRoutes: FastifyPluginAsync<WsRoutesOptions> = async (app, options) => {
  const { service, metrics, cookie } = options;
  const hub = new SocketHub({
    ...options.ws,
    events: app.vigil.events,
    clock: app.vigil.clock,
    statusOf: (record, now) => sessionStatus(record, service.policyFor(record.policy), now),
  });
  metrics.gaugeSources({ wsSockets: () => hub.size });
  const deps = { ...options, hub, log: app.log.child({ component: 'ws' }) };

  await app.register(websocket, {
    // Over 64 KB (the HTTP body limit) the `ws` library closes with 1009 before buffering more.
    options: { maxPayload: LIMITS.bodyBytes, clientTracking: false, perMessageDeflate: false },
    // Only a throwing wsHandler ends up here: an open socket's errors go to `answerErrors` below.
    errorHandler: (error, _socket, request) => logSocketError(deps.log, request.id, error),
    preClose: async () => {
      hub.stop();
      await hub.closeAll(WS_CLOSE.goingAway, 'shutting_down', CLOSE_GRACE_MS);
    },
  });

  // The plugin's placeholder response of each upgrade, for the handler to release (see below).
  const placeholders = new WeakMap<FastifyRequest, ServerResponse>();
  app.addHook('onRequest', async (request, reply) => {
    if (request.ws) placeholders.set(request, reply.raw);
  });

  // Before the upgrade: an unknown or ended token is refused with a plain `401` (no socket at all),
  // and a cookie must come with an allowed `Origin` — browsers do not apply CORS to WebSockets, so
  // without this any site could open one with the user's cookie and send "active" heartbeats.
  app.addHook('onRequest', async (request) => {
    const id = request.vigilSessionId;
    if (id === null) return;
    if (request.vigilTokenSource === 'cookie' && !originAllowed(request, cookie)) {
      throw new VigilError(
        'csrf_rejected',
        'A cookie-authenticated socket must come from an allowed Origin.',
      );
    }
    await service.status(id);
  });

  // (A refused upgrade's socket is closed after its answer by the app's `onResponse` hook.)

  // A handshake the `ws` library refuses (no or a bad `Sec-WebSocket-Key`, a version it does not
  // speak) after the hooks above let it through: without this listener `ws` answers it in HTML.
  app.websocketServer.on('wsClientError', (error: Error, socket: Duplex, request: IncomingMessage) => {
    deps.log.info({ code: 'bad_request', statusCode: 400 }, 'websocket handshake refused');
    const version = Number(request.headers['sec-websocket-version']);
    // RFC 6455, 4.4: a version the server does not speak is answered with the ones it does.
    const headers: Record<string, string> =
      version === 13 || version === 8 ? {} : { 'sec-websocket-version': '13, 8' };
    writeErrorAndClose(socket, new VigilError('bad_request', error.message), headers);
  });

  app.route({
    method: 'GET',
    url: '/v1/ws',
    schema: wsSchema,
    exposeHeadRoute: false,
    handler: async () => {
      throw new VigilError('bad_request', 'GET /v1/ws needs a WebSocket upgrade.');
    },
    wsHandler: (socket, request) => {
      if (hub.stopped) {
        // Upgraded while the app was closing, after the hub closed its sockets: nothing would close
        // this one, and close() would wait for it.
        socket.terminate();
        return;
      }
      options.connections.handOver(request.raw.socket);
      answerErrors(socket, deps.log, request.id);
      serveSocket(deps, socket, request.vigilSessionId);
      releasePlaceholder(placeholders.get(request));
    },
  });
};

// Releasing the upgrade request. @fastify/websocket (11.3, index.js) leaves two paths from an open
// socket back to its upgrade, which would hold the `IncomingMessage`, the placeholder
// `ServerResponse`, Fastify's `Request`/`Reply` and the request's logger for the socket's whole life
// (about 3 KB a socket in bench/ws.mjs; test/ws-memory.test.ts): the net socket's `_httpMessage` is
// that placeholder (`rawResponse.assignSocket(socket)`, line 122), and the WebSocket's `error`
// listener is a closure over `request` and `reply` (line 212). Nothing needs either after the
// upgrade, so both are cut here; the socket itself keeps only plain values.

/**
 * Replaces the plugin's `error` listener (the only one at this point) by one that holds the request
 * id alone. `ws` closes the socket itself after a protocol error; this only has to log it — and an
 * `error` event with no listener at all would crash the process.
 */
function answerErrors(socket: WebSocket, log: FastifyBaseLogger, requestId: string): void {
  socket.removeAllListeners('error');
  socket.on('error', (error) => logSocketError(log, requestId, error));
}

function logSocketError(log: FastifyBaseLogger, requestId: string, error: unknown): void {
  // Oversized or invalid frames (closed by `ws` with their code) and resets: the client's doing.
  log.info({ reqId: requestId, code: (error as { code?: unknown }).code }, 'websocket error');
}

/**
 * Unbinds the placeholder response from the upgraded socket. It is never written: the reply is
 * hijacked, and ending it would run the plugin's `onResponse` hook, which destroys the socket.
 */
function releasePlaceholder(response: ServerResponse | undefined): void {
  if (response?.socket) response.detachSocket(response.socket);
}
