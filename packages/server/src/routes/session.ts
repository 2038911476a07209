import { RateLimitedError, type Signal, StoreUnavailableError, sessionStatus, VigilError } from '@vigil/core';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { checkJsonObjectSize } from '../limits.js';
import type { HeartbeatOutcome, VigilMetrics, WarningOutcome } from '../metrics.js';
import type { TokenBuckets } from '../rate-limit.js';
import { errorResponses, ref } from '../schemas.js';
import type { SessionService } from '../sessions-service.js';

/**
 * The browser's API (behind the session token). Unknown body fields are ignored rather than refused
 * here: browsers run whatever SDK version they loaded, and a newer one must not break heartbeats.
 */

export const heartbeatSchema = {
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
  response: { 200: ref.status, ...errorResponses },
} as const;

export const logoutSchema = {
  body: {
    type: ['object', 'null'],
    properties: { warning: { type: 'string', enum: ['signed_out'] } },
  },
  response: { 204: { type: 'null' }, ...errorResponses },
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
}

function sessionIdOf(request: FastifyRequest): string {
  // The token hook runs first in this scope; a missing id means a wiring mistake, not a client one.
  if (request.vigilSessionId === null) throw new Error('session-token hook did not run');
  return request.vigilSessionId;
}

function outcomeOf(error: unknown): HeartbeatOutcome {
  if (error instanceof RateLimitedError) return 'rate_limited';
  if (error instanceof StoreUnavailableError) return 'unavailable';
  if (error instanceof VigilError && error.code === 'session_ended') return 'ended';
  if (error instanceof VigilError && error.code === 'unauthenticated') return 'unauthenticated';
  throw error;
}

export const sessionRoutes: FastifyPluginAsync<SessionRoutesOptions> = async (
  app,
  { service, limiter, metrics },
) => {
  app.post<{ Body: HeartbeatBody }>('/v1/heartbeat', { schema: heartbeatSchema }, async (request) => {
    const id = sessionIdOf(request);
    const { state, params, warning } = request.body;
    checkJsonObjectSize(params, 'body.params');
    const now = service.now();
    try {
      const waitMs = limiter.take(id, now);
      if (waitMs > 0) throw new RateLimitedError(waitMs);
      const { record, policy } = await service.heartbeat(id, state, params, now);
      metrics.heartbeat(state, 'ok');
      if (warning !== undefined) metrics.warningOutcome(warning satisfies WarningOutcome, id);
      return sessionStatus(record, policy, now);
    } catch (error) {
      metrics.heartbeat(state, outcomeOf(error));
      throw error;
    }
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
      await service.logout(id);
      if (request.body?.warning === 'signed_out') metrics.warningOutcome('signed_out', id);
      return reply.code(204).send();
    },
  );
};
