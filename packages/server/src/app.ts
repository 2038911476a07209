import type { IncomingMessage } from 'node:http';
import {
  type AuditLog,
  boundedStore,
  type Clock,
  MemoryAuditLog,
  SessionEvents,
  type Store,
  StoreUnavailableError,
  Sweeper,
  sessionStatus,
  systemClock,
  tokenStoreOf,
  type VigilConfig,
} from '@vigil/core';
import Fastify, {
  errorCodes,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
  type RouteOptions,
} from 'fastify';
import { AdminEventStreams, type AdminEventsOptions } from './admin-events.js';
import { AuditTrail, type AuditTrailTuning } from './audit-trail.js';
import { apiKeyScope, checkApiKey, sessionTokenScope } from './auth.js';
import { answerConnectAndExpect, clientErrorHandler } from './client-errors.js';
import { connectionDrain } from './connection-drain.js';
import { frameworkErrorHandler, registerErrorHandling, StatusError, sendError } from './error-handler.js';
import { LIMITS } from './limits.js';
import { lazyChildLogger, loggerOptions } from './logger.js';
import { VigilMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { OperatorStats } from './operator-stats.js';
import { TokenBuckets } from './rate-limit.js';
import { HeartbeatRelay, type RelayRetryOptions } from './relay.js';
import { adminEventsRoutes } from './routes/admin-events.js';
import { auditRoutes } from './routes/audit.js';
import { authorizeRoutes } from './routes/authorize.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventsRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { sessionRoutes } from './routes/session.js';
import { sessionsRoutes } from './routes/sessions.js';
import { statsRoutes } from './routes/stats.js';
import { wsRoutes } from './routes/ws.js';
import { addSharedSchemas } from './schemas.js';
import { SessionService } from './sessions-service.js';
import { EventStreams, type SseOptions } from './sse.js';
import { registerTokenMode, type TokenModeOptions } from './token-mode.js';
import { type WebhookDeliveryOptions, WebhookDispatcher } from './webhooks.js';
import type { WsOptions } from './ws.js';

export interface AppOptions {
  /** The validated config (`resolveConfig`). */
  config: VigilConfig;
  /** The raw store; the app wraps it with `boundedStore(config.storeTimeoutMs)`. Closing it is the caller's. */
  store: Store;
  /** The backend API key (`VIGIL_API_KEY`): required, non-empty, no whitespace, not token-shaped. */
  apiKey: string;
  /** Default `systemClock`. */
  clock?: Clock;
  /** Default: a new one. Exposed as `app.vigil.events`. */
  events?: SessionEvents;
  /** pino options (`true` for the defaults); default `false`. Credentials are redacted either way. */
  logger?: boolean | object;
  /** The sweeper (warnings, expiries, purge): started when the app is ready, stopped on close. */
  sweeper?: { intervalMs?: number } | false;
  /**
   * Where the audit trail (`GET /v1/audit`) is kept: the log matching the store (e.g. `SqliteAuditLog`
   * on the same file); closing it is the caller's. Default: a `MemoryAuditLog` of this process (each
   * node then keeps only the ends it saw). `false`: no trail, `/v1/audit` answers 404.
   */
  auditLog?: AuditLog | false;
  /** Audit writer tuning (batching, retries, purge interval); the retention is `config.audit.retention`. */
  auditTrail?: AuditTrailTuning;
  /** `/v1/events` tuning: ping interval (15 s), streams per session (10), unsent bytes per stream (64 KB). */
  sse?: SseOptions;
  /** `/v1/ws` tuning: ping interval (15 s), sockets per session (10), auth timeout (5 s), unsent bytes (64 KB); `false` serves no WebSocket. */
  ws?: WsOptions | false;
  /** Webhook delivery tuning (attempts, backoff, timeout, queue size); the endpoints are in `config.webhooks`. */
  webhookDelivery?: WebhookDeliveryOptions;
  /** Relay retry tuning (retries, backoff, requests in flight); the upstream is `config.relay`. */
  relayRetry?: RelayRetryOptions;
  /** `/v1/admin/events` tuning: streams at once (16), unsent bytes per stream (256 KB), ping interval (15 s). */
  adminEvents?: AdminEventsOptions;
  /** Called for every route as it is added (tools and tests list the API with it). */
  onRoute?: (route: RouteOptions) => void;
  /** Token mode (its store, key re-reading, purging); on by default when the store offers `tokenStore()`; `false` serves none. */
  tokens?: TokenModeOptions | false;
}

/** What the app shares with plugins and callers, as `app.vigil`. */
export interface VigilContext {
  events: SessionEvents;
  /** The bounded store: every call ends within `storeTimeout` or fails with `store_unavailable`. */
  store: Store;
  config: VigilConfig;
  clock: Clock;
  /** The audit trail's writer (`flush`, `purge`, `stats`); null with `auditLog: false`. */
  audit: AuditTrail | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    vigil: VigilContext;
  }
}

