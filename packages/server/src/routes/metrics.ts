import type { FastifyPluginAsync } from 'fastify';
import type { VigilMetrics } from '../metrics.js';
import { errorResponses } from '../schemas.js';

export const metricsSchema = {
  summary: 'Prometheus metrics',
  tags: ['Operations'],
  produces: ['text/plain'],
  response: { 200: { type: 'string', description: 'The Prometheus text format.' }, ...errorResponses },
} as const;

export interface MetricsRoutesOptions {
  metrics: VigilMetrics;
}

/** Prometheus exposition of this app's registry. */
export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, { metrics }) => {
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
