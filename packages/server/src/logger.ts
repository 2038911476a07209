import type { FastifyRequest } from 'fastify';

/**
 * Logging that cannot leak a credential, with three locks: requests are serialized without headers
 * (method, path without query, route, address); pino `redact` removes credential-named fields if
 * some code logs them anyway; and every log *message* is scrubbed of token-shaped strings and of the
 * configured secrets (a token pasted into a URL path, an API key echoed in an error).
 */

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  'authorization',
  'cookie',
  'token',
  'apiKey',
  'refreshToken',
  '*.authorization',
  '*.cookie',
  '*.token',
  '*.apiKey',
  '*.refreshToken',
];

const TOKEN_LIKE = /vgl_[A-Za-z0-9_-]{8,}/g;

export type Scrub = (text: string) => string;

export function scrubber(secrets: readonly string[]): Scrub {
  const literal = secrets.filter((secret) => secret.length > 0);
  return (text) => {
    let clean = text.replace(TOKEN_LIKE, 'vgl_[redacted]');
    for (const secret of literal) {
      if (clean.includes(secret)) clean = clean.split(secret).join('[redacted]');
    }
    return clean;
  };
}

/** The pino options for Fastify's `logger`, or `false`. `option` adds to (never removes) the locks. */
export function loggerOptions(
  option: boolean | object | undefined,
  secrets: readonly string[],
): false | Record<string, unknown> {
  if (option === undefined || option === false) return false;
  const given = (option === true ? {} : option) as Record<string, unknown>;
  const scrub = scrubber(secrets);
  const givenRedact = given.redact;
  const extraPaths = Array.isArray(givenRedact)
    ? givenRedact
    : ((givenRedact as { paths?: string[] } | undefined)?.paths ?? []);
  return {
    level: 'info',
    ...given,
    redact: { paths: [...REDACT_PATHS, ...extraPaths], censor: '[redacted]' },
    serializers: {
      ...(given.serializers as object | undefined),
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: scrub(pathOnly(request.url)),
        route: request.routeOptions?.url,
        remoteAddress: request.ip,
      }),
    },
    hooks: {
      logMethod(this: unknown, args: unknown[], method: (...args: unknown[]) => void) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === 'string' ? scrub(arg) : arg)),
        );
      },
    },
  };
}

/** The path of a URL without its query string (a query may carry a subject; a path is enough). */
function pathOnly(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
