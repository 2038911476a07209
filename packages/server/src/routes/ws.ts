import websocket from '@fastify/websocket';
import { sessionStatus, type VigilConfig, VigilError } from '@vigil/core';
import type { FastifyPluginAsync } from 'fastify';
import { originAllowed } from '../auth.js';
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
    // Protocol errors (oversized, bad UTF-8) are closed by `ws` with their code; resets just end.
    errorHandler: (error, _socket, request) => {
      request.log.info({ code: (error as { code?: unknown }).code }, 'websocket error');
    },
    preClose: async () => {
      hub.stop();
      await hub.closeAll(WS_CLOSE.goingAway, 'shutting_down', CLOSE_GRACE_MS);
    },
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

  // A refused upgrade (any answer but 101) must not leave its socket open: Node hands upgrade
  // sockets to the plugin, outside the HTTP server's keep-alive bookkeeping, so nothing else would
  // close it — a client could hold it forever, and shutdown would wait for it.
  app.addHook('onResponse', async (request, reply) => {
    if (request.headers.upgrade !== undefined && reply.statusCode !== 101) request.raw.socket.end();
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
      serveSocket(deps, socket, request.vigilSessionId);
    },
  });
};
