import {
  SessionEndedError,
  StoreUnavailableError,
  sessionStatus,
  type VigilConfig,
  VigilError,
} from '@vigil/core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthorizeOutcome, VigilMetrics } from '../metrics.js';
import { errorResponses, ref } from '../schemas.js';
import type { SessionService } from '../sessions-service.js';

/**
 * Forward-auth (`GET /v1/authorize`) for nginx `auth_request`, Traefik `forwardAuth` and Envoy
 * `ext_authz`: one check per proxied request, so it does one store call (a touch, coalesced) and no
 * rate limiting. It answers every method, because Envoy's HTTP `ext_authz` sends the original
 * method, and `/v1/authorize/<original path>`, because Envoy appends the original path to its
 * `path_prefix`.
 */

export const AUTHORIZE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export const authorizeSchema = {
  summary: 'Check a proxied request (forward auth)',
  description:
    'For nginx `auth_request`, Traefik `forwardAuth` and Envoy `ext_authz`: `200` with `X-Vigil-Subject` and `X-Vigil-Session`, or `401` with `X-Vigil-Reason`. Counts as activity unless passive (`X-Vigil-Activity: passive`, or a passive path in `X-Original-URI` / `X-Forwarded-Uri`). Any method; any suffix path (Envoy appends the original one).',
  tags: ['Forward auth'],
  // The check reads only headers; query strings (and the suffix path) are the proxied request's.
  // (`properties: {}` names no parameter, so the OpenAPI document lists none.)
  querystring: { type: 'object', additionalProperties: true, properties: {} },
  response: { 200: ref.status, ...errorResponses },
} as const;

/** Response headers (lower case, as Node sends them; HTTP header names are case-insensitive). */
export const AUTHORIZE_HEADERS = {
  subject: 'x-vigil-subject',
  session: 'x-vigil-session',
  expiresInMs: 'x-vigil-expires-in-ms',
  reason: 'x-vigil-reason',
} as const;

type PathMatcher = VigilConfig['passivePaths'];

export interface AuthorizeRoutesOptions {
  service: SessionService;
  metrics: VigilMetrics;
  passivePaths: PathMatcher;
}

const PREFIX = '/v1/authorize';

/** The proxied request's URI: `X-Original-URI` (nginx), else `X-Forwarded-Uri` (Traefik), else the suffix (Envoy). */
export function forwardedUri(request: FastifyRequest): string | null {
  const original = request.headers['x-original-uri'];
  if (typeof original === 'string' && original.length > 0) return original;
  const forwarded = request.headers['x-forwarded-uri'];
  if (typeof forwarded === 'string' && forwarded.length > 0) return forwarded;
  const suffix = request.url.slice(PREFIX.length);
  return suffix.startsWith('/') ? suffix : null;
}

/** Passive: `X-Vigil-Activity: passive`, or a forwarded URI that matches a passive pattern. */
export function isPassive(request: FastifyRequest, passivePaths: PathMatcher): boolean {
  const activity = request.headers['x-vigil-activity'];
  if (typeof activity === 'string' && activity.length > 0) {
    const value = activity.trim().toLowerCase();
    // A repeated header arrives joined with commas ("passive, passive").
    if (value === 'passive' || value.split(',').some((part) => part.trim() === 'passive')) return true;
  }
  if (passivePaths.patterns.length === 0) return false;
  const uri = forwardedUri(request);
  return uri !== null && passivePaths.matches(uri);
}

const HEADER_SAFE = /^[\x21-\x24\x26-\x7e]*$/;

/**
 * A subject as a header value: printable ASCII as is, every other byte of its UTF-8 (and `%`, space,
 * controls) percent-encoded, so `decodeURIComponent(header)` gives the subject back.
 */
export function subjectHeader(subject: string): string {
  if (HEADER_SAFE.test(subject)) return subject;
  let out = '';
  for (const byte of Buffer.from(subject, 'utf8')) {
    out +=
      byte > 0x20 && byte < 0x7f && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function outcomeOf(error: unknown): AuthorizeOutcome | null {
  if (error instanceof StoreUnavailableError) return 'unavailable';
  if (error instanceof SessionEndedError) return 'ended';
  if (error instanceof VigilError && error.code === 'unauthenticated') return 'unauthenticated';
  return null;
}

export const authorizeRoutes: FastifyPluginAsync<AuthorizeRoutesOptions> = async (
  app,
  { service, metrics, passivePaths },
) => {
  // A refusal says why in a header too, so a proxy can act on it (nginx: `auth_request_set`) without
  // parsing the body. Runs for refusals from the token hook as well as from the handler.
  app.addHook('onError', async (request, reply, error) => {
    if (error instanceof SessionEndedError) reply.header(AUTHORIZE_HEADERS.reason, error.reason);
    else if (error instanceof VigilError && error.status === 401) {
      reply.header(AUTHORIZE_HEADERS.reason, 'unauthenticated');
    }
    const outcome = outcomeOf(error);
    if (outcome !== null) metrics.authorize(isPassive(request, passivePaths) ? 'passive' : 'active', outcome);
  });

  async function authorize(request: FastifyRequest, reply: FastifyReply) {
    const id = request.vigilSessionId;
    if (id === null) throw new Error('session-token hook did not run');
    const passive = isPassive(request, passivePaths);
    const now = service.now();
    const { record, policy } = await service.authorize(id, passive ? 'sleeping' : 'active', now);
    const status = sessionStatus(record, policy, now);
    metrics.authorize(passive ? 'passive' : 'active', 'ok');
    reply
      .header(AUTHORIZE_HEADERS.subject, subjectHeader(record.subject))
      .header(AUTHORIZE_HEADERS.session, record.id)
      .header(
        AUTHORIZE_HEADERS.expiresInMs,
        String(Math.min(status.idleExpiresInMs, status.absoluteExpiresInMs)),
      );
    return status;
  }

  for (const url of [PREFIX, `${PREFIX}/*`]) {
    app.route({
      method: [...AUTHORIZE_METHODS],
      url,
      exposeHeadRoute: false,
      schema: authorizeSchema,
      handler: authorize,
    });
  }
};
