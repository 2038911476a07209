import type { FastifyPluginAsync } from 'fastify';
import { ADMIN_EVENT_TYPES, type AdminEventStreams } from '../admin-events.js';
import { errorResponses } from '../schemas.js';

/**
 * `GET /v1/admin/events` (API key): the operators' live feed. The key comes in `Authorization`, as
 * everywhere else: browsers' `EventSource` cannot send headers, so the dashboard reads the stream
 * with `fetch` — a key in a URL would end up in logs and history.
 */

export const adminEventsSchema = {
  summary: 'Live feed of every session event',
  description:
    `Server-Sent Events named after the event type (${ADMIN_EVENT_TYPES.join(', ')}), each with ` +
    '`data: {type, at, session}` where `session` is the admin view. Sleeping heartbeats are left out. ' +
    'A comment line every 15 s keeps the stream open; `429` when too many streams are open.',
  tags: ['Events'],
  produces: ['text/event-stream'],
  response: {
    200: { description: 'text/event-stream', type: 'string' },
    ...errorResponses,
  },
} as const;

export interface AdminEventsRoutesOptions {
  streams: AdminEventStreams;
}

export const adminEventsRoutes: FastifyPluginAsync<AdminEventsRoutesOptions> = async (app, { streams }) => {
  app.get(
    '/v1/admin/events',
    { schema: adminEventsSchema, exposeHeadRoute: false },
    async (_request, reply) => {
      streams.open(() => {
        reply.hijack();
        return reply.raw;
      });
      return reply;
    },
  );
};
