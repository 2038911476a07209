import { type Signal, sessionStatus, type VigilConfig, VigilError } from '@vigil/core';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { bearerCredential, originAllowed } from '../auth.js';
import { clearSessionCookie, serializeSessionCookie } from '../cookies.js';
import { acceptHeartbeat } from '../heartbeat.js';
import type { VigilMetrics } from '../metrics.js';
import type { TokenBuckets } from '../rate-limit.js';
import type { HeartbeatRelay } from '../relay.js';
import { errorResponses, ref } from '../schemas.js';
import type { SessionService } from '../sessions-service.js';

/**
 * The browser's API (behind the session token). Unknown body fields are ignored rather than refused
 * here: browsers run whatever SDK version they loaded, and a newer one must not break heartbeats.
 */

export const heartbeatSchema = {
  summary: 'Send a heartbeat',
  description:
    '`active` (user activity) resets the idle timer; `sleeping` only proves the page is there. `401` when the session has ended (with the reason), `429` past the rate limit, `503` when the store cannot answer.',
  tags: ['Session'],
  body: {
    type: 'object',
    required: ['state'],
    properties: {
      state: { type: 'string', enum: ['active', 'sleeping'] },
      params: { type: 'object' },
      /** How a warning the browser showed ended (metrics only). */
      warning: { type: 'string', enum: ['extended', 'signed_out'] },
    },
  },
  response: { 200: ref.status, ...errorResponses },
} as const;

export const readSessionSchema = {
  summary: "Read this session's status",
  description: 'Touches nothing.',
  tags: ['Session'],
  response: { 200: ref.status, ...errorResponses },
} as const;

export const logoutSchema = {
  summary: 'Log out',
  description:
    'Ends this session (`logout`); in cookie mode the cookie is cleared too. The body is optional.',
  tags: ['Session'],
  body: {
    type: ['object', 'null'],
    properties: { warning: { type: 'string', enum: ['signed_out'] } },
  },
  response: { 204: { type: 'null', description: 'Logged out.' }, ...errorResponses },
} as const;

export const sessionCookieSchema = {
  summary: 'Move the session token into a cookie',
  description:
    'Cookie mode only: the token must come in `Authorization`; the answer sets the HttpOnly session cookie.',
  tags: ['Session'],
  // No body is needed; one sent anyway (an SDK that always sends `{}`) is ignored.
  body: { type: ['object', 'null'] },
  response: { 204: { type: 'null', description: 'The cookie is set.' }, ...errorResponses },
} as const;

interface HeartbeatBody {
  state: Signal;
  params?: Record<string, unknown>;
  warning?: 'extended' | 'signed_out';
}

export interface SessionRoutesOptions {
  service: SessionService;
  limiter: TokenBuckets;
  metrics: VigilMetrics;
  cookie: VigilConfig['cookie'];
  /** Forwards accepted heartbeats upstream, in the background; null when no relay is configured. */
  relay: HeartbeatRelay | null;
}

function sessionIdOf(request: FastifyRequest): string {
  // The token hook runs first in this scope; a missing id means a wiring mistake, not a client one.
  if (request.vigilSessionId === null) throw new Error('session-token hook did not run');
  return request.vigilSessionId;
}

export const sessionRoutes: FastifyPluginAsync<SessionRoutesOptions> = async (
  app,
  { service, limiter, metrics, cookie, relay },
) => {
  app.post<{ Body: HeartbeatBody }>('/v1/heartbeat', { schema: heartbeatSchema }, async (request) => {
    // The same code as a `/v1/ws` heartbeat: one rate limit, one touch, one set of metrics.
    return acceptHeartbeat({ service, limiter, metrics, relay }, sessionIdOf(request), request.body);
  });

  app.get('/v1/session', { schema: readSessionSchema }, async (request) => {
    const now = service.now();
    const { record, policy } = await service.status(sessionIdOf(request), now);
    return sessionStatus(record, policy, now);
  });

  app.delete<{ Body: { warning?: 'signed_out' } | null }>(
    '/v1/session',
    { schema: logoutSchema },
    async (request, reply) => {
      const id = sessionIdOf(request);
      // The cookie goes whatever the answer: a `401` means it holds a token that is no use any more.
      if (cookie.enabled) reply.header('set-cookie', clearSessionCookie(cookie));
      await service.logout(id);
      if (request.body?.warning === 'signed_out') metrics.warningOutcome('signed_out', id);
      return reply.code(204).send();
    },
  );

  if (!cookie.enabled) return;

  /**
   * Moves a token the browser holds into an HttpOnly cookie (an SPA that received it once). The token
   * must come in `Authorization`: this sets the cookie, it cannot be authorized by it. A browser's
   * `Origin`, when sent, must be allowed too, so that no other site can plant its own session here.
   */
  app.post('/v1/session/cookie', { schema: sessionCookieSchema }, async (request, reply) => {
    const id = sessionIdOf(request);
    if (request.vigilTokenSource !== 'header') {
      throw new VigilError('unauthenticated', 'Send the session token in Authorization to set the cookie.');
    }
    if (request.headers.origin !== undefined && !originAllowed(request, cookie)) {
      throw new VigilError('csrf_rejected', 'The cookie may only be set from an allowed Origin.');
    }
    await service.status(id);
    const token = bearerToken(request);
    return reply.code(204).header('set-cookie', serializeSessionCookie(cookie, token)).send();
  });
};

/** The session token of a header-authenticated request (the hook has checked its shape). */
function bearerToken(request: FastifyRequest): string {
  const token = bearerCredential(request);
  if (token === null) throw new Error('session-token hook did not run');
  return token;
}
