import { sessionStatus } from '@vigil/core';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../schemas.js';
import type { SessionService } from '../sessions-service.js';
import type { EventStreams } from '../sse.js';

/**
 * `GET /v1/events`: this session's events as Server-Sent Events — `status` at once, then `warning`,
 * `extended` and `ended` (after which the stream closes). Opening or holding a stream touches
 * nothing: only heartbeats and forwarded requests count as activity.
 */

export const eventsSchema = {
  summary: "This session's events (Server-Sent Events)",
  description:
    '`status` at once, then `warning`, `extended` and `ended` (after which the stream closes). Holding a stream touches nothing.',
  tags: ['Events'],
  produces: ['text/event-stream'],
  response: {
    200: {
      description:
        'text/event-stream: events status, warning, extended (data: status) and ended (data: {reason, endedAt})',
      type: 'string',
    },
    ...errorResponses,
  },
} as const;

export interface EventsRoutesOptions {
  service: SessionService;
  streams: EventStreams;
}

export const eventsRoutes: FastifyPluginAsync<EventsRoutesOptions> = async (app, { service, streams }) => {
  app.get('/v1/events', { schema: eventsSchema, exposeHeadRoute: false }, async (request, reply) => {
    const id = request.vigilSessionId;
    if (id === null) throw new Error('session-token hook did not run');
    await streams.open(
      id,
      async () => {
        const now = service.now();
        const { record, policy } = await service.status(id, now);
        return sessionStatus(record, policy, now);
      },
      () => {
        reply.hijack();
        return reply.raw;
      },
    );
    return reply;
  });
};
