import { adminView, VigilError } from '@vigil/core';
import type { FastifyPluginAsync } from 'fastify';
import { checkJsonObjectSize, checkWellFormed, LIMITS } from '../limits.js';
import { errorResponses, ref } from '../schemas.js';
import type { SessionService } from '../sessions-service.js';

/** The backend's API (behind the API key): create, list, read and revoke sessions. */

const subject = { type: 'string', minLength: 1, maxLength: LIMITS.subjectLength } as const;

export const createSessionSchema = {
  summary: 'Create a session',
  description:
    'Called by the application backend when a user signs in. The token is shown once, here: only its hash is stored.',
  tags: ['Sessions'],
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['subject'],
    properties: {
      subject,
      policy: { type: 'string', minLength: 1, maxLength: LIMITS.policyNameLength },
      attributes: { type: 'object' },
    },
  },
  response: {
    201: {
      type: 'object',
      additionalProperties: false,
      required: ['token', 'session'],
      properties: { token: { type: 'string' }, session: ref.adminSession },
    },
    ...errorResponses,
  },
} as const;

export const listSessionsSchema = {
  summary: "List a subject's sessions",
  description: 'Live and ended ones (ended ones are kept for `endedRetention`), oldest first.',
  tags: ['Sessions'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    required: ['subject'],
    properties: { subject },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['sessions'],
      properties: { sessions: { type: 'array', items: ref.adminSession } },
    },
    ...errorResponses,
  },
} as const;

const idParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export const getSessionSchema = {
  summary: 'Read a session',
  description: 'Touches nothing.',
  tags: ['Sessions'],
  params: idParams,
  response: { 200: ref.adminSession, ...errorResponses },
} as const;

export const revokeSessionSchema = {
  summary: 'Revoke a session',
  description:
    'Durable before the answer. Revoking an ended session changes nothing (it keeps its first reason).',
  tags: ['Sessions'],
  params: idParams,
  response: { 204: { type: 'null', description: 'Revoked.' }, ...errorResponses },
} as const;

export const revokeSubjectSchema = {
  summary: 'Revoke every session of a subject',
  description: 'Log out everywhere. `revoked` counts the sessions that were live before the call.',
  tags: ['Sessions'],
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['subject'],
    properties: { subject },
  },
  response: {
    200: {
      type: 'object',
      additionalProperties: false,
      required: ['revoked'],
      properties: { revoked: { type: 'integer', minimum: 0 } },
    },
    ...errorResponses,
  },
} as const;

interface CreateBody {
  subject: string;
  policy?: string;
  attributes?: Record<string, unknown>;
}

export interface SessionsRoutesOptions {
  service: SessionService;
}

export const sessionsRoutes: FastifyPluginAsync<SessionsRoutesOptions> = async (app, { service }) => {
  app.post<{ Body: CreateBody }>('/v1/sessions', { schema: createSessionSchema }, async (request, reply) => {
    checkWellFormed(request.body.subject, 'body.subject');
    checkWellFormed(request.body.policy, 'body.policy');
    checkJsonObjectSize(request.body.attributes, 'body.attributes');
    const { token, record } = await service.create(request.body);
    return reply.code(201).send({ token, session: adminView(record) });
  });

  app.get<{ Querystring: { subject: string } }>(
    '/v1/sessions',
    { schema: listSessionsSchema },
    async (request) => {
      const sessions = await service.list(request.query.subject);
      return { sessions: sessions.map(adminView) };
    },
  );

  app.get<{ Params: { id: string } }>('/v1/sessions/:id', { schema: getSessionSchema }, async (request) => {
    const record = await service.find(request.params.id);
    if (record === null) throw new VigilError('not_found', 'No such session.');
    return adminView(record);
  });

  app.delete<{ Params: { id: string } }>(
    '/v1/sessions/:id',
    { schema: revokeSessionSchema },
    async (request, reply) => {
      if (!(await service.revoke(request.params.id))) throw new VigilError('not_found', 'No such session.');
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { subject: string } }>(
    '/v1/subjects/:subject/sessions',
    { schema: revokeSubjectSchema },
    async (request) => ({ revoked: await service.revokeAll(request.params.subject) }),
  );
};