/** Long enough for a 256-character subject of 4-byte characters, percent-encoded, in a path. */
const MAX_PARAM_LENGTH = LIMITS.subjectLength * 12;

/** Builds the HTTP service, unstarted: the caller calls `listen()` (or `inject()` in tests). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const apiKey = checkApiKey(options.apiKey);
  const { config, clock = systemClock } = options;
  const store = boundedStore(options.store, { timeoutMs: config.storeTimeoutMs });

  const app = Fastify({
    logger: loggerOptions(options.logger, [apiKey]) as FastifyServerOptions['logger'],
    // A request's child logger is made when it first writes a line, not for every request.
    childLoggerFactory: lazyChildLogger,
    bodyLimit: LIMITS.bodyBytes,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Fastify's own 503 while closing has another error shape; the onRequest hook below answers instead.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorHandler,
    // Requests Node's parser refuses (oversized headers, garbage) never reach a route.
    clientErrorHandler,
    // Strict types (no "123" → 123), unknown fields refused where a schema says so, first error only.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const events =
    options.events ?? new SessionEvents((error) => app.log.error({ err: error }, 'event listener failed'));
  const metrics = new VigilMetrics({ store, clock, policyNames: config.policies.keys() });
  const service = new SessionService({ store, config, clock, events });
  const limiter = new TokenBuckets(config.heartbeatRateLimit);
  const streams = new EventStreams({
    ...options.sse,
    events,
    clock,
    statusOf: (record, now) => sessionStatus(record, service.policyFor(record.policy), now),
  });
  const webhooks =
    config.webhooks.length === 0
      ? null
      : new WebhookDispatcher({
          ...options.webhookDelivery,
          webhooks: config.webhooks,
          events,
          clock,
          log: app.log.child({ component: 'webhooks' }),
          metrics,
        });
  const relay =
    config.relay === null
      ? null
      : new HeartbeatRelay({
          ...options.relayRetry,
          config: config.relay,
          log: app.log.child({ component: 'relay' }),
          metrics,
          onRejected: async (sessionId) => {
            await service.end(sessionId, 'upstream_rejected');
          },
        });
  metrics.gaugeSources({ sseStreams: () => streams.size, webhookQueue: () => webhooks?.size ?? 0 });
  const stats = new OperatorStats({ clock, events });
  metrics.onHeartbeat((state, outcome) => {
    if (outcome === 'ok' && (state === 'active' || state === 'sleeping')) stats.heartbeat(state);
  });
  const adminStreams = new AdminEventStreams(events, options.adminEvents);

  const ownAuditLog = options.auditLog === undefined ? new MemoryAuditLog() : null;
  const auditLog = options.auditLog === false ? null : (options.auditLog ?? ownAuditLog);
  const audit =
    auditLog === null
      ? null
      : new AuditTrail({
          ...options.auditTrail,
          log: auditLog,
          events,
          clock,
          retentionMs: config.audit.retentionMs,
          timeoutMs: config.storeTimeoutMs,
          logger: app.log.child({ component: 'audit' }),
        });

  app.decorate('vigil', { events, store, config, clock, audit } satisfies VigilContext);
  app.decorateRequest('vigilSessionId', null);
  app.decorateRequest('vigilTokenSource', null);
  addSharedSchemas(app);
  registerErrorHandling(app, { onStoreError: () => metrics.storeError() });
  acceptJsonOnly(app);
  answerConnectAndExpect(app);

  const connections = connectionDrain(app.server);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    // Open streams would hold close() until their clients leave; webhooks and relay stop with the app.
    streams.stop();
    adminStreams.stop();
    webhooks?.stop();
    relay?.stop();
    connections.start();
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    return sendError(
      request,
      reply,
      new StoreUnavailableError('The service is shutting down; retry.'),
      false,
    );
  });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    if (handedOver(request)) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.routeOptions.url ?? 'not_found', reply.elapsedTime / 1000);
    // A refused upgrade or CONNECT must not leave its socket open: Node hands those sockets over,
    // outside the HTTP server's keep-alive bookkeeping and timeouts, so nothing else would close
    // it — a client could hold it forever, and shutdown would wait for it.
    if (handedOver(request) && reply.statusCode !== 101) request.raw.socket.destroySoon();
  });

  const unsubscribe = metrics.subscribe(events);
  // onClose hooks run last-added first: this one runs after the sweeper's last round, so the ends
  // that round reports are written too.
  app.addHook('onClose', async () => {
    await audit?.stop();
    await ownAuditLog?.close();
  });
  if (options.sweeper !== false) {
    const sweeper = new Sweeper({
      store,
      clock,
      events,
      endedRetentionMs: config.endedRetentionMs,
      ...(options.sweeper?.intervalMs !== undefined && { intervalMs: options.sweeper.intervalMs }),
      // A failed round delays events, never enforcement (reads check deadlines); the next round retries.
      onError: (error) => {
        if (error instanceof StoreUnavailableError) {
          metrics.storeError();
          app.log.warn({ code: error.code, reason: error.message }, 'sweep failed');
        } else {
          app.log.error({ err: error }, 'sweep failed');
        }
      },
    });
    app.addHook('onReady', async () => sweeper.start());
    app.addHook('onClose', async () => sweeper.stop());
    app.addHook('onReady', async () => audit?.startPurging());
  }
  app.addHook('onClose', async () => {
    unsubscribe();
    stats.stop();
  });

  // Both must see every route, so they come before the first.
  if (options.onRoute !== undefined) app.addHook('onRoute', options.onRoute);
  await registerOpenApi(app, { cookie: config.cookie });

  await app.register(healthRoutes, { store });
  await app.register(metricsRoutes, { metrics });
  await app.register(apiKeyScope(apiKey, sessionsRoutes, { service }));
  const now = () => clock.now();
  await app.register(apiKeyScope(apiKey, statsRoutes, { store, stats, config, now }));
  await app.register(apiKeyScope(apiKey, adminEventsRoutes, { streams: adminStreams }));
  await app.register(apiKeyScope(apiKey, auditRoutes, { trail: audit }));
  await app.register(dashboardRoutes);
  const { cookie } = config;
  await app.register(
    sessionTokenScope(sessionRoutes, { service, limiter, metrics, cookie, relay }, { cookie, csrf: true }),
  );
  // Forward-auth checks the proxied request's method, not a call of the browser's: no CSRF check.
  await app.register(
    sessionTokenScope(
      authorizeRoutes,
      { service, metrics, passivePaths: config.passivePaths },
      { cookie, csrf: false },
    ),
  );
  await app.register(sessionTokenScope(eventsRoutes, { service, streams }, { cookie, csrf: false }));
  const tokenStore = options.tokens === false ? null : (options.tokens?.store ?? tokenStoreOf(options.store));
  if (tokenStore !== null) {
    const background = options.sweeper !== false;
    await registerTokenMode(
      app,
      { store: tokenStore, service, config, clock, apiKey, background },
      options.tokens || {},
    );
  }
  if (options.ws !== false) {
    // The credential may come in a first message instead; the route checks a cookie's Origin itself.
    await app.register(
      sessionTokenScope(
        wsRoutes,
        { service, limiter, metrics, relay, cookie, connections, ws: options.ws ?? {} },
        { cookie, csrf: false, optional: true },
      ),
    );
  }
  return app;
}

/** True for an upgrade (WebSocket) or a `CONNECT`: Node gave its socket to a listener, not to the server. */
function handedOver(request: FastifyRequest): boolean {
  return (request.raw as IncomingMessage & { upgrade?: boolean }).upgrade === true;
}

/**
 * JSON is the only body type, and it comes as is. An empty body is accepted as no body whatever its
 * Content-Type (a logout sent by a client that always sets `Content-Type: application/json`); any
 * other type is 415. So is a body with a `Content-Encoding` (gzip, br...): refused before it is
 * parsed, rather than parsed as if it were plain JSON (a label that lies) or refused as invalid JSON
 * (a real gzip body), and nothing is changed. The check sits in the parser, which runs only for a
 * body: a request without one (a heartbeat's authorize, a read) pays for no extra hook.
 */
function acceptJsonOnly(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) done(null, undefined);
    else if (encoded(request.headers['content-encoding'])) done(unsupportedEncoding(), undefined);
    else parseJson(request, body as string, done);
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    if (body.length === 0) done(null, undefined);
    else done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
  });
}

const unsupportedEncoding = () =>
  new StatusError(415, 'bad_request', 'Unsupported Content-Encoding: send the body uncompressed.');

/** Any coding but `identity` (the header may list several, in any case). */
function encoded(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((coding) => {
    const name = coding.trim().toLowerCase();
    return name !== '' && name !== 'identity';
  });
}
