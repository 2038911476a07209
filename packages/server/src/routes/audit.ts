import {
  AUDIT_ACTORS,
  type AuditEntry,
  decodeAuditCursor,
  END_REASONS,
  invalidCursorError,
  VigilError,
} from '@vigil/core';
import type { FastifyPluginAsync } from 'fastify';
import type { AuditTrail } from '../audit-trail.js';
import { LIMITS } from '../limits.js';
import { errorResponses } from '../schemas.js';

/** `GET /v1/audit` (API key): how sessions ended, newest first, paged by cursor. */

export const DEFAULT_AUDIT_PAGE = 100;

const auditEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['sessionId', 'subject', 'policy', 'reason', 'actor', 'endedAt'],
  properties: {
    sessionId: { type: 'string' },
    subject: { type: 'string' },
    policy: { type: 'string' },
    reason: { type: 'string', enum: END_REASONS },
    actor: {
      type: 'string',
      enum: AUDIT_ACTORS,
      description:
        '`timeout` (idle or absolute), `user` (logout), `admin` (revoked with the API key), `upstream` (the relay upstream refused), `reuse` (a used refresh token came back), `system` (evicted by maxSessions, or a reason this version does not know).',
    },
    endedAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const auditSchema = {
  summary: 'The audit trail of session ends',
  description:
    'Every session end with its reason, time and actor, newest first, kept for `audit.retention` (default 30 days). ' +
    'Page with `limit` and the `nextCursor` of the previous answer; `nextCursor` is null on the last page.',
  tags: ['Sessions'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      subject: { type: 'string', minLength: 1, maxLength: LIMITS.subjectLength },
      limit: {
        type: 'string',
        pattern: '^(?:[1-9][0-9]{0,2}|1000)$',
        description: `Entries per page: an integer from 1 to 1000 (default ${DEFAULT_AUDIT_PAGE}).`,
      },
      cursor: { type: 'string', minLength: 1, maxLength: 1400, pattern: '^[A-Za-z0-9_-]+$' },
    },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['entries', 'nextCursor'],
      properties: {
        entries: { type: 'array', items: auditEntrySchema },
        nextCursor: { type: ['string', 'null'] },
      },
    },
    ...errorResponses,
  },
} as const;

export interface AuditRoutesOptions {
  /** Null when the server runs without an audit trail (`buildApp({auditLog: false})`). */
  trail: AuditTrail | null;
}

interface AuditQuerystring {
  subject?: string;
  limit?: string;
  cursor?: string;
}

const view = (entry: AuditEntry) => ({ ...entry, endedAt: new Date(entry.endedAt).toISOString() });

export const auditRoutes: FastifyPluginAsync<AuditRoutesOptions> = async (app, { trail }) => {
  app.get<{ Querystring: AuditQuerystring }>('/v1/audit', { schema: auditSchema }, async (request) => {
    if (trail === null) throw new VigilError('not_found', 'This server keeps no audit trail.');
    const { subject, limit, cursor } = request.query;
    // Checked here too, so that a bad cursor is named as the query's field, before any store call.
    if (cursor !== undefined && decodeAuditCursor(cursor) === null)
      throw invalidCursorError('querystring.cursor');
    const page = await trail.query({
      ...(subject !== undefined && { subject }),
      ...(cursor !== undefined && { cursor }),
      limit: limit === undefined ? DEFAULT_AUDIT_PAGE : Number(limit),
    });
    return { entries: page.entries.map(view), nextCursor: page.nextCursor };
  });
};
