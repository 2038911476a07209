import { END_REASONS, type Store, type VigilConfig } from '@vigil/core';
import type { FastifyPluginAsync } from 'fastify';
import type { OperatorStats } from '../operator-stats.js';
import { errorResponses } from '../schemas.js';

/**
 * `GET /v1/stats` (API key): what the dashboard and `vigil stats` show. Live counts come from the
 * store's `countLive` (the same cheap, indexed count as the `vigil_sessions_live` gauge, never a
 * scan); everything else is this node's memory (`OperatorStats`).
 */

const isoTime = { type: 'string', format: 'date-time' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const counts = { type: 'array', items: count } as const;

export const statsSchema = {
  summary: 'Live counts, counters since start and the last hour',
  description:
    'Live sessions by policy and state (`warning`: in the warning period, as far as this node has heard), ' +
    'counters since this node started (heartbeats it accepted; creations and ends it heard of, which with a ' +
    'cross-node store include the other nodes), and the same over the last hour in fixed buckets.',
  tags: ['Operations'],
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['serverTime', 'startedAt', 'live', 'policies', 'totals', 'recent'],
      properties: {
        serverTime: isoTime,
        startedAt: isoTime,
        live: {
          type: 'object',
          additionalProperties: false,
          required: ['total', 'byPolicy'],
          properties: {
            total: count,
            byPolicy: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['policy', 'active', 'warning'],
                properties: { policy: { type: 'string' }, active: count, warning: count },
              },
            },
          },
        },
        policies: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'idleTimeoutMs', 'absoluteTimeoutMs', 'warnBeforeMs'],
            properties: {
              name: { type: 'string' },
              idleTimeoutMs: count,
              absoluteTimeoutMs: count,
              warnBeforeMs: count,
            },
          },
        },
        totals: {
          type: 'object',
          additionalProperties: false,
          required: ['created', 'heartbeats', 'ended'],
          properties: {
            created: count,
            heartbeats: {
              type: 'object',
              additionalProperties: false,
              required: ['active', 'sleeping'],
              properties: { active: count, sleeping: count },
            },
            ended: {
              type: 'object',
              additionalProperties: false,
              required: [...END_REASONS],
              properties: Object.fromEntries(END_REASONS.map((reason) => [reason, count])),
            },
          },
        },
        recent: {
          description:
            'Counts per bucket, oldest first: the first bucket starts at `from`, each lasts `bucketMs`; ' +
            '`expired` are timeouts, `revoked` every other end.',
          type: 'object',
          additionalProperties: false,
          required: ['from', 'bucketMs', 'heartbeats', 'expired', 'revoked'],
          properties: {
            from: isoTime,
            bucketMs: count,
            heartbeats: counts,
            expired: counts,
            revoked: counts,
          },
        },
      },
    },
    ...errorResponses,
  },
} as const;

export interface StatsRoutesOptions {
  /** The bounded store: a hung store answers `503` after `storeTimeout`. */
  store: Store;
  stats: OperatorStats;
  config: VigilConfig;
  now: () => number;
}

export const statsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (
  app,
  { store, stats, config, now },
) => {
  app.get('/v1/stats', { schema: statsSchema }, async () => {
    const at = now();
    const live = await store.countLive(at);
    const snapshot = stats.snapshot(at);
    // Every configured policy, even with nothing live, then any other the store still holds.
    const names = [...new Set([...config.policies.keys(), ...Object.keys(live)])];
    const byPolicy = names.map((policy) => {
      const total = live[policy] ?? 0;
      const warning = Math.min(total, snapshot.warning.get(policy) ?? 0);
      return { policy, active: total - warning, warning };
    });
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      serverTime: iso(at),
      startedAt: iso(snapshot.startedAt),
      live: { total: byPolicy.reduce((sum, row) => sum + row.active + row.warning, 0), byPolicy },
      policies: [...config.policies].map(([name, policy]) => ({
        name,
        idleTimeoutMs: policy.idleTimeoutMs,
        absoluteTimeoutMs: policy.absoluteTimeoutMs,
        warnBeforeMs: policy.warnBeforeMs,
      })),
      totals: { created: snapshot.created, heartbeats: snapshot.heartbeats, ended: snapshot.ended },
      recent: {
        from: iso(snapshot.recent.from),
        bucketMs: snapshot.recent.bucketMs,
        ...snapshot.recent.series,
      },
    };
  });
};
