import { END_REASONS, ERROR_CODES } from '@vigil/core';
import type { FastifyInstance } from 'fastify';

/**
 * The shapes shared by several routes, added once by `$id` and referenced as `{ $ref: 'status#' }`.
 * Response schemas are also a filter: fast-json-stringify writes only the properties named here, so
 * a field added to a record by mistake (a token, a hash) cannot reach a client.
 */

const isoTime = { type: 'string', format: 'date-time' } as const;
const durationMs = { type: 'integer', minimum: 0 } as const;

export const statusSchema = {
  $id: 'status',
  description: "The session's status: its deadlines as durations from now (and as times).",
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'subject',
    'policy',
    'state',
    'idleExpiresInMs',
    'absoluteExpiresInMs',
    'warnInMs',
    'heartbeatIntervalMs',
    'idleExpiresAt',
    'absoluteExpiresAt',
    'serverTime',
  ],
  properties: {
    id: { type: 'string' },
    subject: { type: 'string' },
    policy: { type: 'string' },
    state: { type: 'string', enum: ['active', 'warning'] },
    idleExpiresInMs: durationMs,
    absoluteExpiresInMs: durationMs,
    warnInMs: durationMs,
    heartbeatIntervalMs: durationMs,
    idleExpiresAt: isoTime,
    absoluteExpiresAt: isoTime,
    serverTime: isoTime,
  },
} as const;

export const adminSessionSchema = {
  $id: 'adminSession',
  description: 'The admin view of a session (never the token), with `endedAt` and `reason` once ended.',
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'subject',
    'policy',
    'createdAt',
    'lastActivityAt',
    'lastSeenAt',
    'attributes',
    'idleExpiresAt',
    'absoluteExpiresAt',
  ],
  properties: {
    id: { type: 'string' },
    subject: { type: 'string' },
    policy: { type: 'string' },
    createdAt: isoTime,
    lastActivityAt: isoTime,
    lastSeenAt: isoTime,
    attributes: { type: 'object', additionalProperties: true },
    idleExpiresAt: isoTime,
    absoluteExpiresAt: isoTime,
    endedAt: isoTime,
    reason: { type: 'string', enum: END_REASONS },
  },
} as const;

export const errorSchema = {
  $id: 'error',
  description: 'An error: a stable `code`, a `message`, and for some codes more fields.',
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: ERROR_CODES },
        message: { type: 'string' },
        /** `session_ended`: why and when. */
        reason: { type: 'string', enum: END_REASONS },
        endedAt: isoTime,
        /** `validation_failed`: each problem with its field and rule. */
        details: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['field', 'rule', 'message'],
            properties: {
              field: { type: 'string' },
              rule: { type: 'string' },
              message: { type: 'string' },
            },
          },
        },
      },
    },
  },
} as const;

/** The shared schemas in the order they must be added. */
export const SHARED_SCHEMAS = [statusSchema, adminSessionSchema, errorSchema] as const;

export const ref = {
  status: { $ref: 'status#' },
  adminSession: { $ref: 'adminSession#' },
  error: { $ref: 'error#' },
} as const;

/** Every error status a route can answer with, shaped as `error`. */
export const errorResponses = { '4xx': ref.error, '5xx': ref.error } as const;

export function addSharedSchemas(app: FastifyInstance): void {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
}
