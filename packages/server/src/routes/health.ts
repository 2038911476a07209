import type { Store } from '@vigil/core';
import type { FastifyPluginAsync } from 'fastify';
import { errorResponses } from '../schemas.js';

/** Liveness (the process answers) and readiness (the store answers, within `storeTimeout`). */

const okSchema = (value: string, summary: string) =>
  ({
    summary,
    tags: ['Operations'],
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['status'],
        properties: { status: { type: 'string', enum: [value] } },
      },
      ...errorResponses,
    },
  }) as const;

export const healthzSchema = okSchema('ok', 'Liveness: the process answers');
export const readyzSchema = okSchema(
  'ready',
  'Readiness: the store answers within `storeTimeout` (and SQLite has not just refused a write: disk full, read-only)',
);

export interface HealthRoutesOptions {
  /** The bounded store: a hung store fails readiness after `storeTimeout`, not never. */
  store: Store;
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { store }) => {
  app.get('/healthz', { schema: healthzSchema }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: readyzSchema }, async () => {
    await store.ping();
    return { status: 'ready' };
  });
};
